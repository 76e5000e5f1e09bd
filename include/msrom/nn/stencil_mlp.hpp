#pragma once
// The stencil-shared MLP: ONE nn::Mlp applied at every cell of a periodic grid to the cell's neighbourhood and
// to global inputs broadcast to every cell, i.e. a translation-invariant, local nonlinear operator (the macro
// drift of the multiscale model, docs/vi.md). In 1-D, radius r, C channels per cell, G globals:
//
//   y[:, j] = NN( x[:, j-r], ..., x[:, j+r], g ),      indices mod n,   j = 0..n-1
//
// Layout as nn::Conv1d: a field is one column of C n entries, channel fastest (entry (c, j) at j C + c); the
// output has out_channels per cell in the same layout; g is a G x B matrix (G may be 0). The network input
// for cell j is [x[:, j-r]; ...; x[:, j+r]; g] ((2r+1) C + G entries).
//
// Batched as ONE Mlp call over n B columns (cells x samples): the gathered input is ((2r+1) C + G) x (n B),
// column j + n b, and the Mlp's output (out x n B) is already the output layout (out n) x B.
//
// Back-propagation: nn::Mlp::backward gives the parameter gradient and the gathered-input cotangent dI; then
//   dX[:, (j + q - r) mod n] += dI[q C .. q C + C - 1, j + n b]   (scatter-add over the stencil),
//   dG[:, b] = sum_j dI[tail, j + n b].
//
// Beyond the grid's ends (StencilBoundary): the indices wrap (periodic, the paper's); or, for a field with walls
// or outflow whose far end is not its neighbour, the neighbours there are zeros (zero; they take no cotangent)
// or copies of the end cell (replicate: index clamped to 0..n-1, its cotangent goes to the end cell).
//
// Parameters: the Mlp's flat vector (params() is mlp().params()).
#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "msrom/nn/mlp.hpp"

namespace msrom::nn {

enum class StencilBoundary { periodic, zero, replicate };
std::string to_string(StencilBoundary b);
// InputError naming the value unless periodic, zero or replicate.
StencilBoundary stencil_boundary_from_string(const std::string& name);

class StencilTape {
 public:
  Eigen::Index batch() const { return batch_; }
  Eigen::Map<const Eigen::MatrixXd> output() const;

 private:
  friend class StencilMlp;
  Tape mlp_;
  Eigen::VectorXd in_;
  mutable Eigen::VectorXd dy_;  // backward scratch (one tape serves one thread)
  mutable Eigen::MatrixXd dI_;
  Eigen::Index n_ = 0, batch_ = 0;
  int out_ = 0;
};

class StencilMlp {
 public:
  StencilMlp() = default;
  // widths of the Mlp: {(2 radius + 1) channels + globals, hidden..., out_channels}. InputError for
  // radius < 0 or non-positive channel counts.
  StencilMlp(int channels, int radius, int globals, const std::vector<int>& hidden, int out_channels,
             Activation activation, std::uint64_t seed, StencilBoundary boundary = StencilBoundary::periodic);

  int channels() const { return channels_; }
  int radius() const { return radius_; }
  int globals() const { return globals_; }
  StencilBoundary boundary() const { return boundary_; }
  int out_channels() const { return net_.output_dim(); }
  const Mlp& mlp() const { return net_; }
  Mlp& mlp() { return net_; }
  Eigen::Index num_params() const { return net_.num_params(); }
  Eigen::VectorXd& params() { return net_.params(); }
  const Eigen::VectorXd& params() const { return net_.params(); }

  // Training forward: X (C n) x B, G globals x B; returns (out n) x B, a view into the tape.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X,
                                            const Eigen::Ref<const Eigen::MatrixXd>& G, StencilTape& tape) const;
  // grad += dLoss/dparams (accumulated); *dX, *dG overwritten (resized) unless null.
  void backward(const StencilTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Eigen::MatrixXd* dG, Workspace& ws) const;
  // Inference (nn::Mlp's kernels, bitwise independent of the batch): Y must be (out n) x B. `scratch` holds
  // the gathered input.
  void forward(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& G,
               Eigen::Ref<Eigen::MatrixXd> Y, Eigen::VectorXd& scratch, Workspace& ws) const;

 private:
  int channels_ = 1, radius_ = 0, globals_ = 0;
  StencilBoundary boundary_ = StencilBoundary::periodic;
  Mlp net_;
  Eigen::Index gather(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& G,
                      Eigen::VectorXd& in) const;
};

}  // namespace msrom::nn
