// Circular 1-D convolutions by im2col and nn::gemm (see include/msrom/nn/conv.hpp for the equations).
#include "msrom/nn/conv.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/gemm.hpp"
#include "conv_detail.hpp"

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

constexpr double kLeakySlope = 0.01;  // nn::Mlp's

using detail::check_shape;
using detail::grow;
using detail::wrap;
using detail::xavier;

}  // namespace

void activate(Activation act, Eigen::Ref<MatrixXd> z, Eigen::Ref<MatrixXd> dphi) {
  auto x = z.array();
  auto dx = dphi.array();
  switch (act) {
    case Activation::swish:
      dx = 1.0 / (1.0 + (-x).exp());
      x = x * dx;
      dx = dx + x * (1.0 - dx);
      break;
    case Activation::leaky_relu:
      dx = (x > 0.0).cast<double>() * (1.0 - kLeakySlope) + kLeakySlope;
      x = (x > 0.0).select(x, kLeakySlope * x);
      break;
    case Activation::tanh:
      x = x.tanh();
      dx = 1.0 - x.square();
      break;
    case Activation::identity:
      dx.setOnes();
      break;
  }
}

void im2col(const Eigen::Ref<const MatrixXd>& X, int channels, int kernel, int stride, Eigen::Ref<MatrixXd> cols,
            VectorXd& pad) {
  const Index C = channels, k = kernel, s = stride, p = (k - 1) / 2;
  const Index n = X.rows() / C, m = n / s, B = X.cols();
  if (n * C != X.rows() || m * s != n || cols.rows() != k * C || cols.cols() != m * B)
    throw std::invalid_argument("nn::im2col: shapes do not match");
  double* xp = grow(pad, (n + 2 * p) * C);
  for (Index b = 0; b < B; ++b) {
    const double* x = X.col(b).data();
    for (Index q = 0; q < n + 2 * p; ++q) std::memcpy(xp + q * C, x + wrap(q - p, n) * C, sizeof(double) * C);
    for (Index j = 0; j < m; ++j) std::memcpy(cols.col(j + m * b).data(), xp + s * j * C, sizeof(double) * k * C);
  }
}

void col2im(const Eigen::Ref<const MatrixXd>& cols, int channels, int kernel, int stride, Eigen::Ref<MatrixXd> X,
            VectorXd& pad) {
  const Index C = channels, k = kernel, s = stride, p = (k - 1) / 2;
  const Index n = X.rows() / C, m = n / s, B = X.cols();
  if (n * C != X.rows() || m * s != n || cols.rows() != k * C || cols.cols() != m * B)
    throw std::invalid_argument("nn::col2im: shapes do not match");
  double* xp = grow(pad, (n + 2 * p) * C);
  Eigen::Map<VectorXd> xpv(xp, (n + 2 * p) * C);
  for (Index b = 0; b < B; ++b) {
    xpv.setZero();
    for (Index j = 0; j < m; ++j) xpv.segment(s * j * C, k * C) += cols.col(j + m * b);
    auto x = X.col(b);
    // The interior [p, p + n) maps to 0..n-1 in order; the pads fold onto it.
    x = xpv.segment(p * C, n * C);
    for (Index q = 0; q < p; ++q) x.segment(wrap(q - p, n) * C, C) += xpv.segment(q * C, C);
    for (Index q = n + p; q < n + 2 * p; ++q) x.segment(wrap(q - p, n) * C, C) += xpv.segment(q * C, C);
  }
}

// ------------------------------------------------------------------------------------------------ Conv1d
Conv1d::Conv1d(int in_channels, int out_channels, int kernel, int stride, Activation activation, std::uint64_t seed)
    : cin_(in_channels), cout_(out_channels), k_(kernel), s_(stride), act_(activation) {
  check_shape("nn::Conv1d", cin_, cout_, k_, s_);
  params_.resize(Index{cout_} * k_ * cin_ + cout_);
  initialize(seed);
}

void Conv1d::initialize(std::uint64_t seed) {
  xavier(params_, bias_offset(), double(k_) * cin_, double(k_) * cout_, seed);
}

Index Conv1d::output_length(Index n) const {
  if (n < 1 || n % s_ != 0)
    throw std::invalid_argument("nn::Conv1d: stride " + std::to_string(s_) + " does not divide " + std::to_string(n) +
                                " points");
  return n / s_;
}

Eigen::Map<const MatrixXd> Conv1d::forward(const Eigen::Ref<const MatrixXd>& X, ConvTape& tape) const {
  if (X.rows() % cin_ != 0)
    throw std::invalid_argument("nn::Conv1d::forward: " + std::to_string(X.rows()) + " rows are not " +
                                std::to_string(cin_) + " channels");
  const Index n = X.rows() / cin_, m = output_length(n), B = X.cols();
  tape.in_rows_ = X.rows();
  tape.out_rows_ = cout_ * m;
  tape.batch_ = B;
  Eigen::Map<MatrixXd> cols(grow(tape.cols_, Index{k_} * cin_ * m * B), Index{k_} * cin_, m * B);
  im2col(X, cin_, k_, s_, cols, tape.pad_);
  Eigen::Map<MatrixXd> out(grow(tape.out_, cout_ * m * B), cout_, m * B);
  gemm(weight(), Op::none, cols, Op::none, out, false);
  out.colwise() += bias();
  Eigen::Map<MatrixXd> dphi(grow(tape.dphi_, cout_ * m * B), cout_, m * B);
  activate(act_, out, dphi);
  return tape.output();
}

void Conv1d::backward(const ConvTape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                      MatrixXd* dX, Workspace& ws) const {
  const Index B = tape.batch_, m = tape.out_rows_ / cout_, kc = Index{k_} * cin_;
  if (dY.rows() != tape.out_rows_ || dY.cols() != B || grad.size() != num_params())
    throw std::invalid_argument("nn::Conv1d::backward: dY or grad has the wrong shape");
  auto dA = ws.buffer(0, cout_, m * B);  // the same memory as (C_out m) x B
  Eigen::Map<MatrixXd>(dA.data(), tape.out_rows_, B) =
      dY.cwiseProduct(Eigen::Map<const MatrixXd>(tape.dphi_.data(), tape.out_rows_, B));
  Eigen::Map<const MatrixXd> cols(tape.cols_.data(), kc, m * B);
  Eigen::Map<MatrixXd> dW(grad.data(), cout_, kc);
  gemm(dA, Op::none, cols, Op::transpose, dW, true);
  grad.segment(bias_offset(), cout_).noalias() += dA.rowwise().sum();
  if (dX) {
    auto dcols = ws.buffer(1, kc, m * B);
    gemm(weight(), Op::transpose, dA, Op::none, dcols, false);
    dX->resize(tape.in_rows_, B);
    col2im(dcols, cin_, k_, s_, *dX, tape.pad_);
  }
}

// --------------------------------------------------------------------------------------- ConvTranspose1d
ConvTranspose1d::ConvTranspose1d(int in_channels, int out_channels, int kernel, int stride, Activation activation,
                                 std::uint64_t seed)
    : cin_(in_channels), cout_(out_channels), k_(kernel), s_(stride), act_(activation) {
  check_shape("nn::ConvTranspose1d", cin_, cout_, k_, s_);
  params_.resize(Index{cin_} * k_ * cout_ + cout_);
  initialize(seed);
}

void ConvTranspose1d::initialize(std::uint64_t seed) {
  xavier(params_, bias_offset(), double(k_) * cin_, double(k_) * cout_, seed);
}

Eigen::Map<const MatrixXd> ConvTranspose1d::forward(const Eigen::Ref<const MatrixXd>& X, ConvTape& tape) const {
  if (X.rows() % cin_ != 0)
    throw std::invalid_argument("nn::ConvTranspose1d::forward: " + std::to_string(X.rows()) + " rows are not " +
                                std::to_string(cin_) + " channels");
  const Index m = X.rows() / cin_, n = m * s_, B = X.cols(), kc = Index{k_} * cout_;
  tape.in_rows_ = X.rows();
  tape.out_rows_ = cout_ * n;
  tape.batch_ = B;
  Eigen::Map<MatrixXd> x(grow(tape.cols_, X.size()), X.rows(), B);
  x = X;
  // cols = W^T X (k C_out x m B): X viewed as C_in x (m B) is the same memory.
  Eigen::Map<MatrixXd> cols(grow(tape.dphi_, kc * m * B), kc, m * B);  // dphi_ is free until activate()
  gemm(weight(), Op::transpose, Eigen::Map<const MatrixXd>(x.data(), cin_, m * B), Op::none, cols, false);
  Eigen::Map<MatrixXd> out(grow(tape.out_, cout_ * n * B), cout_ * n, B);
  col2im(cols, cout_, k_, s_, out, tape.pad_);
  Eigen::Map<MatrixXd> outc(tape.out_.data(), cout_, n * B);
  outc.colwise() += bias();
  Eigen::Map<MatrixXd> dphi(grow(tape.dphi_, cout_ * n * B), cout_, n * B);
  activate(act_, outc, dphi);
  return tape.output();
}

void ConvTranspose1d::backward(const ConvTape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                               MatrixXd* dX, Workspace& ws) const {
  const Index B = tape.batch_, n = tape.out_rows_ / cout_, m = n / s_, kc = Index{k_} * cout_;
  if (dY.rows() != tape.out_rows_ || dY.cols() != B || grad.size() != num_params())
    throw std::invalid_argument("nn::ConvTranspose1d::backward: dY or grad has the wrong shape");
  auto dA = ws.buffer(0, tape.out_rows_, B);
  dA = dY.cwiseProduct(Eigen::Map<const MatrixXd>(tape.dphi_.data(), tape.out_rows_, B));
  grad.segment(bias_offset(), cout_).noalias() += Eigen::Map<const MatrixXd>(dA.data(), cout_, n * B).rowwise().sum();
  auto dcols = ws.buffer(1, kc, m * B);
  im2col(dA, cout_, k_, s_, dcols, tape.pad_);
  Eigen::Map<const MatrixXd> x(tape.cols_.data(), cin_, m * B);
  Eigen::Map<MatrixXd> dW(grad.data(), cin_, kc);
  gemm(x, Op::none, dcols, Op::transpose, dW, true);
  if (dX) {
    dX->resize(tape.in_rows_, B);
    Eigen::Map<MatrixXd> dXc(dX->data(), cin_, m * B);
    gemm(weight(), Op::none, dcols, Op::none, dXc, false);
  }
}

}  // namespace msrom::nn
