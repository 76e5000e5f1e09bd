#pragma once
// The one multilayer perceptron of msrom: the KGMM score fit (eps_hat: R^d -> R^d), the neural ODE
// (10-256-256-10) and the VI drift all use this type.
//
// Network with widths {n_0, n_1, ..., n_L} (L affine layers), batches as columns (X is n_0 x B):
//
//   a_0 = X,   z_l = W_l a_l + b_l 1^T,   a_{l+1} = phi(z_l)  (l < L-1),   Y = a_L = z_{L-1}
//
// W_l is n_{l+1} x n_l, b_l has n_{l+1} entries; the hidden layers share one activation phi, the output
// layer is the identity. One matrix product per layer and batch (not per sample).
//
// Back-propagation (vector-Jacobian products). Given dY = dLoss/dY (n_L x B):
//
//   delta_{L-1} = dY,   dW_l = delta_l a_l^T,   db_l = delta_l 1,
//   delta_{l-1} = (W_l^T delta_l) .* phi'(z_{l-1}),   dX = W_0^T delta_0
//
// Parameters live in ONE flat vector, layer by layer, [vec(W_0) (column-major), b_0, vec(W_1), b_1, ...],
// so that the optimiser, the gradient reduction over ranks, checkpoints and files see a single vector;
// weight()/bias() are Eigen::Map views into it, and gradients use the same layout (weight_offset()).
//
// Initialisation: Xavier/Glorot normal, W_l ~ N(0, 2 / (n_l + n_{l+1})), b_l = 0, drawn from
// Philox(seed, l, Purpose::training) at step 0 in column-major order: the same weights on every rank and for
// every rank count, without a broadcast.
//
// Allocation-free hot path: forward() and backward() write into caller-owned Tape/Workspace buffers that
// only grow (a smaller batch reuses the storage), so after the first call a training step allocates nothing.
#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace msrom::h5 {
class File;
class OutputFile;
}  // namespace msrom::h5

namespace msrom::nn {

// swish(x) = x sigmoid(x); leaky_relu(x) = x for x > 0, 0.01 x otherwise.
enum class Activation { swish, leaky_relu, tanh, identity };

std::string to_string(Activation a);
// "swish", "leaky_relu", "tanh", "identity"; InputError for anything else.
Activation activation_from_string(const std::string& name);

// Reusable scratch for the inference forward pass and for backward(): two ping-pong buffers. Sized on first
// use, then only grown.
class Workspace {
 public:
  Eigen::Map<Eigen::MatrixXd> buffer(int which, Eigen::Index rows, Eigen::Index cols);

 private:
  Eigen::VectorXd buf_[2];
};

// What a training forward pass keeps for backward(): the input of every layer, a_0 = X (a copy), ..., a_L = Y,
// and phi'(z_l) of every hidden layer (computed in the forward pass, where sigmoid(z) is already at hand, so
// backward needs no transcendental functions). Valid until the next forward() into the same tape.
class Tape {
 public:
  Eigen::Index batch() const { return batch_; }
  // a_l, n_l x B, l = 0..L.
  Eigen::Map<const Eigen::MatrixXd> activation(int l) const;
  Eigen::Map<const Eigen::MatrixXd> output() const { return activation(static_cast<int>(a_.size()) - 1); }

 private:
  friend class Mlp;
  std::vector<Eigen::VectorXd> a_, d_;  // storage (capacity), viewed as rows_[l] x batch_
  std::vector<Eigen::Index> rows_;
  Eigen::Index batch_ = 0;
  Eigen::Map<Eigen::MatrixXd> a(int l) { return {a_[l].data(), rows_[l], batch_}; }
  Eigen::Map<Eigen::MatrixXd> d(int l) { return {d_[l].data(), rows_[l + 1], batch_}; }
  Eigen::Map<const Eigen::MatrixXd> d(int l) const { return {d_[l].data(), rows_[l + 1], batch_}; }
};

class Mlp {
 public:
  Mlp() = default;  // an empty placeholder: assign a real network before use
  // widths = {in, h_1, ..., out}, at least 2 entries, all >= 1 (InputError otherwise). Xavier-initialised
  // from `seed`.
  Mlp(std::vector<int> widths, Activation activation, std::uint64_t seed);

  const std::vector<int>& widths() const { return widths_; }
  int num_layers() const { return widths_.empty() ? 0 : static_cast<int>(widths_.size()) - 1; }
  int input_dim() const { return widths_.front(); }
  int output_dim() const { return widths_.back(); }
  Activation activation() const { return activation_; }

  Eigen::Index num_params() const { return params_.size(); }
  // The flat parameter vector. Change values freely; do not resize it.
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }

  // Xavier normal weights, zero biases (see top of file); overwrites all parameters.
  void initialize(std::uint64_t seed);

  // Views of layer l (0-based) into params(), and where they sit in any flat vector of this layout
  // (gradients included).
  Eigen::Map<Eigen::MatrixXd> weight(int l);
  Eigen::Map<const Eigen::MatrixXd> weight(int l) const;
  Eigen::Map<Eigen::VectorXd> bias(int l);
  Eigen::Map<const Eigen::VectorXd> bias(int l) const;
  Eigen::Index weight_offset(int l) const { return offsets_[l]; }
  Eigen::Index bias_offset(int l) const { return offsets_[l] + Eigen::Index{widths_[l]} * widths_[l + 1]; }

  // ---- inference (nothing kept for backward)
  // Runs the kernel chosen in nn/kernel.hpp, not Eigen: each column's result is the same bits whatever batch
  // it is in (so ensembles are identical for any rank count), and differs from the training forward below by
  // rounding only (~1e-15 relative).
  // Y = f(X); Y must already be out x B (it may be a block of a larger matrix). No allocation once `ws`
  // has seen a batch this large.
  void forward(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Ref<Eigen::MatrixXd> Y, Workspace& ws) const;
  // Convenience: uses a workspace inside this object, so concurrent calls on ONE Mlp from several threads
  // are not allowed (use the overload above).
  Eigen::MatrixXd forward(const Eigen::Ref<const Eigen::MatrixXd>& X) const;

  // ---- training
  // Y = f(X), recording into `tape` what backward() needs. The returned view points into the tape.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, Tape& tape) const;

  // Vector-Jacobian products of the pass recorded in `tape`, for the cotangent dY (out x B):
  //   grad += dLoss/dparams   ACCUMULATED: zero it first for one batch; accumulating lets the NODE sum over
  //                           stages and time steps and lets a caller sum over blocks without copies.
  //                           grad must have num_params() entries (a Map/segment of a bigger buffer is fine).
  //   *dX   = dLoss/dX        OVERWRITTEN (resized to in x B); skipped when dX is null.
  void backward(const Tape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Workspace& ws) const;
  // Same, with the workspace inside this object (not for concurrent use on one Mlp).
  void backward(const Tape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX = nullptr) const;

  // ---- files
  // Writes group/params [P] (the flat vector), group/widths [L+1] and the attribute `activation` (string) on
  // the group. Collective over the file's communicator: every rank calls it with the same network.
  // (widths is a dataset, not an attribute, because h5::File reads only scalar numeric attributes.)
  void save(h5::OutputFile& out, const std::string& group) const;
  // Reads what save() wrote; InputError naming the file and group for missing objects, bad widths, an
  // unknown activation, a parameter count that does not match the widths, or non-finite parameters.
  static Mlp load(const h5::File& file, const std::string& group);

 private:
  std::vector<int> widths_;
  Activation activation_ = Activation::identity;
  Eigen::VectorXd params_;
  std::vector<Eigen::Index> offsets_;  // start of W_l in the flat vector
  int max_width_ = 0;
  mutable Workspace scratch_;

  void check_input(const char* what, Eigen::Index rows) const;
};

}  // namespace msrom::nn
