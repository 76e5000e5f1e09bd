// The 2-D layers of the multiscale model (nn/conv2d.hpp): Conv2d, ConvTranspose2d, GaussianFilter2d and
// StencilMlp2d. Forward passes against direct loops over their formulas, adjoint identities, consistency with
// the 1-D layers, and every backward pass against central finite differences (4th order:
// (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h, as tests/unit/test_vi_layers.cpp). `-s` shows the measured
// errors.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <iomanip>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/conv.hpp"
#include "msrom/nn/conv2d.hpp"
#include "msrom/nn/filter.hpp"
#include "msrom/nn/mlp.hpp"

#include "fd_util.hpp"

using namespace msrom;
using namespace msrom::nn;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd gaussian(Index rows, Index cols, std::uint64_t step) {
  return test::gaussian(78, rows, cols, step);
}
using test::fd_gradient;
using test::rel_err;

// max |a - b| / (1 + max |b|)
double max_err(const MatrixXd& a, const MatrixXd& b) {
  return (a - b).cwiseAbs().maxCoeff() / (1 + b.cwiseAbs().maxCoeff());
}

Eigen::Map<VectorXd> flat(MatrixXd& m) {
  return {m.data(), m.size()};
}

// "name = value" pairs in scientific notation (Catch prints doubles in fixed notation).
std::string sci(std::initializer_list<std::pair<const char*, double>> v) {
  std::ostringstream o;
  o << std::scientific << std::setprecision(3);
  for (const auto& [name, x] : v) o << name << " = " << x << "  ";
  return o.str();
}

inline Index wrap(Index q, Index n) {
  return ((q % n) + n) % n;
}

double phi(Activation a, double x) {
  switch (a) {
    case Activation::tanh:
      return std::tanh(x);
    case Activation::leaky_relu:
      return x > 0 ? x : 0.01 * x;
    case Activation::swish:
      return x / (1 + std::exp(-x));
    case Activation::identity:
      break;
  }
  return x;
}

// Entry (c, i, j) of a C-channel field on an nx x ny grid (conv2d.hpp layout).
inline Index at(Index c, Index i, Index j, Index C, Index nx) {
  return (j * nx + i) * C + c;
}

// Direct loops over the formulas of conv2d.hpp.
MatrixXd conv2d_reference(const Conv2d& c, const MatrixXd& X, Index nx, Index ny) {
  const Index C = c.in_channels(), O = c.out_channels(), k = c.kernel(), s = c.stride(), p = (k - 1) / 2;
  const Index mx = nx / s, my = ny / s;
  MatrixXd Y(O * mx * my, X.cols());
  for (Index b = 0; b < X.cols(); ++b)
    for (Index oj = 0; oj < my; ++oj)
      for (Index oi = 0; oi < mx; ++oi)
        for (Index o = 0; o < O; ++o) {
          double acc = c.bias()[o];
          for (Index a = 0; a < k; ++a)
            for (Index r = 0; r < k; ++r)
              for (Index ch = 0; ch < C; ++ch)
                acc += c.weight()(o, (a * k + r) * C + ch) *
                       X(at(ch, wrap(s * oi + r - p, nx), wrap(s * oj + a - p, ny), C, nx), b);
          Y(at(o, oi, oj, O, mx), b) = phi(c.activation(), acc);
        }
  return Y;
}

MatrixXd convT2d_reference(const ConvTranspose2d& c, const MatrixXd& X, Index mx, Index my) {
  const Index I = c.in_channels(), O = c.out_channels(), k = c.kernel(), s = c.stride(), p = (k - 1) / 2;
  const Index nx = s * mx, ny = s * my;
  MatrixXd Y = MatrixXd::Zero(O * nx * ny, X.cols());
  for (Index b = 0; b < X.cols(); ++b) {
    for (Index oj = 0; oj < my; ++oj)
      for (Index oi = 0; oi < mx; ++oi)
        for (Index o = 0; o < I; ++o)
          for (Index a = 0; a < k; ++a)
            for (Index r = 0; r < k; ++r)
              for (Index ch = 0; ch < O; ++ch)
                Y(at(ch, wrap(s * oi + r - p, nx), wrap(s * oj + a - p, ny), O, nx), b) +=
                    c.weight()(o, (a * k + r) * O + ch) * X(at(o, oi, oj, I, mx), b);
    for (Index cell = 0; cell < nx * ny; ++cell)
      for (Index ch = 0; ch < O; ++ch) {
        double& y = Y(cell * O + ch, b);
        y = phi(c.activation(), y + c.bias()[ch]);
      }
  }
  return Y;
}

// (G_s x)[oi, oj] = sum_{a, r} g_a g_r x[(s oi + r - p) mod nx, (s oj + a - p) mod ny], and its transpose by
// scatter.
MatrixXd filter2d_reference(const VectorXd& g, const MatrixXd& X, Index nx, Index ny, Index s) {
  const Index k = g.size(), p = (k - 1) / 2, mx = nx / s, my = ny / s;
  MatrixXd Z = MatrixXd::Zero(mx * my, X.cols());
  for (Index b = 0; b < X.cols(); ++b)
    for (Index oj = 0; oj < my; ++oj)
      for (Index oi = 0; oi < mx; ++oi)
        for (Index a = 0; a < k; ++a)
          for (Index r = 0; r < k; ++r)
            Z(oj * mx + oi, b) += g[a] * g[r] * X(wrap(s * oj + a - p, ny) * nx + wrap(s * oi + r - p, nx), b);
  return Z;
}
MatrixXd filter2d_transpose_reference(const VectorXd& g, const MatrixXd& Z, Index nx, Index ny, Index s) {
  const Index k = g.size(), p = (k - 1) / 2, mx = nx / s, my = ny / s;
  MatrixXd X = MatrixXd::Zero(nx * ny, Z.cols());
  for (Index b = 0; b < Z.cols(); ++b)
    for (Index oj = 0; oj < my; ++oj)
      for (Index oi = 0; oi < mx; ++oi)
        for (Index a = 0; a < k; ++a)
          for (Index r = 0; r < k; ++r)
            X(wrap(s * oj + a - p, ny) * nx + wrap(s * oi + r - p, nx), b) += g[a] * g[r] * Z(oj * mx + oi, b);
  return X;
}

// One Mlp call per cell on its gathered (2r+1) x (2r+1) neighbourhood and the globals.
MatrixXd stencil2d_reference(const StencilMlp2d& st, const MatrixXd& X, Index nx, Index ny, const MatrixXd& G) {
  const Index C = st.channels(), r = st.radius(), k = 2 * r + 1, out = st.out_channels();
  // The cell read for index q (-1: a zero).
  const auto cell = [&](Index q, Index n) -> Index {
    if (q >= 0 && q < n) return q;
    if (st.boundary() == StencilBoundary::zero) return -1;
    if (st.boundary() == StencilBoundary::replicate) return q < 0 ? 0 : n - 1;
    return wrap(q, n);
  };
  MatrixXd Y(out * nx * ny, X.cols());
  VectorXd in(k * k * C + st.globals());
  for (Index b = 0; b < X.cols(); ++b)
    for (Index j = 0; j < ny; ++j)
      for (Index i = 0; i < nx; ++i) {
        for (Index qy = 0; qy < k; ++qy)
          for (Index qx = 0; qx < k; ++qx)
            for (Index c = 0; c < C; ++c)
              in[(qy * k + qx) * C + c] = cell(i + qx - r, nx) >= 0 && cell(j + qy - r, ny) >= 0
                                              ? X(at(c, cell(i + qx - r, nx), cell(j + qy - r, ny), C, nx), b)
                                              : 0.0;
        in.tail(st.globals()) = G.col(b);
        Y.col(b).segment((j * nx + i) * out, out) = st.mlp().forward(in);
      }
  return Y;
}

struct Conv2dCase {
  int cin, cout, kernel, stride, nx, ny;
  Activation act;
};

}  // namespace

// ------------------------------------------------------------------------------------------------ Conv2d
TEST_CASE("Conv2d and ConvTranspose2d match direct loops over their formulas", "[nn2d]") {
  const Conv2dCase c =
      GENERATE(Conv2dCase{1, 1, 3, 1, 12, 8, Activation::identity}, Conv2dCase{3, 2, 5, 2, 12, 8, Activation::tanh},
               Conv2dCase{2, 4, 3, 2, 12, 8, Activation::leaky_relu},
               Conv2dCase{2, 3, 11, 2, 12, 8, Activation::swish},  // kernel wider than ny: wraps
               Conv2dCase{4, 3, 5, 4, 8, 12, Activation::identity});
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.nx, c.ny);
  const int B = 3, mx = c.nx / c.stride, my = c.ny / c.stride;
  Conv2d conv(c.cin, c.cout, c.kernel, c.stride, c.act, 3);
  conv.bias() = gaussian(c.cout, 1, 9);
  ConvTranspose2d convT(c.cin, c.cout, c.kernel, c.stride, c.act, 4);
  convT.bias() = gaussian(c.cout, 1, 10);
  REQUIRE(conv.num_params() == c.cout * c.kernel * c.kernel * c.cin + c.cout);
  REQUIRE(convT.num_params() == c.cin * c.kernel * c.kernel * c.cout + c.cout);

  const MatrixXd X = gaussian(c.cin * c.nx * c.ny, B, 1);
  Conv2dTape tape;
  const MatrixXd Y = conv.forward(X, c.nx, c.ny, tape);
  REQUIRE(Y.rows() == c.cout * mx * my);
  CHECK(tape.output_nx() == mx);
  CHECK(tape.output_ny() == my);
  const double e = max_err(Y, conv2d_reference(conv, X, c.nx, c.ny));
  // A smaller batch into the same (grown) tape.
  const MatrixXd Y1 = conv.forward(X.col(2), c.nx, c.ny, tape);
  const double e1 = max_err(Y1, Y.col(2));

  const MatrixXd Xt = gaussian(c.cin * mx * my, B, 2);
  Conv2dTape tt;
  const MatrixXd Yt = convT.forward(Xt, mx, my, tt);
  REQUIRE(Yt.rows() == c.cout * c.nx * c.ny);
  const double et = max_err(Yt, convT2d_reference(convT, Xt, mx, my));
  INFO(sci({{"e", e}, {"e1", e1}, {"et", et}}));
  CHECK(e <= 1e-12);
  CHECK(e1 <= 1e-15);
  CHECK(et <= 1e-12);
}

TEST_CASE("ConvTranspose2d is the adjoint of Conv2d: <conv x, y> = <x, convT y>; im2col2d/col2im2d adjoint", "[nn2d]") {
  const Conv2dCase c = GENERATE(
      Conv2dCase{1, 1, 3, 1, 12, 8, Activation::identity}, Conv2dCase{3, 2, 5, 2, 12, 8, Activation::identity},
      Conv2dCase{2, 4, 9, 4, 8, 12, Activation::identity}, Conv2dCase{8, 4, 5, 2, 16, 6, Activation::identity});
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.nx, c.ny);
  const int B = 3, mx = c.nx / c.stride, my = c.ny / c.stride;
  Conv2d conv(c.cin, c.cout, c.kernel, c.stride, Activation::identity, 4);
  ConvTranspose2d convT(c.cout, c.cin, c.kernel, c.stride, Activation::identity, 5);
  convT.weight() = conv.weight();  // same W, biases 0
  conv.bias().setZero();
  const MatrixXd x = gaussian(c.cin * c.nx * c.ny, B, 3), y = gaussian(c.cout * mx * my, B, 4);
  Conv2dTape t1, t2;
  const MatrixXd Cx = conv.forward(x, c.nx, c.ny, t1);
  const MatrixXd CTy = convT.forward(y, mx, my, t2);
  REQUIRE(CTy.rows() == x.rows());
  const double lhs = (Cx.array() * y.array()).sum(), rhs = (x.array() * CTy.array()).sum();
  INFO(sci({{"lhs", lhs}, {"rhs", rhs}, {"|lhs - rhs|", std::abs(lhs - rhs)}}));
  CHECK(std::abs(lhs - rhs) <= 1e-12 * (std::abs(lhs) + 1));
  MatrixXd cols(c.kernel * c.kernel * c.cin, mx * my * B), back(c.cin * c.nx * c.ny, B);
  VectorXd pad;
  im2col2d(x, c.cin, c.nx, c.ny, c.kernel, c.stride, cols, pad);
  const MatrixXd w = gaussian(cols.rows(), cols.cols(), 6);
  col2im2d(w, c.cin, c.nx, c.ny, c.kernel, c.stride, back, pad);
  CHECK(std::abs((cols.array() * w.array()).sum() - (x.array() * back.array()).sum()) <=
        1e-12 * (1 + cols.norm() * w.norm()));
}

TEST_CASE("Conv2d and ConvTranspose2d gradients (parameters and input) match finite differences", "[nn2d]") {
  const Conv2dCase c =
      GENERATE(Conv2dCase{2, 3, 3, 2, 8, 6, Activation::tanh}, Conv2dCase{3, 2, 5, 1, 6, 4, Activation::leaky_relu},
               Conv2dCase{1, 2, 3, 2, 8, 4, Activation::swish}, Conv2dCase{2, 2, 3, 1, 5, 3, Activation::identity});
  const bool transposed = GENERATE(false, true);
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.nx, c.ny, to_string(c.act), transposed);
  const int B = 3, mx = c.nx / c.stride, my = c.ny / c.stride;
  Workspace ws;
  Conv2dTape tape;
  double err_p = 0, err_x = 0;
  if (!transposed) {
    Conv2d conv(c.cin, c.cout, c.kernel, c.stride, c.act, 7);
    conv.params() += 0.1 * gaussian(conv.num_params(), 1, 8);
    MatrixXd X = gaussian(c.cin * c.nx * c.ny, B, 9);
    const MatrixXd dY = gaussian(c.cout * mx * my, B, 10);
    auto loss = [&] {
      Conv2dTape t;
      return (conv.forward(X, c.nx, c.ny, t).array() * dY.array()).sum();
    };
    conv.forward(X, c.nx, c.ny, tape);
    VectorXd grad = VectorXd::Zero(conv.num_params());
    MatrixXd dX;
    conv.backward(tape, dY, grad, &dX, ws);
    err_p = rel_err(grad, fd_gradient(conv.params(), loss, 1e-3), 1e-2);
    err_x = rel_err(flat(dX), fd_gradient(flat(X), loss, 1e-3), 1e-2);
    VectorXd grad2 = grad;  // accumulation
    conv.backward(tape, dY, grad2, nullptr, ws);
    CHECK((grad2 - 2 * grad).norm() <= 1e-14 * grad.norm());
  } else {
    ConvTranspose2d conv(c.cin, c.cout, c.kernel, c.stride, c.act, 7);
    conv.params() += 0.1 * gaussian(conv.num_params(), 1, 8);
    MatrixXd X = gaussian(c.cin * mx * my, B, 9);
    const MatrixXd dY = gaussian(c.cout * c.nx * c.ny, B, 10);
    auto loss = [&] {
      Conv2dTape t;
      return (conv.forward(X, mx, my, t).array() * dY.array()).sum();
    };
    conv.forward(X, mx, my, tape);
    VectorXd grad = VectorXd::Zero(conv.num_params());
    MatrixXd dX;
    conv.backward(tape, dY, grad, &dX, ws);
    err_p = rel_err(grad, fd_gradient(conv.params(), loss, 1e-3), 1e-2);
    err_x = rel_err(flat(dX), fd_gradient(flat(X), loss, 1e-3), 1e-2);
    VectorXd grad2 = grad;
    conv.backward(tape, dY, grad2, nullptr, ws);
    CHECK((grad2 - 2 * grad).norm() <= 1e-14 * grad.norm());
  }
  // LeakyReLU has kinks: FD steps that cross one are off by O(h) (as the 1-D test).
  const double tol = c.act == Activation::leaky_relu ? 1e-4 : 1e-6;
  INFO(sci({{"err_p", err_p}, {"err_x", err_x}}));
  CHECK(err_p < tol);
  CHECK(err_x < tol);
}

TEST_CASE("Conv2d/ConvTranspose2d on fields constant along y are Conv1d/ConvTranspose1d with y-summed weights",
          "[nn2d]") {
  // y[o, oi, oj] of a y-constant field does not depend on oj and is the 1-D conv with W1[o, r C + c] =
  // sum_a W[o, (a k + r) C + c]. ny = 1 is the degenerate nx x 1 grid (stride 1 only).
  struct Case {
    int cin, cout, kernel, stride, nx, ny;
  };
  const Case c =
      GENERATE(Case{2, 3, 5, 1, 12, 1}, Case{2, 3, 5, 2, 12, 4}, Case{3, 2, 3, 2, 8, 6}, Case{1, 2, 7, 1, 10, 3});
  CAPTURE(c.cin, c.cout, c.kernel, c.stride, c.nx, c.ny);
  const int B = 3, k = c.kernel, mx = c.nx / c.stride, my = c.ny / c.stride;
  Conv2d conv(c.cin, c.cout, k, c.stride, Activation::tanh, 21);
  conv.bias() = gaussian(c.cout, 1, 22);
  Conv1d conv1(c.cin, c.cout, k, c.stride, Activation::tanh, 23);
  conv1.bias() = conv.bias();
  conv1.weight().setZero();
  for (int a = 0; a < k; ++a) conv1.weight() += conv.weight().middleCols(a * k * c.cin, k * c.cin);
  const MatrixXd x1 = gaussian(c.cin * c.nx, B, 24);
  MatrixXd x2(c.cin * c.nx * c.ny, B);
  for (int j = 0; j < c.ny; ++j) x2.middleRows(j * c.nx * c.cin, c.nx * c.cin) = x1;
  Conv2dTape t2;
  ConvTape t1;
  const MatrixXd y2 = conv.forward(x2, c.nx, c.ny, t2);
  const MatrixXd y1 = conv1.forward(x1, t1);
  double e = 0;
  for (int oj = 0; oj < my; ++oj) e = std::max(e, max_err(y2.middleRows(oj * mx * c.cout, mx * c.cout), y1));
  INFO(sci({{"e", e}}));
  CHECK(e <= 1e-13);
  if (c.stride == 1) {  // the transposed layer: every output row j gets each y-tap exactly once
    ConvTranspose2d convT(c.cin, c.cout, k, 1, Activation::tanh, 25);
    convT.bias() = gaussian(c.cout, 1, 26);
    ConvTranspose1d convT1(c.cin, c.cout, k, 1, Activation::tanh, 27);
    convT1.bias() = convT.bias();
    convT1.weight().setZero();
    for (int a = 0; a < k; ++a) convT1.weight() += convT.weight().middleCols(a * k * c.cout, k * c.cout);
    const MatrixXd yt2 = convT.forward(x2, c.nx, c.ny, t2);
    const MatrixXd yt1 = convT1.forward(x1, t1);
    double et = 0;
    for (int j = 0; j < c.ny; ++j) et = std::max(et, max_err(yt2.middleRows(j * c.nx * c.cout, c.nx * c.cout), yt1));
    INFO(sci({{"et", et}}));
    CHECK(et <= 1e-13);
  }
}

// -------------------------------------------------------------------------------------- GaussianFilter2d
TEST_CASE("GaussianFilter2d: direct 2-D sum, exact adjoint, constants kept, y-constant fields filter as in 1-D",
          "[nn2d]") {
  struct Case {
    double std;
    int nx, ny, s;
  };
  const Case c =
      GENERATE(Case{1.3, 12, 8, 1}, Case{1.3, 12, 8, 2}, Case{2.0, 12, 8, 4}, Case{3.3, 8, 12, 2}, Case{0.8, 6, 10, 2});
  CAPTURE(c.std, c.nx, c.ny, c.s);
  const int B = 3, mx = c.nx / c.s, my = c.ny / c.s;
  GaussianFilter2d f(c.std);
  f.params()[0] += std::log(1.07);  // away from the initial value: the cached kernel must follow
  REQUIRE(f.width() == 2 * std::lround(2 * c.std) + 1);
  CHECK(f.kernel().sum() == Approx(1.0).epsilon(1e-15));
  const MatrixXd X = gaussian(c.nx * c.ny, B, 1), Zc = gaussian(mx * my, B, 2);
  MatrixXd Z(mx * my, B), XT(c.nx * c.ny, B);
  f.apply(X, c.nx, c.ny, c.s, Z);
  f.apply_transpose(Zc, c.nx, c.ny, c.s, XT);
  const double e = max_err(Z, filter2d_reference(f.kernel(), X, c.nx, c.ny, c.s));
  const double et = max_err(XT, filter2d_transpose_reference(f.kernel(), Zc, c.nx, c.ny, c.s));
  const double lhs = (Z.array() * Zc.array()).sum(), rhs = (X.array() * XT.array()).sum();
  INFO(sci({{"e", e}, {"et", et}, {"lhs", lhs}, {"rhs", rhs}, {"|lhs - rhs|", std::abs(lhs - rhs)}}));
  CHECK(e <= 1e-12);
  CHECK(et <= 1e-12);
  CHECK(std::abs(lhs - rhs) <= 1e-12 * (1 + std::abs(lhs)));
  // A constant field is kept (the kernel sums to 1).
  const MatrixXd K = MatrixXd::Constant(c.nx * c.ny, B, -2.9);
  f.apply(K, c.nx, c.ny, c.s, Z);
  CHECK((Z.array() + 2.9).abs().maxCoeff() < 1e-14);
  // A field constant along y is filtered along x by the 1-D filter of the same std; constant along x, along y.
  const GaussianFilter& f1 = f.axis_filter();
  const MatrixXd x1 = gaussian(c.nx, B, 5);
  MatrixXd x2(c.nx * c.ny, B), z1(mx, B);
  for (int j = 0; j < c.ny; ++j) x2.middleRows(j * c.nx, c.nx) = x1;
  f.apply(x2, c.nx, c.ny, c.s, Z);
  f1.apply(x1, c.s, z1);
  double ey = 0;
  for (int oj = 0; oj < my; ++oj) ey = std::max(ey, max_err(Z.middleRows(oj * mx, mx), z1));
  const MatrixXd w1 = gaussian(c.ny, B, 6);
  MatrixXd w2(c.nx * c.ny, B), v1(my, B);
  for (int j = 0; j < c.ny; ++j) w2.middleRows(j * c.nx, c.nx) = w1.row(j).replicate(c.nx, 1);
  f.apply(w2, c.nx, c.ny, c.s, Z);
  f1.apply(w1, c.s, v1);
  double ex = 0;
  for (int oj = 0; oj < my; ++oj)
    ex = std::max(ex, (Z.middleRows(oj * mx, mx).rowwise() - v1.row(oj)).cwiseAbs().maxCoeff());
  INFO(sci({{"ey", ey}, {"ex", ex}}));
  CHECK(ey <= 1e-14);
  CHECK(ex <= 1e-14);
}

TEST_CASE("GaussianFilter2d gradients: d/dlog sigma of the filter, its transpose and the residual; input cotangents",
          "[nn2d]") {
  struct Case {
    double std;
    int nx, ny, s;
  };
  const Case c = GENERATE(Case{1.3, 12, 8, 1}, Case{1.3, 12, 8, 2}, Case{2.0, 12, 8, 4}, Case{3.3, 8, 12, 2},
                          Case{8.0, 64, 32, 16});
  CAPTURE(c.std, c.nx, c.ny, c.s);
  const int B = 3, mx = c.nx / c.s, my = c.ny / c.s;
  GaussianFilter2d f(c.std);
  f.params()[0] += std::log(1.13);
  MatrixXd X = gaussian(c.nx * c.ny, B, 3), dZ = gaussian(mx * my, B, 4);
  auto loss = [&] {
    MatrixXd Z(mx * my, B);
    f.apply(X, c.nx, c.ny, c.s, Z);
    return (Z.array() * dZ.array()).sum();
  };
  auto loss_t = [&] {
    MatrixXd Y(c.nx * c.ny, B);
    f.apply_transpose(dZ, c.nx, c.ny, c.s, Y);
    return (Y.array() * X.array()).sum();
  };
  const double h = 1e-3;
  const double g = f.log_std_gradient(X, dZ, c.nx, c.ny, c.s);
  CHECK(g == Approx(f.std() * f.std_gradient(X, dZ, c.nx, c.ny, c.s)).epsilon(1e-15));
  const double fd = fd_gradient(f.params(), loss, h)[0];
  const double fdt = fd_gradient(f.params(), loss_t, h)[0];
  const double e = std::abs(g - fd) / std::abs(fd), et = std::abs(g - fdt) / std::abs(fdt);
  // Input cotangents: dX = G^T dZ for the filter, dZ-side G dY for the transpose.
  MatrixXd dX(c.nx * c.ny, B), dZt(mx * my, B);
  f.apply_transpose(dZ, c.nx, c.ny, c.s, dX);
  f.apply(X, c.nx, c.ny, c.s, dZt);
  const double ex = rel_err(flat(dX), fd_gradient(flat(X), loss, h), 1e-2);
  const double ez = rel_err(flat(dZt), fd_gradient(flat(dZ), loss_t, h), 1e-2);
  INFO(sci({{"g", g}, {"fd", fd}, {"fdt", fdt}, {"e", e}, {"et", et}, {"ex", ex}, {"ez", ez}}));
  CHECK(e <= 1e-6);
  CHECK(et <= 1e-6);
  CHECK(ex <= 1e-9);
  CHECK(ez <= 1e-9);
  if (c.s == 1) {  // the residual R = X - G_1 X: d<dY, R>/dlog sigma = -log_std_gradient, dX = dY - G_1^T dY
    MatrixXd dY = gaussian(c.nx * c.ny, B, 5);
    auto loss_r = [&] {
      MatrixXd Z(c.nx * c.ny, B);
      f.apply(X, c.nx, c.ny, 1, Z);
      return ((X - Z).array() * dY.array()).sum();
    };
    const double gr = -f.log_std_gradient(X, dY, c.nx, c.ny, 1);
    const double er = std::abs(gr - fd_gradient(f.params(), loss_r, h)[0]) / std::abs(gr);
    MatrixXd dXr(c.nx * c.ny, B);
    f.apply_transpose(dY, c.nx, c.ny, 1, dXr);
    dXr = dY - dXr;
    const double exr = rel_err(flat(dXr), fd_gradient(flat(X), loss_r, h), 1e-2);
    INFO(sci({{"er", er}, {"exr", exr}}));
    CHECK(er <= 1e-6);
    CHECK(exr <= 1e-9);
  }
}

// ---------------------------------------------------------------------------------------- StencilMlp2d
TEST_CASE("StencilMlp2d is one Mlp at every cell on its periodic (2r+1)x(2r+1) neighbourhood plus the globals",
          "[nn2d]") {
  const int r = GENERATE(1, 2);
  const int C = 2, G = 3, nx = 7, ny = 5, B = 3;
  CAPTURE(r);
  StencilMlp2d st(C, r, G, {6, 5}, 2, Activation::tanh, 11);
  REQUIRE(st.mlp().input_dim() == (2 * r + 1) * (2 * r + 1) * C + G);
  const MatrixXd X = gaussian(C * nx * ny, B, 1), g = gaussian(G, B, 2);
  StencilTape2d tape;
  const MatrixXd Y = st.forward(X, nx, ny, g, tape);
  REQUIRE(Y.rows() == 2 * nx * ny);
  const double e = max_err(Y, stencil2d_reference(st, X, nx, ny, g));
  // Translation equivariance: shifting the field by (3, 2) shifts the output.
  MatrixXd Xs(C * nx * ny, B);
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      Xs.middleRows(at(0, (i + 3) % nx, (j + 2) % ny, C, nx), C) = X.middleRows(at(0, i, j, C, nx), C);
  StencilTape2d t2;
  const MatrixXd Ys = st.forward(Xs, nx, ny, g, t2);
  double es = 0;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      es = std::max(es,
                    (Ys.middleRows(at(0, (i + 3) % nx, (j + 2) % ny, 2, nx), 2) - Y.middleRows(at(0, i, j, 2, nx), 2))
                        .cwiseAbs()
                        .maxCoeff());
  // The inference path (nn kernels) agrees with the training path to rounding.
  MatrixXd Yi(2 * nx * ny, B);
  VectorXd scratch;
  Workspace ws;
  st.forward(X, nx, ny, g, Yi, scratch, ws);
  const double ei = max_err(Yi, Y);
  INFO(sci({{"e", e}, {"es", es}, {"ei", ei}}));
  CHECK(e <= 1e-12);
  CHECK(es <= 1e-14);
  CHECK(ei <= 1e-13);
}

TEST_CASE("StencilMlp2d with zeros or edge copies beyond the edges is the periodic layer on the padded grid",
          "[nn2d]") {
  const int r = GENERATE(1, 2);
  const StencilBoundary boundary = GENERATE(StencilBoundary::zero, StencilBoundary::replicate);
  const int C = 2, G = 1, nx = 6, ny = 5, B = 2;
  CAPTURE(r, to_string(boundary));
  const StencilMlp2d zero(C, r, G, {6, 5}, 2, Activation::tanh, 13, boundary),
      wrapped(C, r, G, {6, 5}, 2, Activation::tanh, 13);
  REQUIRE(zero.boundary() == boundary);
  REQUIRE(zero.params() == wrapped.params());
  const MatrixXd X = gaussian(C * nx * ny, B, 1), g = gaussian(G, B, 2);
  StencilTape2d tape;
  const MatrixXd Y = zero.forward(X, nx, ny, g, tape);
  // The field inside a ring of r cells (zeros, or the nearest edge cell's values) on an (nx + 2r) x (ny + 2r)
  // periodic grid: a wrapped stencil of an inner cell then reaches the ring, never the far side.
  const Index px = nx + 2 * r, py = ny + 2 * r;
  MatrixXd P = MatrixXd::Zero(C * px * py, B);
  for (Index j = 0; j < py; ++j)
    for (Index i = 0; i < px; ++i) {
      const Index si = std::clamp<Index>(i - r, 0, nx - 1), sj = std::clamp<Index>(j - r, 0, ny - 1);
      const bool ring = si != i - r || sj != j - r;
      if (!ring || boundary == StencilBoundary::replicate)
        P.middleRows(at(0, i, j, C, px), C) = X.middleRows(at(0, si, sj, C, nx), C);
    }
  StencilTape2d tp;
  const MatrixXd Yp = wrapped.forward(P, px, py, g, tp);
  double e = 0;
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i)
      e = std::max(e, (Y.middleRows(at(0, i, j, 2, nx), 2) - Yp.middleRows(at(0, i + r, j + r, 2, px), 2))
                          .cwiseAbs()
                          .maxCoeff());
  const double eref = max_err(Y, stencil2d_reference(zero, X, nx, ny, g));
  // The corner cell differs from the periodic layer's (its stencil would wrap).
  StencilTape2d tw;
  const double corner = (Y.topRows(2) - wrapped.forward(X, nx, ny, g, tw).topRows(2)).cwiseAbs().maxCoeff();
  MatrixXd Yi(2 * nx * ny, B);
  VectorXd scratch;
  Workspace ws;
  zero.forward(X, nx, ny, g, Yi, scratch, ws);
  const double ei = max_err(Yi, Y);
  INFO(sci({{"e", e}, {"eref", eref}, {"corner", corner}, {"ei", ei}}));
  CHECK(e <= 1e-14);
  CHECK(eref <= 1e-12);
  CHECK(corner > 1e-3);
  CHECK(ei <= 1e-13);
}

TEST_CASE("StencilMlp2d gradients (parameters, field, globals) match finite differences", "[nn2d]") {
  struct Case {
    int C, r, G, nx, ny;
    Activation act;
    StencilBoundary boundary;
  };
  const Case c = GENERATE(Case{1, 2, 0, 6, 4, Activation::tanh, StencilBoundary::periodic},  // 5 x 5 wider than ny: wraps
                          Case{2, 1, 2, 5, 4, Activation::leaky_relu, StencilBoundary::periodic},
                          Case{2, 2, 2, 6, 6, Activation::swish, StencilBoundary::periodic},
                          Case{2, 2, 2, 6, 4, Activation::swish, StencilBoundary::zero},
                          Case{2, 2, 2, 6, 4, Activation::swish, StencilBoundary::replicate});
  CAPTURE(c.C, c.r, c.G, c.nx, c.ny, to_string(c.act), to_string(c.boundary));
  const int B = 3;
  StencilMlp2d st(c.C, c.r, c.G, {8, 8}, 2, c.act, 12, c.boundary);
  st.params() += 0.1 * gaussian(st.num_params(), 1, 3);
  MatrixXd X = gaussian(c.C * c.nx * c.ny, B, 4), g = gaussian(c.G, B, 5);
  const MatrixXd dY = gaussian(2 * c.nx * c.ny, B, 6);
  auto loss = [&] {
    StencilTape2d t;
    return (st.forward(X, c.nx, c.ny, g, t).array() * dY.array()).sum();
  };
  StencilTape2d tape;
  st.forward(X, c.nx, c.ny, g, tape);
  VectorXd grad = VectorXd::Zero(st.num_params());
  MatrixXd dX, dG;
  Workspace ws;
  st.backward(tape, dY, grad, &dX, &dG, ws);
  // LeakyReLU: a step of 1e-3 in a first-layer weight moves some of the 40 x 3 cells' pre-activations across
  // the kink (an O(1) error in that entry); 1e-4 stays clear of them here.
  const double h = c.act == Activation::leaky_relu ? 1e-4 : 1e-3;
  const double ep = rel_err(grad, fd_gradient(st.params(), loss, h), 1e-2);
  const double ex = rel_err(flat(dX), fd_gradient(flat(X), loss, h), 1e-2);
  const double eg = c.G > 0 ? rel_err(flat(dG), fd_gradient(flat(g), loss, h), 1e-2) : 0.0;
  const double tol = c.act == Activation::leaky_relu ? 1e-4 : 1e-6;
  INFO(sci({{"ep", ep}, {"ex", ex}, {"eg", eg}}));
  CHECK(ep < tol);
  CHECK(ex < tol);
  CHECK(eg < tol);
  // A non-contiguous cotangent (a block of a larger matrix) gives the same result.
  MatrixXd big = MatrixXd::Zero(dY.rows() + 3, B);
  big.topRows(dY.rows()) = dY;
  VectorXd grad2 = VectorXd::Zero(st.num_params());
  MatrixXd dX2;
  st.backward(tape, big.topRows(dY.rows()), grad2, &dX2, nullptr, ws);
  CHECK(grad2 == grad);
  CHECK(dX2 == dX);
}

// ------------------------------------------------------------------------------------------- bad sizes
TEST_CASE("2-D layers: an even kernel or bad channels are input errors; a stride not dividing the grid throws",
          "[nn2d]") {
  CHECK_THROWS_AS(Conv2d(1, 1, 4, 1, Activation::identity, 1), InputError);
  CHECK_THROWS_AS(Conv2d(0, 1, 3, 1, Activation::identity, 1), InputError);
  CHECK_THROWS_AS(Conv2d(1, 1, 3, 0, Activation::identity, 1), InputError);
  CHECK_THROWS_AS(ConvTranspose2d(1, 1, 2, 2, Activation::identity, 1), InputError);
  CHECK_THROWS_AS(GaussianFilter2d(0.0), InputError);
  CHECK_THROWS_AS(StencilMlp2d(1, -1, 0, {4}, 1, Activation::tanh, 1), InputError);
  CHECK_THROWS_AS(StencilMlp2d(0, 1, 0, {4}, 1, Activation::tanh, 1), InputError);

  Conv2d conv(2, 3, 3, 2, Activation::identity, 1);
  Conv2dTape tape;
  CHECK_THROWS_AS(conv.forward(gaussian(2 * 12 * 7, 1, 1), 12, 7, tape), std::invalid_argument);  // 2 !| 7
  CHECK_NOTHROW(conv.forward(gaussian(2 * 6 * 8, 1, 1), 6, 8, tape));
  CHECK_THROWS_AS(conv.forward(gaussian(2 * 12 * 8 + 1, 1, 1), 12, 8, tape), std::invalid_argument);
  CHECK_THROWS_AS(conv.output_length(7), std::invalid_argument);
  CHECK(conv.output_length(8) == 4);
  conv.forward(gaussian(2 * 12 * 8, 2, 1), 12, 8, tape);
  VectorXd grad = VectorXd::Zero(conv.num_params());
  Workspace ws;
  CHECK_THROWS_AS(conv.backward(tape, gaussian(3 * 6 * 4, 1, 2), grad, nullptr, ws), std::invalid_argument);
  ConvTranspose2d convT(3, 2, 3, 2, Activation::identity, 1);
  CHECK_THROWS_AS(convT.forward(gaussian(3 * 6 * 4 + 1, 1, 1), 6, 4, tape), std::invalid_argument);

  GaussianFilter2d f(1.0);
  MatrixXd Z(6 * 4, 1), X(12 * 7, 1);
  CHECK_THROWS_AS(f.apply(gaussian(12 * 7, 1, 1), 12, 7, 2, Z), std::invalid_argument);
  CHECK_THROWS_AS(f.apply_transpose(Z, 12, 7, 2, X), std::invalid_argument);
  CHECK_THROWS_AS(f.std_gradient(X, Z, 12, 7, 2), std::invalid_argument);
  MatrixXd Zw(5 * 4, 1);
  CHECK_THROWS_AS(f.apply(gaussian(12 * 8, 1, 1), 12, 8, 2, Zw), std::invalid_argument);  // wrong coarse size

  StencilMlp2d st(2, 1, 1, {4}, 1, Activation::tanh, 1);
  StencilTape2d st_tape;
  CHECK_THROWS_AS(st.forward(gaussian(2 * 5 * 4 + 2, 1, 1), 5, 4, gaussian(1, 1, 2), st_tape), std::invalid_argument);
  CHECK_THROWS_AS(st.forward(gaussian(2 * 5 * 4, 1, 1), 5, 4, gaussian(2, 1, 2), st_tape), std::invalid_argument);
}
