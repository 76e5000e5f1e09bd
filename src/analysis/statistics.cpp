// Statistics of scalar time series (see include/msrom/analysis/statistics.hpp).
//
// Numerical choices:
//   moments   two passes. Pass 1: provisional mean, summed as offsets from x[0] (exact for constant data).
//             Pass 2: power sums of d = x - mean, then shifted by the residual mean sum(d)/n (corrected
//             two-pass, Chan/Golub/LeVeque). Sums are accumulated in blocks so rounding error grows with
//             the block length plus n/block, not with n.
//   pdf       histogram: bin j is [g_j - dx/2, g_j + dx/2); density count/(n dx), so sum*dx = fraction of
//             samples on the grid. KDE: samples are linearly binned onto the grid extended by the kernel
//             half-width W = ceil(5h/dx) points on each side (so samples just off a user-given grid still
//             contribute to it), then convolved directly with the Gaussian sampled at the grid spacing,
//             truncated at W and renormalised to unit discrete mass. Hence sum(kde)*dx over the extended
//             grid is exactly 1; on the returned grid it falls short only by the mass beyond it.
//             Silverman: population std, quartiles by linear interpolation (R type 7); if min(std, IQR/1.34)
//             is 0 (ties) the other one is used; if both are 0 there is no bandwidth and pdf throws.
//   acf       blocked FFT correlation: block b (B samples) and its continuation (the same B samples plus
//             the next max_lag) are zero-padded to M = B + max_lag, a power of two, so the circular
//             correlation has no wrap-around for lags <= max_lag; the cross-spectra are summed over blocks
//             before one inverse FFT. Exact up to FFT rounding, like one FFT padded to 2n, but with O(M)
//             memory: M = next_pow2(max(4*(max_lag+1), 2^16)), or next_pow2(n + max_lag) when that is
//             smaller (one block: the plain power spectrum).
//   windowed  sliding window sums, recomputed exactly every max(w, 4096) samples to stop drift: O(n) time,
//             O(1) memory.
#include "msrom/analysis/statistics.hpp"

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <stdexcept>
#include <string>

#include <unsupported/Eigen/FFT>

namespace msrom::analysis {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument(what);
}

constexpr std::size_t kBlock = 4096;  // summation block length

std::size_t next_pow2(std::size_t m) {
  std::size_t p = 1;
  while (p < m) p <<= 1;
  return p;
}

double mean_of(const double* x, std::size_t n, std::size_t stride) {
  const double x0 = x[0];
  double total = 0;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t e = std::min(n, b + kBlock);
    double s = 0;
    for (std::size_t i = b; i < e; ++i) s += x[i * stride] - x0;
    total += s;
  }
  return x0 + total / static_cast<double>(n);
}

// Linear-interpolation quantile (R type 7) of v, reordering v. 0 <= p <= 1.
double quantile(std::vector<double>& v, double p) {
  const double h = p * static_cast<double>(v.size() - 1);
  const auto k = static_cast<std::size_t>(std::floor(h));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  const double lo = v[k];
  if (k + 1 >= v.size()) return lo;
  const double hi = *std::min_element(v.begin() + static_cast<std::ptrdiff_t>(k) + 1, v.end());
  return lo + (h - static_cast<double>(k)) * (hi - lo);
}

double silverman_bandwidth(const double* x, std::size_t n) {
  const double sd = moments(x, n).std;
  std::vector<double> v(x, x + n);
  const double q1 = quantile(v, 0.25);
  const double q3 = quantile(v, 0.75);
  const double iqr_sd = (q3 - q1) / 1.34;
  // With heavy ties the IQR can vanish while the spread does not: fall back to the non-zero scale.
  double scale = std::min(sd, iqr_sd);
  if (!(scale > 0)) scale = std::max(sd, iqr_sd);
  require(scale > 0, "pdf: the samples have zero spread, so Silverman's bandwidth is 0; give a bandwidth");
  return 0.9 * scale * std::pow(static_cast<double>(n), -0.2);
}

Transitions finish(Transitions t, double dt) {
  for (std::size_t k = 1; k < t.index.size(); ++k)
    t.residence_times.push_back(static_cast<double>(t.index[k] - t.index[k - 1]) * dt);
  if (!t.residence_times.empty()) {
    double s = 0;
    for (double r : t.residence_times) s += r;
    t.mean_residence_time = s / static_cast<double>(t.residence_times.size());
  }
  return t;
}

}  // namespace

Moments moments(const double* x, std::size_t n, std::size_t stride) {
  require(x != nullptr && n > 0, "moments: no samples");
  require(stride > 0, "moments: stride must be positive");
  const double mu0 = mean_of(x, n, stride);

  double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
  for (std::size_t b = 0; b < n; b += kBlock) {
    const std::size_t e = std::min(n, b + kBlock);
    double a1 = 0, a2 = 0, a3 = 0, a4 = 0;
    for (std::size_t i = b; i < e; ++i) {
      const double d = x[i * stride] - mu0;
      const double d2 = d * d;
      a1 += d;
      a2 += d2;
      a3 += d2 * d;
      a4 += d2 * d2;
    }
    s1 += a1;
    s2 += a2;
    s3 += a3;
    s4 += a4;
  }
  const double inv_n = 1.0 / static_cast<double>(n);
  const double delta = s1 * inv_n;  // residual mean of d: the correction to mu0
  const double r2 = s2 * inv_n, r3 = s3 * inv_n, r4 = s4 * inv_n;
  const double m2 = std::max(0.0, r2 - delta * delta);
  const double m3 = r3 - 3 * delta * r2 + 2 * delta * delta * delta;
  const double m4 = r4 - 4 * delta * r3 + 6 * delta * delta * r2 - 3 * delta * delta * delta * delta;

  Moments m;
  m.count = n;
  m.mean = mu0 + delta;
  m.std = std::sqrt(m2);
  if (m2 > 0) {
    m.skewness = m3 / (m2 * m.std);
    m.kurtosis = m4 / (m2 * m2);
  } else {
    m.skewness = m.kurtosis = std::numeric_limits<double>::quiet_NaN();
  }
  return m;
}

Pdf pdf(const double* x, std::size_t n, std::size_t grid_points, double lo, double hi, double bandwidth) {
  require(x != nullptr && n > 0, "pdf: no samples");
  require(grid_points >= 2, "pdf: the grid needs at least 2 points");
  require(std::isfinite(bandwidth), "pdf: the bandwidth is not finite");
  double xmin = x[0], xmax = x[0];
  for (std::size_t i = 0; i < n; ++i) {
    require(std::isfinite(x[i]), "pdf: sample " + std::to_string(i) + " is not finite");
    xmin = std::min(xmin, x[i]);
    xmax = std::max(xmax, x[i]);
  }
  const double h = bandwidth > 0 ? bandwidth : silverman_bandwidth(x, n);
  if (!(lo < hi)) {
    lo = xmin - 3 * h;
    hi = xmax + 3 * h;
  }
  require(std::isfinite(lo) && std::isfinite(hi), "pdf: the grid bounds are not finite");

  const std::size_t G = grid_points;
  const double dx = (hi - lo) / static_cast<double>(G - 1);
  const double nd = static_cast<double>(n);
  Pdf out;
  out.bandwidth = h;
  out.grid.resize(G);
  for (std::size_t j = 0; j < G; ++j) out.grid[j] = lo + static_cast<double>(j) * dx;
  out.grid[G - 1] = hi;

  out.histogram.assign(G, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = (x[i] - lo) / dx + 0.5;
    if (t >= 0 && t < static_cast<double>(G)) out.histogram[static_cast<std::size_t>(t)] += 1;
  }
  for (double& c : out.histogram) c /= nd * dx;

  const double half_width = std::ceil(5 * h / dx);
  require(half_width <= 1e6, "pdf: the bandwidth spans more than 2e5 grid spacings; use a coarser grid");
  const auto W = std::max<std::size_t>(1, static_cast<std::size_t>(half_width));
  const std::size_t E = G + 2 * W;  // extended grid: index e <-> grid point j = e - W
  std::vector<double> mass(E, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = (x[i] - lo) / dx + static_cast<double>(W);
    if (!(t >= 0 && t <= static_cast<double>(E - 1))) continue;  // beyond the kernel's reach of the grid
    const auto e = std::min(static_cast<std::size_t>(t), E - 2);
    const double w = t - static_cast<double>(e);
    mass[e] += 1 - w;
    mass[e + 1] += w;
  }
  std::vector<double> kernel(W + 1);
  double ksum = 0;
  for (std::size_t m = 0; m <= W; ++m) {
    const double u = static_cast<double>(m) * dx / h;
    kernel[m] = std::exp(-0.5 * u * u);
    ksum += m == 0 ? kernel[m] : 2 * kernel[m];
  }
  for (double& k : kernel) k /= ksum * dx * nd;
  out.kde.assign(G, 0.0);
  for (std::size_t j = 0; j < G; ++j) {
    const double* c = mass.data() + j + W;  // centre
    double s = kernel[0] * c[0];
    for (std::size_t m = 1; m <= W; ++m) s += kernel[m] * (c[m] + *(c - m));
    out.kde[j] = s;
  }
  return out;
}

std::vector<double> autocovariance_sums(const double* x, std::size_t n, std::size_t max_lag, double mu) {
  require(x != nullptr && n > 0, "acf: no samples");
  require(max_lag < n, "acf: max_lag must be smaller than the number of samples");
  const std::size_t L = max_lag;

  const std::size_t M = std::min(next_pow2(std::max<std::size_t>(4 * (L + 1), std::size_t{1} << 16)),
                                 std::max<std::size_t>(4, next_pow2(n + L)));
  const std::size_t B = M - L;  // block length; M >= B + L keeps lags <= L free of wrap-around
  const std::size_t H = M / 2 + 1;

  Eigen::FFT<double> fft;
  fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
  const auto nfft = static_cast<Eigen::Index>(M);
  // buf = x[b0, b0 + len) - mu, zero-padded to M.
  auto load = [&](std::vector<double>& buf, std::size_t b0, std::size_t len) {
    for (std::size_t j = 0; j < len; ++j) buf[j] = x[b0 + j] - mu;
    std::fill(buf.begin() + static_cast<std::ptrdiff_t>(len), buf.end(), 0.0);
  };
  std::vector<double> a(M);
  std::vector<std::complex<double>> fa(H);
  if (B >= n) {  // one block: the power spectrum, in place
    load(a, 0, n);
    fft.fwd(fa.data(), a.data(), nfft);
    for (auto& f : fa) f = std::norm(f);
    fft.inv(a.data(), fa.data(), nfft);
  } else {
    std::vector<double> y(M);
    std::vector<std::complex<double>> fy(H), acc(H, 0.0);
    for (std::size_t b0 = 0; b0 < n; b0 += B) {
      const std::size_t na = std::min(B, n - b0);
      const std::size_t ny = std::min(B + L, n - b0);
      load(a, b0, na);
      fft.fwd(fa.data(), a.data(), nfft);
      if (ny == na) {  // the last block has no continuation
        for (std::size_t k = 0; k < H; ++k) acc[k] += std::norm(fa[k]);
        continue;
      }
      load(y, b0, ny);
      fft.fwd(fy.data(), y.data(), nfft);
      for (std::size_t k = 0; k < H; ++k) acc[k] += std::conj(fa[k]) * fy[k];
    }
    fft.inv(a.data(), acc.data(), nfft);
  }

  a.resize(L + 1);
  return a;
}

std::vector<double> acf(const double* x, std::size_t n, std::size_t max_lag) {
  require(x != nullptr && n > 0, "acf: no samples");
  const auto a = autocovariance_sums(x, n, max_lag, mean_of(x, n, 1));
  const double c0 = a[0];
  // A constant series gives exactly 0 (its mean is exact, see mean_of); NaN samples fail here too.
  require(c0 > 0, "acf: the series has zero variance (or is not finite)");
  std::vector<double> rho(max_lag + 1);
  rho[0] = 1;
  for (std::size_t k = 1; k <= max_lag; ++k) rho[k] = a[k] / c0;
  return rho;
}

double integrated_time(const std::vector<double>& rho, double dt) {
  require(!rho.empty(), "integrated_time: empty autocorrelation");
  require(dt > 0 && std::isfinite(dt), "integrated_time: dt must be positive");
  double s = 0.5;
  for (std::size_t k = 1; k < rho.size() && rho[k] > 0; ++k) s += rho[k];
  return dt * s;
}

void BatchMeans::add(const double* x, std::size_t n, std::size_t stride) {
  require(block > 0, "BatchMeans: block must be positive");
  for (std::size_t b = 0; b + block <= n; b += block) {
    double s = 0;
    for (std::size_t i = b; i < b + block; ++i) s += x[i * stride];
    s /= static_cast<double>(block);
    sum += s;
    sum_sq += s * s;
    blocks += 1;
  }
}

double BatchMeans::long_run_variance() const {
  if (blocks < 2) return NAN;
  const double mean = sum / blocks;
  return static_cast<double>(block) * std::max(0.0, (sum_sq - blocks * mean * mean) / (blocks - 1));
}

Transitions transitions_hysteresis(const double* x, std::size_t n, double dt, double threshold) {
  require(x != nullptr && n > 0, "transitions: no samples");
  require(dt > 0 && std::isfinite(dt), "transitions: dt must be positive");
  require(threshold > 0 && std::isfinite(threshold), "transitions: threshold must be positive");
  Transitions t;
  int state = 0;  // no well entered yet
  for (std::size_t i = 0; i < n; ++i) {
    const int well = x[i] > threshold ? 1 : (x[i] < -threshold ? -1 : 0);
    if (well == 0 || well == state) continue;
    if (state != 0) {
      t.index.push_back(i);
      t.direction.push_back(well);
    }
    state = well;
  }
  return finish(std::move(t), dt);
}

Transitions transitions_windowed(const double* x, std::size_t n, double dt, double threshold, double window,
                                 double min_separation) {
  require(x != nullptr && n > 0, "transitions: no samples");
  require(dt > 0 && std::isfinite(dt), "transitions: dt must be positive");
  require(threshold > 0 && std::isfinite(threshold), "transitions: threshold must be positive");
  require(window > 0 && std::isfinite(window / dt), "transitions: window must be positive");
  require(min_separation >= 0 && std::isfinite(min_separation), "transitions: min_separation must be >= 0");
  const double wd = std::round(window / dt);
  require(wd >= 1, "transitions: window is shorter than one sample");
  Transitions t;
  if (wd > static_cast<double>(n) / 2) return finish(std::move(t), dt);  // no crossing has full windows
  const auto w = static_cast<std::size_t>(wd);

  auto sum = [x](std::size_t b, std::size_t e) {
    double s = 0;
    for (std::size_t j = b; j < e; ++j) s += x[j];
    return s;
  };
  const std::size_t refresh = std::max<std::size_t>(w, 4096);
  const double limit = threshold * static_cast<double>(w);  // compare sums, not means
  double past = 0, future = 0;
  bool have_last = false;
  std::size_t last = 0;
  for (std::size_t i = w; i + w <= n; ++i) {
    if ((i - w) % refresh == 0) {
      past = sum(i - w, i);
      future = sum(i, i + w);
    } else {
      past += x[i - 1] - x[i - 1 - w];
      future += x[i + w - 1] - x[i - 1];
    }
    if ((x[i - 1] < 0) == (x[i] < 0)) continue;  // no sign change (zero counts as non-negative)
    int dir = 0;
    if (past < -limit && future > limit) dir = 1;
    if (past > limit && future < -limit) dir = -1;
    if (dir == 0) continue;
    if (have_last && static_cast<double>(i - last) * dt < min_separation) continue;
    t.index.push_back(i);
    t.direction.push_back(dir);
    last = i;
    have_last = true;
  }
  return finish(std::move(t), dt);
}

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q, double dx, double floor) {
  require(p.size() == q.size(), "kl_divergence: p and q differ in length");
  require(p.size() >= 2, "kl_divergence: the grid needs at least 2 points");
  require(dx > 0 && std::isfinite(dx), "kl_divergence: dx must be positive");
  require(floor > 0, "kl_divergence: floor must be positive");
  // Trapezoid rule: interior points weight dx, the two end points dx/2.
  double s = 0;
  for (std::size_t j = 0; j < p.size(); ++j) {
    if (!(p[j] > 0)) continue;
    const double f = p[j] * std::log(p[j] / std::max(q[j], floor));
    s += (j == 0 || j + 1 == p.size()) ? 0.5 * f : f;
  }
  return s * dx;
}

}  // namespace msrom::analysis
