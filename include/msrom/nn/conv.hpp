#pragma once
// One-dimensional convolution and transposed convolution with circular padding, stride and several channels:
// the encoder and decoder CNNs of the multiscale model (docs/vi.md), on periodic fine grids.
//
// Layout. A field of C channels on n points is ONE column of C n entries, CHANNEL FASTEST: entry (c, i) sits
// at i C + c (the column is a C x n column-major matrix). Batches are columns, as in nn::Mlp. With C = 1 the
// column is just the field.
//
// Conv1d, C_in -> C_out channels, odd kernel k = 2p + 1, stride s, n points in (n divisible by s), m = n / s
// points out:
//
//   y[o, j] = phi( b[o] + sum_{r=0..k-1} sum_c W[o, r C_in + c] x[c, (s j + r - p) mod n] ),   j = 0..m-1
//
// (PyTorch's Conv1d(padding=p, padding_mode='circular', stride=s) computes the same sum; output j is centred
// on input point s j.)
//
// ConvTranspose1d, C_in -> C_out channels, m points in, n = s m points out: the ADJOINT of the Conv1d
// C_out -> C_in with the same weight W (C_in x k C_out), plus its own bias and activation:
//
//   y[c, i] = phi( b[c] + sum_{o, j, r : (s j + r - p) mod n = i} W[o, r C_out + c] x[o, j] )
//
// so that <Conv_W x, y> = <x, ConvT_W y> when the biases are 0 and phi is the identity.
//
// Implementation (im2col). Per sample, the circularly padded input (n + 2p points) makes the k taps of output
// j ONE contiguous block of k C values, so the im2col matrix (k C_in) x (m B) is built by block copies and
// the convolution of the whole batch is one matrix product W cols (C_out x m B), which is already the output
// layout. The transposed convolution computes cols = W^T X and scatters (col2im) and folds the padding back.
//
// Back-propagation, with dA = dY .* phi'(pre-activation):
//   Conv1d:           dW += dA cols^T,  db += dA 1,  dX = col2im(W^T dA)
//   ConvTranspose1d:  dW += X im2col(dA)^T,  db += dA 1 (per channel),  dX = W im2col(dA)
//
// Parameters: one flat vector per layer, [vec(W) (column-major), b], gradients in the same layout and
// ACCUMULATED (as nn::Mlp::backward). Initialisation: Xavier normal, W ~ N(0, 2 / (k C_in + k C_out)),
// b = 0, from Philox(seed, 0, training) at step 0.
//
// Allocation-free once the tape and workspace have seen a batch this large (buffers only grow).
#include <Eigen/Core>

#include <cstdint>

#include "msrom/nn/mlp.hpp"

namespace msrom::nn {

// z <- phi(z), dphi <- phi'(z), element-wise: the hidden-layer activations of nn::Mlp, same formulas.
void activate(Activation act, Eigen::Ref<Eigen::MatrixXd> z, Eigen::Ref<Eigen::MatrixXd> dphi);

// im2col of a batch (see top of file): X is (C n) x B, cols (k C) x (m B) with m = n / stride,
//   cols(r C + c, j + m b) = X(((s j + r - p) mod n) C + c, b).
// `pad` is scratch ((n + 2p) C doubles, grown as needed).
void im2col(const Eigen::Ref<const Eigen::MatrixXd>& X, int channels, int kernel, int stride,
            Eigen::Ref<Eigen::MatrixXd> cols, Eigen::VectorXd& pad);
// Its adjoint: X = col2im(cols) (OVERWRITTEN; X.rows() gives C n).
void col2im(const Eigen::Ref<const Eigen::MatrixXd>& cols, int channels, int kernel, int stride,
            Eigen::Ref<Eigen::MatrixXd> X, Eigen::VectorXd& pad);

// What a training forward pass keeps for backward. Valid until the next forward() into the same tape.
class ConvTape {
 public:
  Eigen::Index batch() const { return batch_; }
  Eigen::Map<const Eigen::MatrixXd> output() const { return {out_.data(), out_rows_, batch_}; }

 private:
  friend class Conv1d;
  friend class ConvTranspose1d;
  Eigen::VectorXd cols_;  // Conv1d: im2col of the input; ConvTranspose1d: a copy of the input
  Eigen::VectorXd out_, dphi_;
  mutable Eigen::VectorXd pad_;  // scratch of forward and backward (so one tape serves one thread)
  Eigen::Index in_rows_ = 0, out_rows_ = 0, batch_ = 0;
};

class Conv1d {
 public:
  Conv1d() = default;
  // kernel odd >= 1, stride >= 1, channels >= 1 (InputError otherwise).
  Conv1d(int in_channels, int out_channels, int kernel, int stride, Activation activation, std::uint64_t seed);

  int in_channels() const { return cin_; }
  int out_channels() const { return cout_; }
  int kernel() const { return k_; }
  int stride() const { return s_; }
  Activation activation() const { return act_; }
  // Points out for n points in; std::invalid_argument unless stride divides n.
  Eigen::Index output_length(Eigen::Index n) const;

  Eigen::Index num_params() const { return params_.size(); }
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }
  void initialize(std::uint64_t seed);
  // W (C_out x k C_in) and b, views into params().
  Eigen::Map<Eigen::MatrixXd> weight() { return {params_.data(), cout_, Eigen::Index{k_} * cin_}; }
  Eigen::Map<const Eigen::MatrixXd> weight() const { return {params_.data(), cout_, Eigen::Index{k_} * cin_}; }
  Eigen::Map<Eigen::VectorXd> bias() { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Map<const Eigen::VectorXd> bias() const { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Index bias_offset() const { return Eigen::Index{cout_} * k_ * cin_; }

  // Training forward: X is (C_in n) x B; returns the (C_out m) x B output, a view into the tape.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, ConvTape& tape) const;
  // grad += dLoss/dparams (accumulated); *dX = dLoss/dX (overwritten, resized) unless dX is null.
  void backward(const ConvTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Workspace& ws) const;

 private:
  int cin_ = 0, cout_ = 0, k_ = 1, s_ = 1;
  Activation act_ = Activation::identity;
  Eigen::VectorXd params_;
};

class ConvTranspose1d {
 public:
  ConvTranspose1d() = default;
  ConvTranspose1d(int in_channels, int out_channels, int kernel, int stride, Activation activation, std::uint64_t seed);

  int in_channels() const { return cin_; }
  int out_channels() const { return cout_; }
  int kernel() const { return k_; }
  int stride() const { return s_; }
  Activation activation() const { return act_; }
  Eigen::Index output_length(Eigen::Index m) const { return m * s_; }

  Eigen::Index num_params() const { return params_.size(); }
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }
  void initialize(std::uint64_t seed);
  // W (C_in x k C_out): the weight of the Conv1d C_out -> C_in this layer is the adjoint of. b has C_out.
  Eigen::Map<Eigen::MatrixXd> weight() { return {params_.data(), cin_, Eigen::Index{k_} * cout_}; }
  Eigen::Map<const Eigen::MatrixXd> weight() const { return {params_.data(), cin_, Eigen::Index{k_} * cout_}; }
  Eigen::Map<Eigen::VectorXd> bias() { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Map<const Eigen::VectorXd> bias() const { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Index bias_offset() const { return Eigen::Index{cin_} * k_ * cout_; }

  // Training forward: X is (C_in m) x B; returns the (C_out s m) x B output, a view into the tape.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, ConvTape& tape) const;
  void backward(const ConvTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Workspace& ws) const;

 private:
  int cin_ = 0, cout_ = 0, k_ = 1, s_ = 1;
  Activation act_ = Activation::identity;
  Eigen::VectorXd params_;
};

}  // namespace msrom::nn
