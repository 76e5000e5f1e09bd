#pragma once
// The multiscale model's spatial layers on a periodic grid of 1 or 2 dimensions, behind one interface: each
// class holds the 1-D layer (nn/conv.hpp, nn/filter.hpp, nn/stencil_mlp.hpp) or the 2-D one (nn/conv2d.hpp)
// and the grid its input lives on, so the model, the ELBO and the rollouts are written once for both
// (docs/vi.md). A 1-D layer here computes exactly what the 1-D class computes (the same bits).
//
// Grid: nx x ny points, x fastest (a field is one column, entry (c, i, j) at (j nx + i) C + c); ny = 1 and
// dims = 1 for a 1-D field. A stride s divides every axis of the grid (in 2-D both: s^2 fewer points).
#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "msrom/nn/conv.hpp"
#include "msrom/nn/conv2d.hpp"
#include "msrom/nn/filter.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/nn/stencil_mlp.hpp"

namespace msrom::nn {

struct Grid {
  int dims = 1;
  Eigen::Index nx = 0, ny = 1;
  Eigen::Index size() const { return nx * ny; }
  // The grid after a stride s along every axis (std::invalid_argument unless s divides each).
  Grid coarsened(int s) const;
  // The grid after a transposed stride s (s times the points along every axis).
  Grid refined(int s) const;
  bool operator==(const Grid& o) const { return dims == o.dims && nx == o.nx && ny == o.ny; }
};

struct GridConvTape {
  ConvTape t1;
  Conv2dTape t2;
};

// A convolution on inputs over `in` (fixed at construction): the 1-D layer L1 or the 2-D layer L2 (square
// kernel, the same stride on both axes). GridConv: Conv1d / Conv2d, the output grid coarsened by the
// stride. GridConvTranspose: ConvTranspose1d / ConvTranspose2d, the output grid refined by it.
template <class L1, class L2, bool Transposed>
class GridConvLayer {
 public:
  GridConvLayer() = default;
  GridConvLayer(const Grid& in, int in_channels, int out_channels, int kernel, int stride, Activation activation,
                std::uint64_t seed);
  const Grid& input_grid() const { return in_; }
  const Grid& output_grid() const { return out_; }
  Eigen::Index num_params() const { return params().size(); }
  Eigen::VectorXd& params() { return in_.dims == 1 ? c1_.params() : c2_.params(); }
  const Eigen::VectorXd& params() const { return in_.dims == 1 ? c1_.params() : c2_.params(); }
  // W and b in the layout of L1 / L2 (the same for kernel 1): C_out x k^dims C_in (conv), C_in x k^dims C_out
  // (transposed; b has C_out).
  Eigen::Map<Eigen::MatrixXd> weight() { return in_.dims == 1 ? c1_.weight() : c2_.weight(); }
  Eigen::Map<const Eigen::MatrixXd> weight() const { return in_.dims == 1 ? c1_.weight() : c2_.weight(); }
  Eigen::Map<Eigen::VectorXd> bias() { return in_.dims == 1 ? c1_.bias() : c2_.bias(); }
  Eigen::Map<const Eigen::VectorXd> bias() const { return in_.dims == 1 ? c1_.bias() : c2_.bias(); }
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, GridConvTape& tape) const;
  void backward(const GridConvTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Workspace& ws) const;

 private:
  Grid in_, out_;
  L1 c1_;
  L2 c2_;
};
using GridConv = GridConvLayer<Conv1d, Conv2d, false>;
using GridConvTranspose = GridConvLayer<ConvTranspose1d, ConvTranspose2d, true>;
extern template class GridConvLayer<Conv1d, Conv2d, false>;
extern template class GridConvLayer<ConvTranspose1d, ConvTranspose2d, true>;

// GaussianFilter or GaussianFilter2d on fields over the FINE grid `fine`.
class GridFilter {
 public:
  GridFilter() = default;
  GridFilter(const Grid& fine, double std0);
  const Grid& grid() const { return fine_; }
  int half_width() const { return axis().half_width(); }
  int width() const { return axis().width(); }
  double std() const { return axis().std(); }
  const Eigen::VectorXd& kernel() const { return axis().kernel(); }  // the 1-D kernel (2-D: its outer product)
  Eigen::Index num_params() const { return 1; }
  Eigen::VectorXd& params() { return fine_.dims == 1 ? f1_.params() : f2_.params(); }
  const Eigen::VectorXd& params() const { return fine_.dims == 1 ? f1_.params() : f2_.params(); }
  // s^dims: the transposed filter G_s^T of a constant is that constant / s^dims (the macro decoder's factor).
  double transpose_scale(int stride) const;
  void apply(const Eigen::Ref<const Eigen::MatrixXd>& X, int stride, Eigen::Ref<Eigen::MatrixXd> Z) const;
  void apply_transpose(const Eigen::Ref<const Eigen::MatrixXd>& Z, int stride, Eigen::Ref<Eigen::MatrixXd> X) const;
  double log_std_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& dZ,
                          int stride) const;

 private:
  Grid fine_;
  GaussianFilter f1_;
  GaussianFilter2d f2_;
  const GaussianFilter& axis() const { return fine_.dims == 1 ? f1_ : f2_.axis_filter(); }
};

struct GridStencilTape {
  StencilTape t1;
  StencilTape2d t2;
};

// StencilMlp or StencilMlp2d ((2r+1) or (2r+1)^2 neighbours, all channels, plus globals) over `grid`.
class GridStencilMlp {
 public:
  GridStencilMlp() = default;
  // boundary: what the stencils read beyond the grid's edges (nn::StencilMlp).
  GridStencilMlp(const Grid& grid, int channels, int radius, int globals, const std::vector<int>& hidden,
                 int out_channels, Activation activation, std::uint64_t seed,
                 StencilBoundary boundary = StencilBoundary::periodic);
  const Grid& grid() const { return grid_; }
  int channels() const { return grid_.dims == 1 ? s1_.channels() : s2_.channels(); }
  int radius() const { return grid_.dims == 1 ? s1_.radius() : s2_.radius(); }
  int globals() const { return grid_.dims == 1 ? s1_.globals() : s2_.globals(); }
  StencilBoundary boundary() const { return grid_.dims == 1 ? s1_.boundary() : s2_.boundary(); }
  // Network inputs from the stencil (before the globals): (2r+1)^dims channels.
  int stencil_inputs() const;
  const Mlp& mlp() const { return grid_.dims == 1 ? s1_.mlp() : s2_.mlp(); }
  Mlp& mlp() { return grid_.dims == 1 ? s1_.mlp() : s2_.mlp(); }
  Eigen::Index num_params() const { return mlp().num_params(); }
  Eigen::VectorXd& params() { return mlp().params(); }
  const Eigen::VectorXd& params() const { return mlp().params(); }
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X,
                                            const Eigen::Ref<const Eigen::MatrixXd>& G, GridStencilTape& tape) const;
  void backward(const GridStencilTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY,
                Eigen::Ref<Eigen::VectorXd> grad, Eigen::MatrixXd* dX, Eigen::MatrixXd* dG, Workspace& ws) const;
  void forward(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& G,
               Eigen::Ref<Eigen::MatrixXd> Y, Eigen::VectorXd& scratch, Workspace& ws) const;

 private:
  Grid grid_;
  StencilMlp s1_;
  StencilMlp2d s2_;
};

}  // namespace msrom::nn
