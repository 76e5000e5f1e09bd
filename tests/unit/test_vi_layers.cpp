// The layers of the multiscale model (issue 7): circular convolutions and their transposes, the learnable
// Gaussian filter, the stencil-shared MLP and the GP posterior interpolant. Forward passes against direct
// sums, adjoint identities, and every backward pass against central finite differences (4th order:
// (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h, so that h can be large enough to keep rounding out).
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include "msrom/core/random.hpp"
#include "msrom/nn/conv.hpp"
#include "msrom/nn/filter.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/nn/stencil_mlp.hpp"
#include "msrom/vi/gp_posterior.hpp"

#include "fd_util.hpp"

using namespace msrom;
using namespace msrom::nn;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd gaussian(Index rows, Index cols, std::uint64_t step) {
  return test::gaussian(77, rows, cols, step);
}
using test::fd_gradient;
using test::rel_err;

Eigen::Map<VectorXd> flat(MatrixXd& m) {
  return {m.data(), m.size()};
}

// Direct sum of the circular strided convolution (conv.hpp), channel-fastest layout.
MatrixXd conv_reference(const Conv1d& c, const MatrixXd& X) {
  const Index C = c.in_channels(), O = c.out_channels(), k = c.kernel(), s = c.stride(), p = (k - 1) / 2;
  const Index n = X.rows() / C, m = n / s;
  MatrixXd Y(O * m, X.cols());
  for (Index b = 0; b < X.cols(); ++b)
    for (Index j = 0; j < m; ++j)
      for (Index o = 0; o < O; ++o) {
        double acc = c.bias()[o];
        for (Index r = 0; r < k; ++r)
          for (Index ch = 0; ch < C; ++ch) {
            const Index i = (((s * j + r - p) % n) + n) % n;
            acc += c.weight()(o, r * C + ch) * X(i * C + ch, b);
          }
        Y(j * O + o, b) = acc;
      }
  return Y;
}

struct ConvCase {
  int cin, cout, kernel, stride, n;
  Activation act;
};

}  // namespace

TEST_CASE("Conv1d matches the direct circular strided sum", "[vi][conv]") {
  const ConvCase c =
      GENERATE(ConvCase{1, 1, 3, 1, 8, Activation::identity}, ConvCase{3, 2, 5, 2, 12, Activation::identity},
               ConvCase{2, 4, 9, 4, 8, Activation::identity},  // kernel wider than the grid: wraps
               ConvCase{4, 3, 25, 2, 20, Activation::identity});
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.n);
  Conv1d conv(c.cin, c.cout, c.kernel, c.stride, c.act, 3);
  conv.bias() = gaussian(c.cout, 1, 9);
  const MatrixXd X = gaussian(c.cin * c.n, 3, 1);
  ConvTape tape;
  const MatrixXd Y = conv.forward(X, tape);
  const MatrixXd Yr = conv_reference(conv, X);
  REQUIRE(Y.rows() == c.cout * c.n / c.stride);
  CHECK((Y - Yr).cwiseAbs().maxCoeff() <= 1e-13 * (1 + Yr.cwiseAbs().maxCoeff()));
  if (c.stride > 1) CHECK_THROWS_AS(conv.forward(gaussian(c.cin * (c.n + 1), 1, 2), tape), std::invalid_argument);
  if (c.cin > 1) CHECK_THROWS_AS(conv.forward(gaussian(c.cin * c.n + 1, 1, 2), tape), std::invalid_argument);
}

TEST_CASE("ConvTranspose1d is the adjoint of Conv1d: <conv x, y> = <x, convT y>", "[vi][conv]") {
  const ConvCase c =
      GENERATE(ConvCase{1, 1, 3, 1, 8, Activation::identity}, ConvCase{3, 2, 5, 2, 12, Activation::identity},
               ConvCase{2, 4, 9, 4, 8, Activation::identity}, ConvCase{16, 4, 25, 2, 50, Activation::identity});
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.n);
  Conv1d conv(c.cin, c.cout, c.kernel, c.stride, Activation::identity, 4);
  ConvTranspose1d convT(c.cout, c.cin, c.kernel, c.stride, Activation::identity, 5);
  convT.weight() = conv.weight();  // same W, biases 0
  conv.bias().setZero();
  const int B = 3, m = c.n / c.stride;
  const MatrixXd x = gaussian(c.cin * c.n, B, 3), y = gaussian(c.cout * m, B, 4);
  ConvTape t1, t2;
  const MatrixXd Cx = conv.forward(x, t1);
  const MatrixXd CTy = convT.forward(y, t2);
  REQUIRE(CTy.rows() == x.rows());
  const double lhs = (Cx.array() * y.array()).sum(), rhs = (x.array() * CTy.array()).sum();
  CHECK(std::abs(lhs - rhs) <= 1e-12 * (std::abs(lhs) + 1));
  // im2col and col2im are adjoint too.
  MatrixXd cols(c.kernel * c.cin, m * B), back(c.cin * c.n, B);
  VectorXd pad;
  im2col(x, c.cin, c.kernel, c.stride, cols, pad);
  const MatrixXd w = gaussian(cols.rows(), cols.cols(), 6);
  col2im(w, c.cin, c.kernel, c.stride, back, pad);
  CHECK(std::abs((cols.array() * w.array()).sum() - (x.array() * back.array()).sum()) <=
        1e-12 * (1 + cols.norm() * w.norm()));
}

TEST_CASE("Conv1d and ConvTranspose1d gradients match finite differences", "[vi][conv]") {
  const ConvCase c =
      GENERATE(ConvCase{1, 1, 3, 1, 8, Activation::identity}, ConvCase{3, 2, 5, 2, 12, Activation::tanh},
               ConvCase{2, 4, 9, 4, 8, Activation::swish}, ConvCase{4, 3, 7, 2, 10, Activation::leaky_relu},
               ConvCase{16, 4, 25, 2, 50, Activation::swish});
  const bool transposed = GENERATE(false, true);
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.n, to_string(c.act), transposed);
  const int B = 3;
  Workspace ws;
  ConvTape tape;
  double err_p = 0, err_x = 0;
  if (!transposed) {
    Conv1d conv(c.cin, c.cout, c.kernel, c.stride, c.act, 7);
    conv.params() += 0.1 * gaussian(conv.num_params(), 1, 8);
    MatrixXd X = gaussian(c.cin * c.n, B, 9);
    const MatrixXd dY = gaussian(c.cout * (c.n / c.stride), B, 10);
    auto loss = [&] {
      ConvTape t;
      return (conv.forward(X, t).array() * dY.array()).sum();
    };
    conv.forward(X, tape);
    VectorXd grad = VectorXd::Zero(conv.num_params());
    MatrixXd dX;
    conv.backward(tape, dY, grad, &dX, ws);
    err_p = rel_err(grad, fd_gradient(conv.params(), loss, 1e-3), 1e-2);
    err_x = rel_err(flat(dX), fd_gradient(flat(X), loss, 1e-3), 1e-2);
    // accumulation
    VectorXd grad2 = grad;
    conv.backward(tape, dY, grad2, nullptr, ws);
    CHECK((grad2 - 2 * grad).norm() <= 1e-14 * grad.norm());
  } else {
    ConvTranspose1d conv(c.cin, c.cout, c.kernel, c.stride, c.act, 7);
    conv.params() += 0.1 * gaussian(conv.num_params(), 1, 8);
    const int m = c.n / c.stride;
    MatrixXd X = gaussian(c.cin * m, B, 9);
    const MatrixXd dY = gaussian(c.cout * c.n, B, 10);
    auto loss = [&] {
      ConvTape t;
      return (conv.forward(X, t).array() * dY.array()).sum();
    };
    conv.forward(X, tape);
    VectorXd grad = VectorXd::Zero(conv.num_params());
    MatrixXd dX;
    conv.backward(tape, dY, grad, &dX, ws);
    err_p = rel_err(grad, fd_gradient(conv.params(), loss, 1e-3), 1e-2);
    err_x = rel_err(flat(dX), fd_gradient(flat(X), loss, 1e-3), 1e-2);
  }
  // LeakyReLU has kinks: FD steps that cross one are off by O(h); its test uses small inputs away from them
  // on average, so allow a looser bound there.
  const double tol = c.act == Activation::leaky_relu ? 1e-4 : 1e-6;
  CAPTURE(err_p, err_x);
  CHECK(err_p < tol);
  CHECK(err_x < tol);
}

TEST_CASE("The Gaussian filter: normalised kernel, constants kept, adjoint, width 2*2*std+1", "[vi][filter]") {
  GaussianFilter f(50.0);
  CHECK(f.width() == 201);
  CHECK(f.kernel().sum() == Approx(1.0).epsilon(1e-15));
  CHECK(f.kernel()[100] == f.kernel().maxCoeff());
  CHECK(f.kernel()[0] == Approx(f.kernel()[200]).epsilon(1e-15));
  const int n = 1000, s = 50;
  const MatrixXd c = MatrixXd::Constant(n, 2, 3.7);
  MatrixXd z(n / s, 2), z1(n, 2);
  f.apply(c, s, z);
  f.apply(c, 1, z1);
  CHECK((z.array() - 3.7).abs().maxCoeff() < 1e-13);
  CHECK((z1.array() - 3.7).abs().maxCoeff() < 1e-13);
  // The macro decoder s G_s^T keeps the mean of a constant exactly. Pointwise it ripples with period s: with
  // width 4 std + 1 = 4 s + 1, the taps r = 0 mod s are five (both ends included), the other classes four, so
  // points i = 0 mod s get g(+-2 std) = e^{-2} g(0) more weight (+3.7%). The paper's architecture; the learned
  // std and the micro decoder can correct it.
  MatrixXd back(n, 2);
  f.apply_transpose(z, s, back);
  CHECK(std::abs((s * back).mean() - 3.7) < 1e-13);
  CHECK(((s * back).array() - 3.7).abs().maxCoeff() < 0.04 * 3.7);
  // Adjoint, on a small grid where the kernel wraps several times.
  GaussianFilter g(3.3);
  const MatrixXd x = gaussian(12, 3, 1), y = gaussian(4, 3, 2);
  MatrixXd Gx(4, 3), GTy(12, 3);
  g.apply(x, 3, Gx);
  g.apply_transpose(y, 3, GTy);
  CHECK((Gx.array() * y.array()).sum() == Approx((x.array() * GTy.array()).sum()).epsilon(1e-13));
  CHECK_THROWS_AS(g.apply(x, 5, Gx), std::invalid_argument);
}

TEST_CASE("Gaussian filter gradients: d/dstd of the filter and of its transpose match finite differences",
          "[vi][filter]") {
  struct Case {
    double std;
    int n, s;
  };
  const Case c = GENERATE(Case{50.0, 1000, 50}, Case{2.0, 40, 2}, Case{3.3, 12, 3}, Case{4.0, 40, 1});
  CAPTURE(c.std, c.n, c.s);
  GaussianFilter f(c.std);
  f.params()[0] += std::log(1.13);  // away from the initial value
  const MatrixXd X = gaussian(c.n, 3, 3), dZ = gaussian(c.n / c.s, 3, 4);
  auto loss = [&] {
    MatrixXd Z(c.n / c.s, 3);
    f.apply(X, c.s, Z);
    return (Z.array() * dZ.array()).sum();
  };
  auto loss_t = [&] {
    MatrixXd Y(c.n, 3);
    f.apply_transpose(dZ, c.s, Y);
    return (Y.array() * X.array()).sum();
  };
  // The parameter is log sigma: its gradient is sigma d/dsigma (log_std_gradient).
  const double h = 1e-3;
  const double g = f.log_std_gradient(X, dZ, c.s);
  CHECK(g == Approx(f.std() * f.std_gradient(X, dZ, c.s)).epsilon(1e-15));
  const double fd = fd_gradient(f.params(), loss, h)[0];
  const double fdt = fd_gradient(f.params(), loss_t, h)[0];
  CAPTURE(g, fd, fdt, std::abs(g - fd) / std::abs(fd), std::abs(g - fdt) / std::abs(fdt));
  CHECK(std::abs(g - fd) <= 1e-6 * std::abs(fd));
  CHECK(std::abs(g - fdt) <= 1e-6 * std::abs(fdt));  // <dY, G^T Z> = <G dY, Z>: same derivative
  // dg/dsigma against differences of the kernel itself, in sigma.
  const VectorXd dg = f.kernel_std_derivative();
  const double l0 = f.params()[0], s0 = f.std(), hs = 1e-3 * s0;
  auto kernel_at = [&](double d) {
    f.params()[0] = std::log(s0 + d);
    return VectorXd(f.kernel());
  };
  const VectorXd fdg = (8 * (kernel_at(hs) - kernel_at(-hs)) - (kernel_at(2 * hs) - kernel_at(-2 * hs))) / (12 * hs);
  f.params()[0] = l0;
  CHECK(rel_err(dg, fdg, 1e-3 * dg.cwiseAbs().maxCoeff()) < 1e-6);
}

TEST_CASE("The stencil MLP is one Mlp at every cell on its periodic neighbourhood plus the globals", "[vi][stencil]") {
  const int C = 2, r = 2, G = 3, n = 7, B = 4;
  StencilMlp st(C, r, G, {6, 5}, 2, Activation::tanh, 11);
  REQUIRE(st.mlp().input_dim() == (2 * r + 1) * C + G);
  const MatrixXd X = gaussian(C * n, B, 1), g = gaussian(G, B, 2);
  StencilTape tape;
  const MatrixXd Y = st.forward(X, g, tape);
  REQUIRE(Y.rows() == 2 * n);
  for (int b = 0; b < B; ++b)
    for (int j = 0; j < n; ++j) {
      VectorXd in((2 * r + 1) * C + G);
      for (int q = 0; q <= 2 * r; ++q) in.segment(q * C, C) = X.col(b).segment(((j + q - r + n) % n) * C, C);
      in.tail(G) = g.col(b);
      const VectorXd y = st.mlp().forward(in);
      CHECK((Y.col(b).segment(2 * j, 2) - y).norm() <= 1e-13 * (1 + y.norm()));
    }
  // Translation equivariance: shifting the field shifts the output.
  MatrixXd Xs(C * n, B);
  for (int j = 0; j < n; ++j) Xs.middleRows(((j + 3) % n) * C, C) = X.middleRows(j * C, C);
  StencilTape t2;
  const MatrixXd Ys = st.forward(Xs, g, t2);
  for (int j = 0; j < n; ++j) CHECK((Ys.middleRows(((j + 3) % n) * 2, 2) - Y.middleRows(j * 2, 2)).norm() < 1e-13);
  // The inference path (nn kernels) agrees with the training path to rounding.
  MatrixXd Yi(2 * n, B);
  VectorXd scratch;
  Workspace ws;
  st.forward(X, g, Yi, scratch, ws);
  CHECK((Yi - Y).cwiseAbs().maxCoeff() < 1e-13);
}

TEST_CASE("The stencil MLP with zeros or end copies beyond the ends is the periodic one on the padded grid",
          "[vi][stencil]") {
  const StencilBoundary boundary = GENERATE(StencilBoundary::zero, StencilBoundary::replicate);
  CAPTURE(to_string(boundary));
  const int C = 2, r = 2, G = 1, n = 7, B = 3;
  const StencilMlp zero(C, r, G, {6, 5}, 2, Activation::tanh, 14, boundary), wrapped(C, r, G, {6, 5}, 2, Activation::tanh, 14);
  REQUIRE(zero.boundary() == boundary);
  const MatrixXd X = gaussian(C * n, B, 1), g = gaussian(G, B, 2);
  StencilTape tape;
  const MatrixXd Y = zero.forward(X, g, tape);
  MatrixXd P = MatrixXd::Zero(C * (n + 2 * r), B);  // r zeros or copies of the end cell at each end
  P.middleRows(r * C, C * n) = X;
  if (boundary == StencilBoundary::replicate)
    for (int q = 0; q < r; ++q) {
      P.middleRows(q * C, C) = X.topRows(C);
      P.middleRows((n + r + q) * C, C) = X.bottomRows(C);
    }
  StencilTape tp;
  const MatrixXd Yp = wrapped.forward(P, g, tp);
  CHECK((Y - Yp.middleRows(r * 2, 2 * n)).cwiseAbs().maxCoeff() <= 1e-14);
  StencilTape tw;
  CHECK((Y.topRows(2) - wrapped.forward(X, g, tw).topRows(2)).cwiseAbs().maxCoeff() > 1e-3);  // the end cell
  MatrixXd Yi(2 * n, B);
  VectorXd scratch;
  Workspace ws;
  zero.forward(X, g, Yi, scratch, ws);
  CHECK((Yi - Y).cwiseAbs().maxCoeff() < 1e-13);
}

TEST_CASE("Stencil MLP gradients (parameters, field, globals) match finite differences", "[vi][stencil]") {
  const int G = GENERATE(0, 2);
  const StencilBoundary boundary = GENERATE(StencilBoundary::periodic, StencilBoundary::zero, StencilBoundary::replicate);
  CAPTURE(G, to_string(boundary));
  const int C = 1, r = 2, n = 6, B = 3;
  StencilMlp st(C, r, G, {8, 8}, 1, Activation::swish, 12, boundary);
  st.params() += 0.1 * gaussian(st.num_params(), 1, 3);
  MatrixXd X = gaussian(C * n, B, 4), g = gaussian(G, B, 5);
  const MatrixXd dY = gaussian(n, B, 6);
  auto loss = [&] {
    StencilTape t;
    return (st.forward(X, g, t).array() * dY.array()).sum();
  };
  StencilTape tape;
  st.forward(X, g, tape);
  VectorXd grad = VectorXd::Zero(st.num_params());
  MatrixXd dX, dG;
  Workspace ws;
  st.backward(tape, dY, grad, &dX, &dG, ws);
  const double ep = rel_err(grad, fd_gradient(st.params(), loss, 1e-3), 1e-2);
  const double ex = rel_err(flat(dX), fd_gradient(flat(X), loss, 1e-3), 1e-2);
  CAPTURE(ep, ex);
  CHECK(ep < 1e-6);
  CHECK(ex < 1e-6);
  if (G > 0) {
    const double eg = rel_err(flat(dG), fd_gradient(flat(g), loss, 1e-3), 1e-2);
    CAPTURE(eg);
    CHECK(eg < 1e-6);
  }
  // A non-contiguous cotangent (a block of a larger matrix) gives the same result.
  MatrixXd big = MatrixXd::Zero(n + 3, B);
  big.topRows(n) = dY;
  VectorXd grad2 = VectorXd::Zero(st.num_params());
  MatrixXd dX2;
  st.backward(tape, big.topRows(n), grad2, &dX2, nullptr, ws);
  CHECK(grad2 == grad);
  CHECK(dX2 == dX);
}

// ------------------------------------------------------------------------------------------ GP posterior
namespace {
vi::GpPosterior make_gp(double lengthscale, double nugget, bool warped) {
  vi::GpConfig cfg;
  cfg.lengthscale = lengthscale;
  cfg.nugget = nugget;
  cfg.warp_hidden = {5, 4};
  vi::GpPosterior gp(cfg, 21);
  if (warped) gp.warp().params() = 0.3 * gaussian(gp.warp().num_params(), 1, 31);
  return gp;
}
VectorXd uniform_nodes(int B) {
  return VectorXd::LinSpaced(B, 0.0, 1.0);
}
}  // namespace

TEST_CASE("GP interpolant reproduces its node values up to the nugget: M(u_i) = V_i - nu alpha_i", "[vi][gp]") {
  const bool warped = GENERATE(false, true);
  const int B = 16;
  auto gp = make_gp(0.1, 1e-2, warped);
  const VectorXd u = uniform_nodes(B);
  const MatrixXd V = gaussian(B, 3, 1);
  vi::GpTape tape;
  gp.forward(u, u, V, tape);
  // alpha = (K + nu I)^{-1} V, computed independently.
  VectorXd phi(B), dphi(B);
  gp.warp_values(u, phi, dphi);
  MatrixXd K(B, B);
  for (int i = 0; i < B; ++i)
    for (int j = 0; j < B; ++j) K(i, j) = std::exp(-0.5 * std::pow((phi[i] - phi[j]) / 0.1, 2));
  const MatrixXd A = K + 1e-2 * MatrixXd::Identity(B, B);
  const MatrixXd alpha = A.ldlt().solve(V);
  CHECK((tape.mean() - (V - 1e-2 * alpha)).cwiseAbs().maxCoeff() < 1e-12);
  // A vanishing nugget interpolates (a lengthscale below the spacing keeps K well conditioned: the error is
  // nu |alpha| <= nu |V| / lambda_min(K)).
  auto sharp = make_gp(0.04, 1e-9, false);
  sharp.forward(u, u, V, tape);
  CHECK((tape.mean() - V).cwiseAbs().maxCoeff() < 1e-8);
}

TEST_CASE("GP interpolant: the warp's dual pass gives phi = u + NN(u) and phi' = 1 + NN'(u)", "[vi][gp]") {
  for (auto act : {Activation::tanh, Activation::swish}) {
    vi::GpConfig cfg;
    cfg.warp_hidden = {6, 5};
    cfg.warp_activation = act;
    vi::GpPosterior gp(cfg, 3);
    gp.warp().params() = 0.5 * gaussian(gp.warp().num_params(), 1, 4);
    const VectorXd x = VectorXd::LinSpaced(9, -0.2, 1.3);
    VectorXd phi(9), dphi(9), pp(9), dp(9), pm(9), dm(9);
    gp.warp_values(x, phi, dphi);
    const MatrixXd nn = gp.warp().forward(x.transpose());
    CHECK((phi - x - nn.row(0).transpose()).cwiseAbs().maxCoeff() < 1e-14);
    const double h = 1e-5;
    gp.warp_values((x.array() + h).matrix(), pp, dp);
    gp.warp_values((x.array() - h).matrix(), pm, dm);
    CHECK(rel_err(dphi, (pp - pm) / (2 * h), 1e-2) < 1e-8);
  }
}

TEST_CASE("GP interpolant: dm/dt of a smooth function", "[vi][gp]") {
  // Nodes of sin(2 pi u) + u^2 on 64 points; a small nugget and a lengthscale of a few spacings: the
  // interpolant's analytic derivative matches 2 pi cos(2 pi u) + 2u away from the window's ends.
  const int B = 64;
  auto gp = make_gp(4.0 / 63, 1e-10, false);
  const VectorXd u = uniform_nodes(B);
  const VectorXd v = VectorXd::LinSpaced(101, 0.0, 1.0);
  MatrixXd V(B, 1);
  for (int i = 0; i < B; ++i) V(i, 0) = std::sin(2 * M_PI * u[i]) + u[i] * u[i];
  vi::GpTape tape;
  gp.forward(u, v, V, tape);
  double err_m = 0, err_d = 0;
  for (int q = 10; q <= 90; ++q) {
    err_m = std::max(err_m, std::abs(tape.mean()(q, 0) - (std::sin(2 * M_PI * v[q]) + v[q] * v[q])));
    err_d = std::max(err_d, std::abs(tape.derivative()(q, 0) - (2 * M_PI * std::cos(2 * M_PI * v[q]) + 2 * v[q])));
  }
  CAPTURE(err_m, err_d);
  CHECK(err_m < 1e-5);
  CHECK(err_d < 1e-3);
}

TEST_CASE("GP interpolant gradients (node values, lengthscale, nugget, warp) match finite differences", "[vi][gp]") {
  const bool warped = GENERATE(false, true);
  const int B = 12, Q = 9, P = 3;
  auto gp = make_gp(0.15, 3e-2, warped);
  const VectorXd u = uniform_nodes(B);
  const VectorXd v = VectorXd::LinSpaced(Q, 0.03, 0.97);
  MatrixXd V = gaussian(B, P, 1);
  const MatrixXd GM = gaussian(Q, P, 2), GD = gaussian(Q, P, 3);
  auto loss = [&] {
    vi::GpTape t;
    gp.forward(u, v, V, t);
    return (t.mean().array() * GM.array()).sum() + (t.derivative().array() * GD.array()).sum();
  };
  vi::GpTape tape;
  gp.forward(u, v, V, tape);
  VectorXd grad = VectorXd::Zero(gp.num_params());
  MatrixXd dV(B, P);
  double dlognu = 0;
  gp.backward(tape, GM, GD, dV, grad, &dlognu);

  const double ev = rel_err(flat(dV), fd_gradient(flat(V), loss, 1e-3), 1e-2);
  VectorXd lp(1);
  lp[0] = gp.log_lengthscale();
  const double fd_l = fd_gradient(
      lp,
      [&] {
        gp.log_lengthscale() = lp[0];
        return loss();
      },
      1e-4)[0];
  gp.log_lengthscale() = lp[0];
  VectorXd ln(1);
  ln[0] = std::log(gp.nugget());
  const double fd_n = fd_gradient(
      ln,
      [&] {
        gp.set_nugget(std::exp(ln[0]));
        return loss();
      },
      1e-4)[0];
  gp.set_nugget(std::exp(ln[0]));
  const double el = std::abs(grad[0] - fd_l) / std::abs(fd_l), en = std::abs(dlognu - fd_n) / std::abs(fd_n);
  const double ew = rel_err(grad.tail(gp.warp().num_params()), fd_gradient(gp.warp().params(), loss, 1e-4), 1e-2);
  CAPTURE(ev, el, en, ew);
  CHECK(ev < 1e-6);
  CHECK(el < 1e-6);
  CHECK(en < 1e-6);
  CHECK(ew < 1e-6);
}
