#include "msrom/nn/mlp.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <new>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/gemm.hpp"
#include "msrom/nn/kernel.hpp"
#include "kernel_detail.hpp"

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using ConstMatView = Eigen::Map<const MatrixXd, 0, Eigen::OuterStride<>>;

namespace {

constexpr double kLeakySlope = 0.01;

// Grows (never shrinks) flat storage to at least n doubles.
inline double* reserve(VectorXd& storage, Index n) {
  if (storage.size() < n) storage.resize(n);
  return storage.data();
}

// In place: z <- phi(z) and d <- phi'(z) (training).
//   swish: s = sigmoid(z), phi = z s, phi' = s + z s (1 - s) = s + phi (1 - s)
//   tanh:  phi' = 1 - phi^2
template <class M, class D>
void activate(Activation act, M&& z, D&& d) {
  auto x = z.array();
  auto dx = d.array();
  switch (act) {
    case Activation::swish:
      dx = 1.0 / (1.0 + (-x).exp());
      x = x * dx;
      dx = dx + x * (1.0 - dx);
      break;
    case Activation::leaky_relu:
      dx = (x > 0.0).template cast<double>() * (1.0 - kLeakySlope) + kLeakySlope;
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

std::string widths_text(const std::vector<int>& w) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < w.size(); ++i) s << (i ? "," : "") << w[i];
  s << ']';
  return s.str();
}

// "/a/b" from "a/b", "/a/b/", "/a/b"; "" for the root.
std::string normalize_group(const std::string& group) {
  std::string g = group;
  while (!g.empty() && g.back() == '/') g.pop_back();
  if (!g.empty() && g.front() != '/') g.insert(g.begin(), '/');
  return g;
}

}  // namespace

std::string to_string(Activation a) {
  switch (a) {
    case Activation::swish: return "swish";
    case Activation::leaky_relu: return "leaky_relu";
    case Activation::tanh: return "tanh";
    case Activation::identity: return "identity";
  }
  return "unknown";
}

Activation activation_from_string(const std::string& name) {
  for (auto a : {Activation::swish, Activation::leaky_relu, Activation::tanh, Activation::identity})
    if (name == to_string(a)) return a;
  throw InputError("unknown activation '" + name + "' (swish, leaky_relu, tanh, identity)");
}

Eigen::Map<MatrixXd> Workspace::buffer(int which, Index rows, Index cols) {
  return {reserve(buf_[which], rows * cols), rows, cols};
}

Eigen::Map<const MatrixXd> Tape::activation(int l) const {
  if (l < 0 || l >= static_cast<int>(a_.size())) throw std::out_of_range("nn::Tape::activation: no layer");
  return {a_[l].data(), rows_[l], batch_};
}

// ------------------------------------------------------------------------------------------------ Mlp
Mlp::Mlp(std::vector<int> widths, Activation activation, std::uint64_t seed)
    : widths_(std::move(widths)), activation_(activation) {
  if (widths_.size() < 2) throw InputError("nn::Mlp: widths " + widths_text(widths_) + " need an input and an output");
  for (int w : widths_)
    if (w < 1) throw InputError("nn::Mlp: widths " + widths_text(widths_) + " must all be >= 1");
  Index n = 0;
  for (int l = 0; l < num_layers(); ++l) {
    offsets_.push_back(n);
    n += Index{widths_[l]} * widths_[l + 1] + widths_[l + 1];
  }
  for (int w : widths_) max_width_ = std::max(max_width_, w);
  params_.resize(n);
  initialize(seed);
}

void Mlp::initialize(std::uint64_t seed) {
  for (int l = 0; l < num_layers(); ++l) {
    const Philox rng(seed, static_cast<std::uint64_t>(l), Purpose::training);
    auto W = weight(l);
    rng.normals(0, W.data(), static_cast<std::size_t>(W.size()));
    W *= std::sqrt(2.0 / (widths_[l] + widths_[l + 1]));
    bias(l).setZero();
  }
}

Eigen::Map<MatrixXd> Mlp::weight(int l) { return {params_.data() + offsets_[l], widths_[l + 1], widths_[l]}; }
Eigen::Map<const MatrixXd> Mlp::weight(int l) const {
  return {params_.data() + offsets_[l], widths_[l + 1], widths_[l]};
}
Eigen::Map<VectorXd> Mlp::bias(int l) { return {params_.data() + bias_offset(l), widths_[l + 1]}; }
Eigen::Map<const VectorXd> Mlp::bias(int l) const { return {params_.data() + bias_offset(l), widths_[l + 1]}; }

void Mlp::check_input(const char* what, Index rows) const {
  if (widths_.empty()) throw std::invalid_argument(std::string("nn::Mlp::") + what + ": empty network");
  if (rows != widths_.front())
    throw std::invalid_argument(std::string("nn::Mlp::") + what + ": input has " + std::to_string(rows) +
                                " rows, the network " + widths_text(widths_) + " expects " +
                                std::to_string(widths_.front()));
}

void Mlp::forward(const Eigen::Ref<const MatrixXd>& X, Eigen::Ref<MatrixXd> Y, Workspace& ws) const {
  check_input("forward", X.rows());
  const Index B = X.cols();
  if (Y.rows() != widths_.back() || Y.cols() != B)
    throw std::invalid_argument("nn::Mlp::forward: output must be " + std::to_string(widths_.back()) + " x " +
                                std::to_string(B));
  const int L = num_layers();
  if (B == 0) return;
  // The inference kernels (kernel.hpp), a layer at a time: hidden layers ping-pong between the two workspace
  // buffers (columns of width n_l), the last one writes straight into Y.
  detail::LayerFn layer = detail::layer_generic;
#if defined(MSROM_NN_SIMD_KERNELS)
  if (kernel() == Kernel::avx512) layer = detail::layer_avx512;
  if (kernel() == Kernel::avx2) layer = detail::layer_avx2;
#endif
  double* buf[2] = {ws.buffer(0, max_width_, B).data(), ws.buffer(1, max_width_, B).data()};
  const double* in = X.data();
  Index ld = X.outerStride();
  for (int l = 0; l < L; ++l) {
    const bool last = l == L - 1;
    const detail::LayerRef ref{params_.data() + offsets_[l], params_.data() + bias_offset(l), widths_[l], widths_[l + 1]};
    double* out = last ? Y.data() : buf[l % 2];
    const Index ldo = last ? Y.outerStride() : Index{widths_[l + 1]};
    layer(ref, last ? static_cast<int>(Activation::identity) : static_cast<int>(activation_), in, ld, B, out, ldo);
    in = out;
    ld = ldo;
  }
}

MatrixXd Mlp::forward(const Eigen::Ref<const MatrixXd>& X) const {
  MatrixXd Y(widths_.empty() ? 0 : widths_.back(), X.cols());
  forward(X, Y, scratch_);
  return Y;
}

Eigen::Map<const MatrixXd> Mlp::forward(const Eigen::Ref<const MatrixXd>& X, Tape& tape) const {
  check_input("forward", X.rows());
  const int L = num_layers();
  const Index B = X.cols();
  tape.a_.resize(static_cast<std::size_t>(L) + 1);
  tape.d_.resize(static_cast<std::size_t>(L) - 1);
  tape.rows_.assign(widths_.begin(), widths_.end());
  tape.batch_ = B;
  for (int l = 0; l <= L; ++l) reserve(tape.a_[l], Index{widths_[l]} * B);
  for (int l = 0; l + 1 < L; ++l) reserve(tape.d_[l], Index{widths_[l + 1]} * B);

  tape.a(0) = X;
  for (int l = 0; l < L; ++l) {
    auto z = tape.a(l + 1);
    gemm(weight(l), Op::none, tape.a(l), Op::none, z, false);
    z.colwise() += bias(l);
    if (l + 1 < L) activate(activation_, z, tape.d(l));
  }
  return tape.output();
}

void Mlp::backward(const Tape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                   MatrixXd* dX, Workspace& ws) const {
  const int L = num_layers();
  const Index B = tape.batch_;
  if (static_cast<int>(tape.rows_.size()) != L + 1 || !std::equal(widths_.begin(), widths_.end(), tape.rows_.begin()))
    throw std::invalid_argument("nn::Mlp::backward: the tape was not recorded by a network " + widths_text(widths_));
  if (dY.rows() != widths_.back() || dY.cols() != B)
    throw std::invalid_argument("nn::Mlp::backward: dY must be " + std::to_string(widths_.back()) + " x " +
                                std::to_string(B));
  if (grad.size() != num_params())
    throw std::invalid_argument("nn::Mlp::backward: grad has " + std::to_string(grad.size()) + " entries, not " +
                                std::to_string(num_params()));

  ConstMatView delta(dY.data(), dY.rows(), B, Eigen::OuterStride<>(dY.outerStride()));
  for (int l = L - 1; l >= 0; --l) {
    Eigen::Map<MatrixXd> gW(grad.data() + offsets_[l], widths_[l + 1], widths_[l]);
    Eigen::Map<VectorXd> gb(grad.data() + bias_offset(l), widths_[l + 1]);
    const auto a = tape.activation(l);
    gemm(delta, Op::none, a, Op::transpose, gW, true);
    gb.noalias() += delta.rowwise().sum();
    if (l > 0) {
      auto next = ws.buffer(l % 2, widths_[l], B);
      gemm(weight(l), Op::transpose, delta, Op::none, next, false);
      next.array() *= tape.d(l - 1).array();
      new (&delta) ConstMatView(next.data(), next.rows(), B, Eigen::OuterStride<>(next.rows()));
    } else if (dX) {
      dX->resize(widths_[0], B);
      gemm(weight(0), Op::transpose, delta, Op::none, *dX, false);
    }
  }
}

void Mlp::backward(const Tape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                   MatrixXd* dX) const {
  backward(tape, dY, grad, dX, scratch_);
}

// ---------------------------------------------------------------------------------------------- files
void Mlp::save(h5::OutputFile& out, const std::string& group) const {
  const std::string g = normalize_group(group);
  out.write(g + "/params", {static_cast<hsize_t>(params_.size())}, params_.data());
  out.write(g + "/widths", std::vector<double>(widths_.begin(), widths_.end()));
  out.attribute(g.empty() ? "/" : g, "activation", to_string(activation_));
}

Mlp Mlp::load(const h5::File& file, const std::string& group) {
  const std::string g = normalize_group(group);
  const std::string where = file.path() + ": network " + (g.empty() ? "/" : g);
  const auto wd = file.read(g + "/widths");  // InputError naming file and dataset if missing
  std::vector<int> widths;
  for (double w : wd) {
    if (!(w >= 1 && w <= 1e9) || w != std::floor(w))
      throw InputError(where + ": widths must be positive integers");
    widths.push_back(static_cast<int>(w));
  }
  if (widths.size() < 2) throw InputError(where + ": widths need an input and an output");
  if (!file.has_attribute(g.empty() ? "/" : g, "activation")) throw InputError(where + ": no attribute activation");
  const std::string act_name = file.read_string_attribute(g.empty() ? "/" : g, "activation");
  Activation act;
  try {
    act = activation_from_string(act_name);
  } catch (const InputError& e) {
    throw InputError(where + ": " + e.what());
  }
  // The parameter count the widths need, checked against the stored params before the network is built: widths
  // of 10^6 each made the constructor allocate terabytes (tests/fuzz). In double: exact below 2^53, no overflow.
  double need = 0;
  for (std::size_t l = 0; l + 1 < widths.size(); ++l)
    need += (static_cast<double>(widths[l]) + 1.0) * static_cast<double>(widths[l + 1]);
  const auto pshape = file.shape(g + "/params");
  if (pshape.size() != 1) throw InputError(where + ": params must be a 1-D dataset");
  if (static_cast<double>(pshape[0]) != need) {
    char n[32];
    std::snprintf(n, sizeof n, "%.0f", need);
    throw InputError(where + ": params has " + std::to_string(pshape[0]) + " values, widths " + widths_text(widths) +
                     " need " + n);
  }
  Mlp net(widths, act, 0);
  const auto p = file.read(g + "/params");
  for (double v : p)
    if (!std::isfinite(v)) throw InputError(where + ": params contain non-finite values");
  net.params_ = Eigen::Map<const VectorXd>(p.data(), static_cast<Index>(p.size()));
  return net;
}

}  // namespace msrom::nn
