// Two-dimensional layers of the multiscale model (include/msrom/nn/conv2d.hpp for the equations): circular
// 2-D convolutions by im2col and nn::gemm, the separable Gaussian filter as two 1-D passes, and the stencil
// MLP on (2r+1) x (2r+1) neighbourhoods.
#include "msrom/nn/conv2d.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/conv.hpp"  // activate
#include "msrom/nn/gemm.hpp"
#include "conv_detail.hpp"

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

using detail::check_shape;
using detail::grow;
using detail::neighbour;
using detail::wrap;
using detail::xavier;

// nx x ny grid of C channels in `rows` rows, the stride dividing both axes.
void check_grid(const char* who, Index rows, int channels, Index nx, Index ny, int stride) {
  if (nx < 1 || ny < 1 || rows != Index{channels} * nx * ny)
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(rows) + " rows are not " +
                                std::to_string(channels) + " channels on a " + std::to_string(nx) + " x " +
                                std::to_string(ny) + " grid");
  if (nx % stride != 0 || ny % stride != 0)
    throw std::invalid_argument(std::string(who) + ": stride " + std::to_string(stride) + " does not divide the " +
                                std::to_string(nx) + " x " + std::to_string(ny) + " grid");
}

// Circular padding of one sample: xp ((nx + 2p) x (ny + 2p) cells of C) from x (nx x ny cells of C).
void pad_sample(const double* x, Index C, Index nx, Index ny, Index p, double* xp) {
  const Index px = nx + 2 * p;
  for (Index qy = 0; qy < ny + 2 * p; ++qy) {
    const double* row = x + wrap(qy - p, ny) * nx * C;
    double* prow = xp + qy * px * C;
    std::memcpy(prow + p * C, row, sizeof(double) * nx * C);
    for (Index qx = 0; qx < p; ++qx) {
      std::memcpy(prow + qx * C, row + wrap(qx - p, nx) * C, sizeof(double) * C);
      std::memcpy(prow + (p + nx + qx) * C, row + wrap(nx + qx, nx) * C, sizeof(double) * C);
    }
  }
}

// Its adjoint: x = fold(xp) (overwritten).
void fold_sample(const double* xp, Index C, Index nx, Index ny, Index p, Eigen::Ref<VectorXd> x) {
  const Index px = nx + 2 * p;
  x.setZero();
  for (Index qy = 0; qy < ny + 2 * p; ++qy) {
    auto row = x.segment(wrap(qy - p, ny) * nx * C, nx * C);
    const double* prow = xp + qy * px * C;
    row += Eigen::Map<const VectorXd>(prow + p * C, nx * C);
    for (Index qx = 0; qx < p; ++qx) {
      row.segment(wrap(qx - p, nx) * C, C) += Eigen::Map<const VectorXd>(prow + qx * C, C);
      row.segment(wrap(nx + qx, nx) * C, C) += Eigen::Map<const VectorXd>(prow + (p + nx + qx) * C, C);
    }
  }
}

}  // namespace

// ------------------------------------------------------------------------------------------ im2col2d
void im2col2d(const Eigen::Ref<const MatrixXd>& X, int channels, Index nx, Index ny, int kernel, int stride,
              Eigen::Ref<MatrixXd> cols, VectorXd& pad) {
  const Index C = channels, k = kernel, s = stride, p = (k - 1) / 2, B = X.cols();
  if (C < 1 || k < 1 || s < 1 || nx < 1 || ny < 1 || nx * ny * C != X.rows() || nx % s != 0 || ny % s != 0 ||
      cols.rows() != k * k * C || cols.cols() != (nx / s) * (ny / s) * B)
    throw std::invalid_argument("nn::im2col2d: shapes do not match");
  const Index mx = nx / s, my = ny / s, px = nx + 2 * p;
  double* xp = grow(pad, px * (ny + 2 * p) * C);
  for (Index b = 0; b < B; ++b) {
    pad_sample(X.col(b).data(), C, nx, ny, p, xp);
    for (Index oj = 0; oj < my; ++oj)
      for (Index oi = 0; oi < mx; ++oi) {
        double* col = cols.col(oi + mx * (oj + my * b)).data();
        for (Index a = 0; a < k; ++a)
          std::memcpy(col + a * k * C, xp + ((s * oj + a) * px + s * oi) * C, sizeof(double) * k * C);
      }
  }
}

void col2im2d(const Eigen::Ref<const MatrixXd>& cols, int channels, Index nx, Index ny, int kernel, int stride,
              Eigen::Ref<MatrixXd> X, VectorXd& pad) {
  const Index C = channels, k = kernel, s = stride, p = (k - 1) / 2, B = X.cols();
  if (C < 1 || k < 1 || s < 1 || nx < 1 || ny < 1 || nx * ny * C != X.rows() || nx % s != 0 || ny % s != 0 ||
      cols.rows() != k * k * C || cols.cols() != (nx / s) * (ny / s) * B)
    throw std::invalid_argument("nn::col2im2d: shapes do not match");
  const Index mx = nx / s, my = ny / s, px = nx + 2 * p, npad = px * (ny + 2 * p) * C;
  Eigen::Map<VectorXd> xpv(grow(pad, npad), npad);
  for (Index b = 0; b < B; ++b) {
    xpv.setZero();
    for (Index oj = 0; oj < my; ++oj)
      for (Index oi = 0; oi < mx; ++oi) {
        const auto col = cols.col(oi + mx * (oj + my * b));
        for (Index a = 0; a < k; ++a)
          xpv.segment(((s * oj + a) * px + s * oi) * C, k * C) += col.segment(a * k * C, k * C);
      }
    fold_sample(xpv.data(), C, nx, ny, p, X.col(b));
  }
}

// ------------------------------------------------------------------------------------------------ Conv2d
Conv2d::Conv2d(int in_channels, int out_channels, int kernel, int stride, Activation activation, std::uint64_t seed)
    : cin_(in_channels), cout_(out_channels), k_(kernel), s_(stride), act_(activation) {
  check_shape("nn::Conv2d", cin_, cout_, k_, s_);
  params_.resize(Index{cout_} * taps() * cin_ + cout_);
  initialize(seed);
}

void Conv2d::initialize(std::uint64_t seed) {
  xavier(params_, bias_offset(), double(taps()) * cin_, double(taps()) * cout_, seed);
}

Index Conv2d::output_length(Index n) const {
  if (n < 1 || n % s_ != 0)
    throw std::invalid_argument("nn::Conv2d: stride " + std::to_string(s_) + " does not divide " + std::to_string(n) +
                                " points");
  return n / s_;
}

Eigen::Map<const MatrixXd> Conv2d::forward(const Eigen::Ref<const MatrixXd>& X, Index nx, Index ny,
                                           Conv2dTape& tape) const {
  check_grid("nn::Conv2d::forward", X.rows(), cin_, nx, ny, s_);
  const Index mx = nx / s_, my = ny / s_, M = mx * my, B = X.cols(), kc = taps() * cin_;
  tape.in_rows_ = X.rows();
  tape.out_rows_ = cout_ * M;
  tape.batch_ = B;
  tape.in_nx_ = nx;
  tape.in_ny_ = ny;
  tape.out_nx_ = mx;
  tape.out_ny_ = my;
  Eigen::Map<MatrixXd> cols(grow(tape.cols_, kc * M * B), kc, M * B);
  im2col2d(X, cin_, nx, ny, k_, s_, cols, tape.pad_);
  Eigen::Map<MatrixXd> out(grow(tape.out_, cout_ * M * B), cout_, M * B);
  gemm(weight(), Op::none, cols, Op::none, out, false);
  out.colwise() += bias();
  Eigen::Map<MatrixXd> dphi(grow(tape.dphi_, cout_ * M * B), cout_, M * B);
  activate(act_, out, dphi);
  return tape.output();
}

void Conv2d::backward(const Conv2dTape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                      MatrixXd* dX, Workspace& ws) const {
  const Index B = tape.batch_, M = tape.out_rows_ / cout_, kc = taps() * cin_;
  if (dY.rows() != tape.out_rows_ || dY.cols() != B || grad.size() != num_params())
    throw std::invalid_argument("nn::Conv2d::backward: dY or grad has the wrong shape");
  auto dA = ws.buffer(0, cout_, M * B);  // the same memory as (C_out M) x B
  Eigen::Map<MatrixXd>(dA.data(), tape.out_rows_, B) =
      dY.cwiseProduct(Eigen::Map<const MatrixXd>(tape.dphi_.data(), tape.out_rows_, B));
  Eigen::Map<const MatrixXd> cols(tape.cols_.data(), kc, M * B);
  Eigen::Map<MatrixXd> dW(grad.data(), cout_, kc);
  gemm(dA, Op::none, cols, Op::transpose, dW, true);
  grad.segment(bias_offset(), cout_).noalias() += dA.rowwise().sum();
  if (dX) {
    auto dcols = ws.buffer(1, kc, M * B);
    gemm(weight(), Op::transpose, dA, Op::none, dcols, false);
    dX->resize(tape.in_rows_, B);
    col2im2d(dcols, cin_, tape.in_nx_, tape.in_ny_, k_, s_, *dX, tape.pad_);
  }
}

// --------------------------------------------------------------------------------------- ConvTranspose2d
ConvTranspose2d::ConvTranspose2d(int in_channels, int out_channels, int kernel, int stride, Activation activation,
                                 std::uint64_t seed)
    : cin_(in_channels), cout_(out_channels), k_(kernel), s_(stride), act_(activation) {
  check_shape("nn::ConvTranspose2d", cin_, cout_, k_, s_);
  params_.resize(Index{cin_} * taps() * cout_ + cout_);
  initialize(seed);
}

void ConvTranspose2d::initialize(std::uint64_t seed) {
  xavier(params_, bias_offset(), double(taps()) * cin_, double(taps()) * cout_, seed);
}

Eigen::Map<const MatrixXd> ConvTranspose2d::forward(const Eigen::Ref<const MatrixXd>& X, Index mx, Index my,
                                                    Conv2dTape& tape) const {
  check_grid("nn::ConvTranspose2d::forward", X.rows(), cin_, mx, my, 1);
  const Index nx = mx * s_, ny = my * s_, M = mx * my, N = nx * ny, B = X.cols(), kc = taps() * cout_;
  tape.in_rows_ = X.rows();
  tape.out_rows_ = cout_ * N;
  tape.batch_ = B;
  tape.in_nx_ = mx;
  tape.in_ny_ = my;
  tape.out_nx_ = nx;
  tape.out_ny_ = ny;
  Eigen::Map<MatrixXd> x(grow(tape.cols_, X.size()), X.rows(), B);
  x = X;
  // cols = W^T X (k^2 C_out x M B): X viewed as C_in x (M B) is the same memory.
  Eigen::Map<MatrixXd> cols(grow(tape.dphi_, kc * M * B), kc, M * B);  // dphi_ is free until activate()
  gemm(weight(), Op::transpose, Eigen::Map<const MatrixXd>(x.data(), cin_, M * B), Op::none, cols, false);
  Eigen::Map<MatrixXd> out(grow(tape.out_, cout_ * N * B), cout_ * N, B);
  col2im2d(cols, cout_, nx, ny, k_, s_, out, tape.pad_);
  Eigen::Map<MatrixXd> outc(tape.out_.data(), cout_, N * B);
  outc.colwise() += bias();
  Eigen::Map<MatrixXd> dphi(grow(tape.dphi_, cout_ * N * B), cout_, N * B);
  activate(act_, outc, dphi);
  return tape.output();
}

void ConvTranspose2d::backward(const Conv2dTape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                               MatrixXd* dX, Workspace& ws) const {
  const Index B = tape.batch_, nx = tape.out_nx_, ny = tape.out_ny_, N = nx * ny, M = tape.in_nx_ * tape.in_ny_,
              kc = taps() * cout_;
  if (dY.rows() != tape.out_rows_ || dY.cols() != B || grad.size() != num_params())
    throw std::invalid_argument("nn::ConvTranspose2d::backward: dY or grad has the wrong shape");
  auto dA = ws.buffer(0, tape.out_rows_, B);
  dA = dY.cwiseProduct(Eigen::Map<const MatrixXd>(tape.dphi_.data(), tape.out_rows_, B));
  grad.segment(bias_offset(), cout_).noalias() += Eigen::Map<const MatrixXd>(dA.data(), cout_, N * B).rowwise().sum();
  auto dcols = ws.buffer(1, kc, M * B);
  im2col2d(dA, cout_, nx, ny, k_, s_, dcols, tape.pad_);
  Eigen::Map<const MatrixXd> x(tape.cols_.data(), cin_, M * B);
  Eigen::Map<MatrixXd> dW(grad.data(), cin_, kc);
  gemm(x, Op::none, dcols, Op::transpose, dW, true);
  if (dX) {
    dX->resize(tape.in_rows_, B);
    Eigen::Map<MatrixXd> dXc(dX->data(), cin_, M * B);
    gemm(weight(), Op::none, dcols, Op::none, dXc, false);
  }
}

// -------------------------------------------------------------------------------------- GaussianFilter2d
namespace {
// The y-pass on one sample, on whole grid rows (mx values each): Z(:, oj) = sum_a g_a T(:, (s oj + a - p) mod ny).
void ypass(const double* T, Index mx, Index ny, int s, const VectorXd& g, Index p, double* Z) {
  const Index my = ny / s;
  Eigen::Map<const MatrixXd> t(T, mx, ny);
  Eigen::Map<MatrixXd> z(Z, mx, my);
  for (Index oj = 0; oj < my; ++oj) {
    auto zc = z.col(oj);
    zc.setZero();
    for (Index a = 0; a < g.size(); ++a) zc += g[a] * t.col(wrap(s * oj + a - p, ny));
  }
}
// Its adjoint: T (OVERWRITTEN) = sum over (oj, a) of g_a Z(:, oj) into row (s oj + a - p) mod ny.
void ypass_transpose(const double* Z, Index mx, Index ny, int s, const VectorXd& g, Index p, double* T) {
  const Index my = ny / s;
  Eigen::Map<const MatrixXd> z(Z, mx, my);
  Eigen::Map<MatrixXd> t(T, mx, ny);
  t.setZero();
  for (Index oj = 0; oj < my; ++oj)
    for (Index a = 0; a < g.size(); ++a) t.col(wrap(s * oj + a - p, ny)) += g[a] * z.col(oj);
}
}  // namespace

Index GaussianFilter2d::check(const char* who, Index nx, Index ny, int stride, Index fine_rows, Index coarse_rows,
                              Index bf, Index bc) const {
  if (stride < 1 || nx < 1 || ny < 1 || nx % stride != 0 || ny % stride != 0 || fine_rows != nx * ny ||
      coarse_rows != (nx / stride) * (ny / stride) || bf != bc)
    throw std::invalid_argument(std::string("nn::GaussianFilter2d::") + who + ": a " + std::to_string(nx) + " x " +
                                std::to_string(ny) + " grid with stride " + std::to_string(stride) +
                                " does not match " + std::to_string(fine_rows) + " x " + std::to_string(bf) +
                                " fine and " + std::to_string(coarse_rows) + " x " + std::to_string(bc) +
                                " coarse fields");
  if (t_.size() < (nx / stride) * ny) t_.resize((nx / stride) * ny);
  if (u_.size() < (nx / stride) * ny) u_.resize((nx / stride) * ny);
  return nx / stride;
}

void GaussianFilter2d::apply(const Eigen::Ref<const MatrixXd>& X, Index nx, Index ny, int stride,
                             Eigen::Ref<MatrixXd> Z) const {
  const Index mx = check("apply", nx, ny, stride, X.rows(), Z.rows(), X.cols(), Z.cols());
  const VectorXd& g = f_.kernel();
  for (Index b = 0; b < X.cols(); ++b) {
    Eigen::Map<MatrixXd> t(t_.data(), mx, ny);
    f_.apply(Eigen::Map<const MatrixXd>(X.col(b).data(), nx, ny), stride, t);  // x-pass, one column per row j
    ypass(t.data(), mx, ny, stride, g, half_width(), Z.col(b).data());
  }
}

void GaussianFilter2d::apply_transpose(const Eigen::Ref<const MatrixXd>& Z, Index nx, Index ny, int stride,
                                       Eigen::Ref<MatrixXd> X) const {
  const Index mx = check("apply_transpose", nx, ny, stride, X.rows(), Z.rows(), X.cols(), Z.cols());
  const VectorXd& g = f_.kernel();
  for (Index b = 0; b < Z.cols(); ++b) {
    ypass_transpose(Z.col(b).data(), mx, ny, stride, g, half_width(), t_.data());
    f_.apply_transpose(Eigen::Map<const MatrixXd>(t_.data(), mx, ny), stride,
                       Eigen::Map<MatrixXd>(X.col(b).data(), nx, ny));
  }
}

double GaussianFilter2d::std_gradient(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& dZ,
                                      Index nx, Index ny, int stride) const {
  const Index mx = check("std_gradient", nx, ny, stride, X.rows(), dZ.rows(), X.cols(), dZ.cols());
  const Index my = ny / stride, p = half_width(), w = width();
  const VectorXd& g = f_.kernel();
  dgy_.setZero(w);
  double dx_term = 0;
  for (Index b = 0; b < X.cols(); ++b) {
    const Eigen::Map<const MatrixXd> x(X.col(b).data(), nx, ny), dz(dZ.col(b).data(), mx, my);
    // x-axis: <(G^y)^T dZ, d(G^x)/dsigma X>, the 1-D filter's derivative along x.
    Eigen::Map<MatrixXd> u(u_.data(), mx, ny);
    ypass_transpose(dz.data(), mx, ny, stride, g, p, u.data());
    dx_term += f_.std_gradient(x, u, stride);
    // y-axis: dg^y_a = sum_{oi, oj} dZ(oi, oj) (G^x X)(oi, (s oj + a - p) mod ny).
    Eigen::Map<MatrixXd> t(t_.data(), mx, ny);
    f_.apply(x, stride, t);
    for (Index oj = 0; oj < my; ++oj)
      for (Index a = 0; a < w; ++a) dgy_[a] += dz.col(oj).dot(t.col(wrap(stride * oj + a - p, ny)));
  }
  return dx_term + f_.std_gradient_of_kernel(dgy_);
}

// ---------------------------------------------------------------------------------------- StencilMlp2d
namespace {
std::vector<int> stencil2d_widths(int channels, int radius, int globals, const std::vector<int>& hidden, int out) {
  if (channels < 1 || radius < 0 || globals < 0 || out < 1)
    throw InputError("nn::StencilMlp2d: channels " + std::to_string(channels) + ", radius " + std::to_string(radius) +
                     ", globals " + std::to_string(globals) + ", outputs " + std::to_string(out) + " are invalid");
  const int k = 2 * radius + 1;
  std::vector<int> w{k * k * channels + globals};
  w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(out);
  return w;
}
}  // namespace

Eigen::Map<const MatrixXd> StencilTape2d::output() const {
  const auto y = mlp_.output();
  return {y.data(), Index{out_} * nx_ * ny_, batch_};
}

StencilMlp2d::StencilMlp2d(int channels, int radius, int globals, const std::vector<int>& hidden, int out_channels,
                           Activation activation, std::uint64_t seed, StencilBoundary boundary)
    : channels_(channels),
      radius_(radius),
      globals_(globals),
      boundary_(boundary),
      net_(stencil2d_widths(channels, radius, globals, hidden, out_channels), activation, seed) {}

void StencilMlp2d::gather(const Eigen::Ref<const MatrixXd>& X, Index nx, Index ny, const Eigen::Ref<const MatrixXd>& G,
                          VectorXd& in) const {
  const Index C = channels_, B = X.cols(), r = radius_, k = 2 * r + 1, rows = net_.input_dim(), N = nx * ny;
  if (nx < 1 || ny < 1 || N * C != X.rows() || G.rows() != globals_ || G.cols() != B)
    throw std::invalid_argument("nn::StencilMlp2d: input is " + std::to_string(X.rows()) + " x " + std::to_string(B) +
                                " with " + std::to_string(G.rows()) + " x " + std::to_string(G.cols()) +
                                " globals; expected " + std::to_string(C) + " channels on a " + std::to_string(nx) +
                                " x " + std::to_string(ny) + " grid and " + std::to_string(globals_) +
                                " globals per column");
  if (in.size() < rows * N * B) in.resize(rows * N * B);
  for (Index b = 0; b < B; ++b) {
    const double* x = X.col(b).data();
    for (Index j = 0; j < ny; ++j)
      for (Index i = 0; i < nx; ++i) {
        double* col = in.data() + (j * nx + i + N * b) * rows;
        const bool inside = i >= r && i + r < nx;  // the x-taps of a row are then one contiguous block
        for (Index qy = 0; qy < k; ++qy) {
          double* dst = col + qy * k * C;
          const Index sy = neighbour(j + qy - r, ny, boundary_);
          if (sy < 0) {
            std::memset(dst, 0, sizeof(double) * k * C);
            continue;
          }
          const double* row = x + sy * nx * C;
          if (inside)
            std::memcpy(dst, row + (i - r) * C, sizeof(double) * k * C);
          else
            for (Index qx = 0; qx < k; ++qx) {
              const Index sx = neighbour(i + qx - r, nx, boundary_);
              if (sx < 0)
                std::memset(dst + qx * C, 0, sizeof(double) * C);
              else
                std::memcpy(dst + qx * C, row + sx * C, sizeof(double) * C);
            }
        }
        for (Index q = 0; q < globals_; ++q) col[k * k * C + q] = G(q, b);
      }
  }
}

Eigen::Map<const MatrixXd> StencilMlp2d::forward(const Eigen::Ref<const MatrixXd>& X, Index nx, Index ny,
                                                 const Eigen::Ref<const MatrixXd>& G, StencilTape2d& tape) const {
  gather(X, nx, ny, G, tape.in_);
  const Index B = X.cols(), N = nx * ny;
  tape.nx_ = nx;
  tape.ny_ = ny;
  tape.batch_ = B;
  tape.out_ = net_.output_dim();
  net_.forward(Eigen::Map<const MatrixXd>(tape.in_.data(), net_.input_dim(), N * B), tape.mlp_);
  return tape.output();
}

void StencilMlp2d::backward(const StencilTape2d& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                            MatrixXd* dX, MatrixXd* dG, Workspace& ws) const {
  const Index nx = tape.nx_, ny = tape.ny_, N = nx * ny, B = tape.batch_, C = channels_, r = radius_, k = 2 * r + 1,
              out = net_.output_dim();
  if (dY.rows() != out * N || dY.cols() != B)
    throw std::invalid_argument("nn::StencilMlp2d::backward: dY must be " + std::to_string(out * N) + " x " +
                                std::to_string(B));
  // dY (out N) x B is the Mlp's out x (N B) cotangent when stored contiguously; otherwise copy it.
  const double* dy = dY.data();
  if (dY.outerStride() != dY.rows()) {
    if (tape.dy_.size() < dY.size()) tape.dy_.resize(dY.size());
    Eigen::Map<MatrixXd>(tape.dy_.data(), dY.rows(), B) = dY;
    dy = tape.dy_.data();
  }
  const Eigen::Map<const MatrixXd> dYm(dy, out, N * B);
  net_.backward(tape.mlp_, dYm, grad, (dX || dG) ? &tape.dI_ : nullptr, ws);
  const MatrixXd& dI = tape.dI_;
  if (dX) {
    dX->setZero(C * N, B);
    for (Index b = 0; b < B; ++b) {
      auto x = dX->col(b);
      for (Index j = 0; j < ny; ++j)
        for (Index i = 0; i < nx; ++i) {
          const auto col = dI.col(j * nx + i + N * b);
          const bool inside = i >= r && i + r < nx;
          for (Index qy = 0; qy < k; ++qy) {
            const Index sy = neighbour(j + qy - r, ny, boundary_);
            if (sy < 0) continue;
            auto row = x.segment(sy * nx * C, nx * C);
            if (inside)
              row.segment((i - r) * C, k * C) += col.segment(qy * k * C, k * C);
            else
              for (Index qx = 0; qx < k; ++qx) {
                const Index sx = neighbour(i + qx - r, nx, boundary_);
                if (sx >= 0) row.segment(sx * C, C) += col.segment((qy * k + qx) * C, C);
              }
          }
        }
    }
  }
  if (dG) {
    dG->setZero(globals_, B);
    if (globals_ > 0)
      for (Index b = 0; b < B; ++b) dG->col(b) = dI.middleCols(N * b, N).bottomRows(globals_).rowwise().sum();
  }
}

void StencilMlp2d::forward(const Eigen::Ref<const MatrixXd>& X, Index nx, Index ny, const Eigen::Ref<const MatrixXd>& G,
                           Eigen::Ref<MatrixXd> Y, VectorXd& scratch, Workspace& ws) const {
  gather(X, nx, ny, G, scratch);
  const Index N = nx * ny, B = X.cols(), out = net_.output_dim();
  if (Y.rows() != out * N || Y.cols() != B || Y.outerStride() != Y.rows())
    throw std::invalid_argument("nn::StencilMlp2d::forward: Y must be a contiguous " + std::to_string(out * N) + " x " +
                                std::to_string(B));
  Eigen::Map<MatrixXd> Ym(Y.data(), out, N * B);
  net_.forward(Eigen::Map<const MatrixXd>(scratch.data(), net_.input_dim(), N * B), Ym, ws);
}

}  // namespace msrom::nn
