#pragma once
// Fields on uniform grids: cubic-spline resampling between two grids of one domain, and the relative
// error eps(t) of a predicted field (method doc, section 4). Pure functions, no I/O, no MPI.
//
//   Resampler r(Grid{20, Boundary::periodic}, Grid{1000, Boundary::periodic});   // coarse -> fine
//   r.apply(coarse.data(), fine.data());
//   Resampler2d b({8, natural}, {8, natural}, {128, natural}, {128, natural});  // bicubic (tensor product)
//   relative_error(y, y_hat, n)  = ||y - y_hat||_2 / ||y||_2
//   power_spectrum(u, n)         = |u_hat_k|^2 / n^2, k = 0..n/2 (periodic fields; Eigen's FFT)
//
// Grids are node-based and cover the same domain [0, L]:
//   periodic:   n nodes x_i = i L / n (x_n is x_0 again)
//   natural, not_a_knot: n nodes x_i = i L / (n - 1), both end nodes included
// Only node indices matter (both grids span the same L), so a resampler needs no lengths.
//
// The interpolant is the cubic spline through the source nodes (C2, piecewise cubic), with end conditions
//   periodic    the spline is periodic (cyclic system; 4th-order accurate for smooth periodic functions)
//   natural     s'' = 0 at both ends (exact for linear functions; 4th-order where the function's second
//               derivative vanishes at the ends: Dirichlet u = 0 fields whose PDE makes u_xx = 0 there,
//               e.g. Burgers 2-D, where u_t = 0 and u = u_y = u_yy = 0 on x = 0 leave nu u_xx = 0)
//   not_a_knot  s''' continuous at the second and last-but-one nodes (exact for cubic polynomials)
// The map is linear, y_to = W y_from; W (n_to x n_from) is built once. A target node that coincides with a
// source node gets that node's value exactly (bit for bit): subsampling is the special case of resampling
// onto a grid whose nodes are a subset.
//
// Bicubic resampling is the tensor product: along x for every source y-line, then along y. Arrays are
// [nx, ny], y fastest (the data files' order). Every result is a fixed sequence of floating-point
// operations (plain loops, no BLAS), so it is bitwise the same on every rank.
#include <cstddef>
#include <vector>

namespace msrom::analysis {

enum class Boundary { periodic, natural, not_a_knot };

struct Grid {
  long n = 0;
  Boundary boundary = Boundary::periodic;
  bool periodic() const { return boundary == Boundary::periodic; }
};

// The second derivatives M of the cubic spline through y (n values) on a grid of unit spacing.
// std::invalid_argument if the grid is too small (periodic, natural: n >= 3; not_a_knot: n >= 4).
std::vector<double> spline_second_derivatives(const Grid& g, const double* y);

class Resampler {
 public:
  // std::invalid_argument for grids that are too small or of different kinds (periodic vs not).
  Resampler(const Grid& from, const Grid& to);
  // out[i] = sum_j W[i][j] in[j] (in: from.n values, out: to.n values; out may not alias in).
  void apply(const double* in, double* out) const;
  // Same, on strided data: in[j * in_stride], out[i * out_stride].
  void apply(const double* in, std::ptrdiff_t in_stride, double* out, std::ptrdiff_t out_stride) const;
  const Grid& from() const { return from_; }
  const Grid& to() const { return to_; }
  // Row i of W (from.n weights).
  const double* row(long i) const { return &w_[static_cast<std::size_t>(i * from_.n)]; }

 private:
  Grid from_, to_;
  std::vector<double> w_;  // [to.n, from.n]
};

// Bicubic (tensor-product) resampling of [nx, ny] arrays, y fastest.
class Resampler2d {
 public:
  Resampler2d(const Grid& from_x, const Grid& from_y, const Grid& to_x, const Grid& to_y);
  // in: from_x.n * from_y.n values; out: to_x.n * to_y.n values.
  void apply(const double* in, double* out) const;

 private:
  Resampler rx_, ry_;
  mutable std::vector<double> tmp_;  // [to_x.n, from_y.n]
};

// ||y - y_hat||_2 / ||y||_2 over n values (NaN if ||y|| = 0).
double relative_error(const double* y, const double* y_hat, std::size_t n);

// Power spectrum of a periodic field of n values: E[k] = |u_hat_k|^2 / n^2, k = 0..n/2, with
// u_hat_k = sum_j u_j e^{-2 pi i j k / n} (so u = cos(2 pi k0 j / n), 0 < k0 < n/2, has E[k0] = 1/4).
std::vector<double> power_spectrum(const double* u, std::size_t n);

// Mean and population std of eps over all (trajectory, time) pairs.
struct ErrorSummary {
  double mean = 0, std = 0;
  std::size_t count = 0;
};
ErrorSummary summarize(const std::vector<double>& eps);

}  // namespace msrom::analysis
