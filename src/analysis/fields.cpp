#include "msrom/analysis/fields.hpp"

#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>
#include <string>

#include <unsupported/Eigen/FFT>

namespace msrom::analysis {

namespace {

// Thomas algorithm: a[i] x[i-1] + b[i] x[i] + c[i] x[i+1] = d[i], i < n (a[0], c[n-1] unused). The
// systems here are strictly diagonally dominant (4 or 6 on the diagonal, 1 off it): no pivoting needed.
void tridiagonal(long n, const double* a, const double* b, const double* c, double* d) {
  std::vector<double> cp(static_cast<std::size_t>(n));
  double beta = b[0];
  d[0] /= beta;
  for (long i = 1; i < n; ++i) {
    cp[i] = c[i - 1] / beta;
    beta = b[i] - a[i] * cp[i];
    d[i] = (d[i] - a[i] * d[i - 1]) / beta;
  }
  for (long i = n - 2; i >= 0; --i) d[i] -= cp[i + 1] * d[i + 1];
}

// The cyclic system M[i-1] + 4 M[i] + M[i+1] = r[i] (indices mod n), by Sherman-Morrison on the Thomas
// algorithm (Numerical Recipes' `cyclic`, corners alpha = beta = 1).
void cyclic(long n, double* r) {
  const double gamma = -4.0;
  std::vector<double> a(static_cast<std::size_t>(n), 1.0), b(a.size(), 4.0), c(a.size(), 1.0),
      z(a.size(), 0.0);
  b[0] = 4.0 - gamma;
  b[n - 1] = 4.0 - 1.0 / gamma;
  tridiagonal(n, a.data(), b.data(), c.data(), r);
  z[0] = gamma;
  z[n - 1] = 1.0;
  tridiagonal(n, a.data(), b.data(), c.data(), z.data());
  const double fact = (r[0] + r[n - 1] / gamma) / (1.0 + z[0] + z[n - 1] / gamma);
  for (long i = 0; i < n; ++i) r[i] -= fact * z[i];
}

long minimum_nodes(const Grid& g) { return g.boundary == Boundary::not_a_knot ? 4 : 3; }

}  // namespace

std::vector<double> spline_second_derivatives(const Grid& g, const double* y) {
  const long n = g.n;
  if (n < minimum_nodes(g))
    throw std::invalid_argument("a cubic spline needs at least " + std::to_string(minimum_nodes(g)) + " nodes (got " +
                                std::to_string(n) + ")");
  std::vector<double> m(static_cast<std::size_t>(n), 0.0);
  // Unit spacing: M[i-1] + 4 M[i] + M[i+1] = 6 (y[i-1] - 2 y[i] + y[i+1]).
  if (g.periodic()) {
    for (long i = 0; i < n; ++i) m[i] = 6.0 * (y[(i + n - 1) % n] - 2.0 * y[i] + y[(i + 1) % n]);
    cyclic(n, m.data());
    return m;
  }
  // Unknowns M[1..n-2]; the end values follow from the end condition.
  const long k = n - 2;
  std::vector<double> a(static_cast<std::size_t>(k), 1.0), b(a.size(), 4.0), c(a.size(), 1.0), r(a.size());
  for (long i = 1; i <= k; ++i) r[i - 1] = 6.0 * (y[i - 1] - 2.0 * y[i] + y[i + 1]);
  if (g.boundary == Boundary::not_a_knot) {
    // M[0] = 2 M[1] - M[2] and M[n-1] = 2 M[n-2] - M[n-3] (s''' continuous at x_1 and x_{n-2}): the first and
    // last rows become 6 M[1] = r[1] and 6 M[n-2] = r[n-2].
    b[0] = 6.0, c[0] = 0.0;
    b[k - 1] = 6.0, a[k - 1] = 0.0;
  }
  tridiagonal(k, a.data(), b.data(), c.data(), r.data());
  for (long i = 1; i <= k; ++i) m[i] = r[i - 1];
  if (g.boundary == Boundary::not_a_knot) {
    m[0] = 2.0 * m[1] - m[2];
    m[n - 1] = 2.0 * m[n - 2] - m[n - 3];
  }
  return m;
}

Resampler::Resampler(const Grid& from, const Grid& to) : from_(from), to_(to) {
  if (from.periodic() != to.periodic())
    throw std::invalid_argument("resampling between a periodic and a non-periodic grid");
  if (to.n < (to.periodic() ? 1 : 2)) throw std::invalid_argument("target grid too small (" + std::to_string(to.n) + " nodes)");
  const long nf = from.n, nt = to.n;
  std::vector<double> e(static_cast<std::size_t>(nf), 0.0);
  w_.assign(static_cast<std::size_t>(nt * nf), 0.0);
  // Target node i sits in source segment [k, k+1] at fraction t, from exact integer arithmetic, so that a
  // target on a source node gets t = 0 (or t = 1 on the last node) and weights exactly 1 and 0.
  std::vector<long> seg(static_cast<std::size_t>(nt));
  std::vector<double> frac(static_cast<std::size_t>(nt));
  for (long i = 0; i < nt; ++i) {
    const long num = from.periodic() ? i * nf : i * (nf - 1), den = from.periodic() ? nt : nt - 1;
    long k = num / den;
    double t = static_cast<double>(num % den) / static_cast<double>(den);
    if (!from.periodic() && k == nf - 1) k = nf - 2, t = 1.0;
    seg[i] = k, frac[i] = t;
  }
  for (long j = 0; j < nf; ++j) {
    e[j] = 1.0;
    const auto m = spline_second_derivatives(from, e.data());
    for (long i = 0; i < nt; ++i) {
      const long k = seg[i], k1 = from.periodic() ? (k + 1) % nf : k + 1;
      const double t = frac[i], s = 1.0 - t;
      w_[i * nf + j] = s * e[k] + t * e[k1] + ((s * s * s - s) * m[k] + (t * t * t - t) * m[k1]) / 6.0;
    }
    e[j] = 0.0;
  }
}

void Resampler::apply(const double* in, double* out) const { apply(in, 1, out, 1); }

void Resampler::apply(const double* in, std::ptrdiff_t in_stride, double* out, std::ptrdiff_t out_stride) const {
  const long nf = from_.n;
  for (long i = 0; i < to_.n; ++i) {
    const double* w = row(i);
    double v = 0;
    for (long j = 0; j < nf; ++j) v += w[j] * in[j * in_stride];
    out[i * out_stride] = v;
  }
}

Resampler2d::Resampler2d(const Grid& from_x, const Grid& from_y, const Grid& to_x, const Grid& to_y)
    : rx_(from_x, to_x), ry_(from_y, to_y),
      tmp_(static_cast<std::size_t>(to_x.n * from_y.n)) {}

void Resampler2d::apply(const double* in, double* out) const {
  const long fx = rx_.from().n, fy = ry_.from().n, tx = rx_.to().n, ty = ry_.to().n;
  // Along x, for every source y-line: tmp[i][j] = sum_k Wx[i][k] in[k][j] (k ascending).
  for (long i = 0; i < tx; ++i) {
    double* t = &tmp_[static_cast<std::size_t>(i * fy)];
    for (long j = 0; j < fy; ++j) t[j] = 0.0;
    const double* w = rx_.row(i);
    for (long k = 0; k < fx; ++k) {
      const double wk = w[k];
      const double* src = in + k * fy;
      for (long j = 0; j < fy; ++j) t[j] += wk * src[j];
    }
  }
  // Along y: out[i][jj] = sum_l Wy[jj][l] tmp[i][l].
  for (long i = 0; i < tx; ++i) ry_.apply(&tmp_[static_cast<std::size_t>(i * fy)], 1, out + i * ty, 1);
}

std::vector<double> power_spectrum(const double* u, std::size_t n) {
  if (n == 0) return {};
  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  std::vector<double> in(u, u + n);
  std::vector<std::complex<double>> out;
  fft.fwd(out, in);
  std::vector<double> e(n / 2 + 1);
  const double scale = 1.0 / (double(n) * double(n));
  for (std::size_t k = 0; k < e.size(); ++k) e[k] = std::norm(out[k]) * scale;
  return e;
}

double relative_error(const double* y, const double* y_hat, std::size_t n) {
  double num = 0, den = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = y[i] - y_hat[i];
    num += d * d;
    den += y[i] * y[i];
  }
  if (den == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(num / den);
}

ErrorSummary summarize(const std::vector<double>& eps) {
  ErrorSummary s;
  s.count = eps.size();
  if (eps.empty()) {
    s.mean = s.std = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  double sum = 0;
  for (double e : eps) sum += e;
  s.mean = sum / static_cast<double>(eps.size());
  double ss = 0;
  for (double e : eps) ss += (e - s.mean) * (e - s.mean);
  s.std = std::sqrt(ss / static_cast<double>(eps.size()));
  return s;
}

}  // namespace msrom::analysis
