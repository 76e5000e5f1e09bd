// Tests of analysis/statistics against known answers: hand-computable moments, the N(0,1) density,
// brute-force KDE and autocorrelation, the AR(1) autocorrelation a^k and its integrated time, hand-made
// transition signals and the closed-form KL divergence of two Gaussians. Statistical tolerances are a few
// standard errors of the estimator (stated at each check); with fixed seeds the tests are deterministic.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "msrom/analysis/statistics.hpp"

namespace an = msrom::analysis;

namespace {

constexpr double kPi = 3.14159265358979323846;

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * kPi); }

const std::vector<double>& gaussian_samples() {  // 1e6 N(0,1) samples, shared by several tests
  static const std::vector<double> x = [] {
    std::mt19937_64 rng(20240611);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> v(1000000);
    for (double& s : v) s = normal(rng);
    return v;
  }();
  return x;
}

std::vector<double> ar1(double a, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(n);
  x[0] = normal(rng) / std::sqrt(1 - a * a);  // start in the stationary distribution
  for (std::size_t t = 1; t < n; ++t) x[t] = a * x[t - 1] + normal(rng);
  return x;
}

// rho(k) by the definition: (1/n) sum_{i<n-k} d_i d_{i+k} / C(0), d = x - mean.
double brute_rho(const std::vector<double>& x, std::size_t k) {
  const std::size_t n = x.size();
  double mu = 0;
  for (double v : x) mu += v;
  mu /= static_cast<double>(n);
  double c0 = 0, ck = 0;
  for (std::size_t i = 0; i < n; ++i) c0 += (x[i] - mu) * (x[i] - mu);
  for (std::size_t i = 0; i + k < n; ++i) ck += (x[i] - mu) * (x[i + k] - mu);
  return ck / c0;
}

double brute_kde(const std::vector<double>& x, double h, double g) {
  double s = 0;
  for (double v : x) s += phi((g - v) / h);
  return s / (static_cast<double>(x.size()) * h);
}

double trapezoid(const std::vector<double>& f, double dx) {
  double s = 0;
  for (std::size_t j = 0; j < f.size(); ++j) s += (j == 0 || j + 1 == f.size()) ? 0.5 * f[j] : f[j];
  return s * dx;
}

}  // namespace

TEST_CASE("moments of hand-computable sequences", "[analysis]") {
  const std::vector<double> a{1, 2, 3, 4, 5};
  const auto m = an::moments(a.data(), a.size());
  CHECK(m.count == 5);
  CHECK(m.mean == Approx(3.0).epsilon(1e-15));
  CHECK(m.std == Approx(std::sqrt(2.0)).epsilon(1e-15));
  CHECK(std::abs(m.skewness) < 1e-15);
  CHECK(m.kurtosis == Approx(1.7).epsilon(1e-14));  // m4 = 34/5, m2 = 2

  // Bernoulli(1/4) shifted by 1e9: skewness (1-2p)/sqrt(p(1-p)) = 2/sqrt(3), kurtosis
  // (1-3p(1-p))/(p(1-p)) = 7/3. A one-pass sum of squares loses every digit at this offset.
  const std::vector<double> b{1e9, 1e9, 1e9, 1e9 + 1};
  const auto mb = an::moments(b.data(), b.size());
  CHECK(mb.mean == 1e9 + 0.25);
  CHECK(mb.std == Approx(std::sqrt(0.1875)).epsilon(1e-14));
  CHECK(mb.skewness == Approx(2 / std::sqrt(3.0)).epsilon(1e-14));
  CHECK(mb.kurtosis == Approx(7.0 / 3).epsilon(1e-14));

  // Strided view: every other element of {1, -100, 2, -100, ...}.
  const std::vector<double> c{1, -100, 2, -100, 3, -100, 4, -100, 5};
  const auto mc = an::moments(c.data(), 5, 2);
  CHECK(mc.mean == Approx(3.0).epsilon(1e-15));
  CHECK(mc.std == Approx(std::sqrt(2.0)).epsilon(1e-15));

  // Constant data: exact zero spread, undefined shape.
  const std::vector<double> d(1000, 0.1);
  const auto md = an::moments(d.data(), d.size());
  CHECK(md.mean == 0.1);
  CHECK(md.std == 0.0);
  CHECK(std::isnan(md.skewness));
  CHECK(std::isnan(md.kurtosis));
}

TEST_CASE("moments of 1e6 Gaussian samples", "[analysis]") {
  const auto& x = gaussian_samples();
  const auto m = an::moments(x.data(), x.size());
  // 5 standard errors at n = 1e6: mean 1/sqrt(n) = 1e-3, std 1/sqrt(2n) = 7.1e-4,
  // skewness sqrt(6/n) = 2.4e-3, kurtosis sqrt(24/n) = 4.9e-3.
  CHECK(std::abs(m.mean) < 5e-3);
  CHECK(std::abs(m.std - 1) < 3.6e-3);
  CHECK(std::abs(m.skewness) < 1.3e-2);
  CHECK(std::abs(m.kurtosis - 3) < 2.5e-2);

  // Shifting by 1e8 changes only the mean: the samples themselves are rounded to ulp(1e8) = 1.5e-8,
  // which moves the std by ~1e-8 relative at most.
  std::vector<double> y(x);
  for (double& v : y) v += 1e8;
  const auto my = an::moments(y.data(), y.size());
  CHECK(my.mean - 1e8 == Approx(m.mean).margin(1e-8));
  CHECK(my.std == Approx(m.std).epsilon(1e-7));
  CHECK(my.skewness == Approx(m.skewness).margin(1e-6));
  CHECK(my.kurtosis == Approx(m.kurtosis).margin(1e-6));
}

TEST_CASE("histogram and KDE on hand-made data", "[analysis]") {
  // Grid 0..4 with dx = 1: bin j is [j - 1/2, j + 1/2). 5 is off the grid.
  const std::vector<double> x{0, 0.4, 0.6, 1, 2.49, 4.4, 5};
  const auto p = an::pdf(x.data(), x.size(), 5, 0.0, 4.0, 0.5);
  REQUIRE(p.grid.size() == 5);
  CHECK(p.grid[1] == 1.0);
  CHECK(p.grid[4] == 4.0);
  const std::vector<double> expected{2.0 / 7, 2.0 / 7, 1.0 / 7, 0, 1.0 / 7};
  for (std::size_t j = 0; j < 5; ++j) CHECK(p.histogram[j] == Approx(expected[j]).epsilon(1e-15));
  CHECK(p.bandwidth == 0.5);

  // One sample on a grid point: the KDE is the kernel itself, phi(g/h)/h, out to 5 bandwidths, scaled up
  // by 1/(1 - 5.7e-7) because the kernel truncated at 5h is renormalised to unit mass.
  const double one = 0.0, h = 0.5;
  const auto q = an::pdf(&one, 1, 1001, -5.0, 5.0, h);
  double worst = 0;
  for (std::size_t j = 0; j < q.grid.size(); ++j) {
    const double g = q.grid[j];
    if (std::abs(g) < 4.9 * h) worst = std::max(worst, std::abs(q.kde[j] - phi(g / h) / h));
  }
  CHECK(worst < 6e-7 * phi(0) / h);
  CHECK(worst > 5e-7 * phi(0) / h);
  CHECK(trapezoid(q.kde, q.grid[1] - q.grid[0]) == Approx(1.0).epsilon(1e-12));
  CHECK(q.histogram[500] == Approx(1.0 / 0.01).epsilon(1e-9));
}

TEST_CASE("Silverman bandwidth", "[analysis]") {
  // {1..10, 1000}: quartiles (linear interpolation) 3.5 and 8.5, so IQR/1.34 = 3.73 beats the std (~286).
  std::vector<double> x{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000};
  CHECK(an::pdf(x.data(), x.size(), 16).bandwidth == Approx(0.9 * 5 / 1.34 * std::pow(11.0, -0.2)).epsilon(1e-14));
  // Ties make the IQR vanish: the std (of Bernoulli(1/9), sqrt(8)/9) is used instead.
  std::vector<double> y{0, 0, 0, 0, 0, 0, 0, 0, 1};
  CHECK(an::pdf(y.data(), y.size(), 16).bandwidth ==
        Approx(0.9 * std::sqrt(8.0) / 9 * std::pow(9.0, -0.2)).epsilon(1e-14));
}

TEST_CASE("KDE and histogram of Gaussian samples match the N(0,1) density", "[analysis]") {
  const auto& x = gaussian_samples();
  const double n = static_cast<double>(x.size());

  const auto p = an::pdf(x.data(), x.size(), 2048);
  // Silverman: 0.9 min(std, IQR/1.34) n^-1/5 with std ~ 1, IQR/1.34 ~ 1.0067: ~0.9 * 10^-1.2 = 0.0568.
  CHECK(p.bandwidth == Approx(0.9 * std::pow(n, -0.2)).epsilon(0.01));
  const double h = p.bandwidth, dx = p.grid[1] - p.grid[0];
  CHECK(p.grid.front() < -4.5);  // data extremes (about +-4.9 for 1e6 samples) padded by 3h
  CHECK(p.grid.back() > 4.5);
  // Every sample is on the padded grid, and the kernel mass beyond it (past 3h of the extreme samples)
  // is ~1e-3/n: both densities integrate to 1.
  CHECK(trapezoid(p.histogram, dx) == Approx(1.0).epsilon(1e-6));
  CHECK(trapezoid(p.kde, dx) == Approx(1.0).epsilon(1e-6));
  // KDE error at x: bias h^2/2 |phi''(x)| <= h^2/2 * 0.399 (plus O(h^4)), and a standard deviation
  // sqrt(phi(x) R(K) / (n h)), R(K) = 1/(2 sqrt(pi)): 1.4e-3 at the peak. Allow bias + 5 sd + 1e-5.
  const double bias = 0.5 * h * h * phi(0) * 1.05;
  std::size_t bad = 0;
  for (std::size_t j = 0; j < p.grid.size(); ++j) {
    const double f = phi(p.grid[j]);
    const double sd = std::sqrt(f / (2 * std::sqrt(kPi)) / (n * h));
    if (std::abs(p.kde[j] - f) > bias + 5 * sd + 1e-5) ++bad;
  }
  CHECK(bad == 0);

  // Histogram on a coarser fixed grid (dx = 0.05): bin density has mean phi + dx^2/24 phi'' and
  // standard deviation sqrt(phi / (n dx)) (3.6e-3 at the peak). Allow |dx^2/24 phi''| + 5 sd + 1e-5.
  const auto c = an::pdf(x.data(), x.size(), 201, -5.0, 5.0);
  const double cdx = c.grid[1] - c.grid[0];
  CHECK(cdx == Approx(0.05).epsilon(1e-14));
  bad = 0;
  for (std::size_t j = 0; j < c.grid.size(); ++j) {
    const double f = phi(c.grid[j]);
    const double sd = std::sqrt(f / (n * cdx));
    if (std::abs(c.histogram[j] - f) > cdx * cdx / 24 * phi(0) + 5 * sd + 1e-5) ++bad;
  }
  CHECK(bad == 0);
  // Mass beyond |x| > 5.025 is 5e-7.
  CHECK(trapezoid(c.histogram, cdx) == Approx(1.0).epsilon(1e-5));
  CHECK(trapezoid(c.kde, cdx) == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("binned KDE agrees with the exact KDE", "[analysis]") {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> x(500);
  for (double& v : x) v = normal(rng);

  const auto p = an::pdf(x.data(), x.size(), 512);
  double peak = 0, worst = 0;
  for (std::size_t j = 0; j < p.grid.size(); ++j) {
    const double exact = brute_kde(x, p.bandwidth, p.grid[j]);
    peak = std::max(peak, exact);
    worst = std::max(worst, std::abs(p.kde[j] - exact));
  }
  CHECK(worst < 1e-3 * peak);

  // A user grid narrower than the data: samples off the grid still contribute to it.
  const auto q = an::pdf(x.data(), x.size(), 101, -1.0, 1.0, 0.3);
  worst = 0;
  for (std::size_t j = 0; j < q.grid.size(); ++j)
    worst = std::max(worst, std::abs(q.kde[j] - brute_kde(x, 0.3, q.grid[j])));
  CHECK(worst < 1e-3 * peak);
}

TEST_CASE("acf agrees with the brute-force sum", "[analysis]") {
  // Small series, all lags up to n-1: a single FFT block.
  const auto x = ar1(0.7, 1000, 3);
  const auto rho = an::acf(x.data(), x.size(), x.size() - 1);
  REQUIRE(rho.size() == x.size());
  CHECK(rho[0] == 1.0);
  double worst = 0;
  for (std::size_t k = 0; k < rho.size(); ++k) worst = std::max(worst, std::abs(rho[k] - brute_rho(x, k)));
  CHECK(worst < 1e-12);

  // Longer series cut into several FFT blocks (block length 65536 - max_lag): spot-check lags,
  // including those whose products straddle block boundaries.
  const auto y = ar1(0.95, 200000, 4);
  const std::size_t L = 16383;
  const auto ry = an::acf(y.data(), y.size(), L);
  REQUIRE(ry.size() == L + 1);
  for (std::size_t k : {std::size_t{1}, std::size_t{2}, std::size_t{17}, std::size_t{1000}, L - 1, L})
    CHECK(std::abs(ry[k] - brute_rho(y, k)) < 1e-12);
}

TEST_CASE("acf and integrated time of an AR(1) process", "[analysis]") {
  const double a = 0.9;
  const std::size_t n = 1000000;
  const auto x = ar1(a, n, 11);
  const auto rho = an::acf(x.data(), n, 200);
  // Bartlett: var rho(k) ~ (1/n) [(1+a^2)(1-a^{2k})/(1-a^2) - 2k a^{2k}] (sd 4.4e-4 at k=1, 3.1e-3 for
  // large k). Allow 5 sd.
  for (std::size_t k = 1; k <= 40; ++k) {
    const double a2k = std::pow(a, 2.0 * static_cast<double>(k));
    const double var = ((1 + a * a) * (1 - a2k) / (1 - a * a) - 2.0 * static_cast<double>(k) * a2k) / n;
    INFO("k = " << k);
    CHECK(std::abs(rho[k] - std::pow(a, static_cast<double>(k))) < 5 * std::sqrt(var));
  }
  // tau_int = dt (1/2 + a/(1-a)) = 9.5 dt. Truncating the sum at the first zero crossing K (~50-100 here)
  // has variance ~ 2(2K+1)/n tau^2 (Sokal), i.e. sd ~ 0.15-0.2 in units of dt, and drops a tail
  // a^K/(1-a) < 0.05. Allow 5% (0.475 dt, about 2.5-3 sd).
  const double dt = 0.01;
  const double tau = an::integrated_time(rho, dt);
  CHECK(tau == Approx(dt * (0.5 + a / (1 - a))).epsilon(0.05));
}

TEST_CASE("integrated time on given autocorrelations", "[analysis]") {
  // Stops before the first rho(K) <= 0: 2 * (1/2 + 0.5 + 0.25).
  CHECK(an::integrated_time({1, 0.5, 0.25, -0.1, 0.3}, 2.0) == Approx(2.5).epsilon(1e-15));
  CHECK(an::integrated_time({1, 0.5, 0.25, 0.0, 0.3}, 2.0) == Approx(2.5).epsilon(1e-15));
  // No crossing: all lags. 2 * (1/2 + 0.875).
  CHECK(an::integrated_time({1, 0.5, 0.25, 0.125}, 2.0) == Approx(2.75).epsilon(1e-15));
  CHECK(an::integrated_time({1}, 3.0) == Approx(1.5).epsilon(1e-15));
}

TEST_CASE("batch means: long-run variance by hand, with negative lobes, and of an AR(1) process", "[analysis]") {
  // Blocks of 2 of {1,3, 5,7, 2,2, 9}: means 2, 6, 2 (the 9 is a partial block, dropped); unbiased variance of the
  // means 16/3, times the block: 32/3.
  an::BatchMeans bm{2};
  const std::vector<double> x{1, 3, 5, 7, 2, 2, 9};
  bm.add(x.data(), x.size());
  CHECK(bm.blocks == 3);
  CHECK(bm.long_run_variance() == Approx(32.0 / 3).epsilon(1e-15));
  // Pooling: two series added one after the other equal their concatenation when blocks align; stride.
  an::BatchMeans a{2}, b{2};
  a.add(x.data(), 2);
  a.add(x.data() + 2, 4);
  b.add(x.data(), 6);
  CHECK(a.long_run_variance() == b.long_run_variance());
  const std::vector<double> strided{1, -1, 3, -1, 5, -1, 7, -1, 2, -1, 2, -1};
  an::BatchMeans c{2};
  c.add(strided.data(), 6, 2);
  CHECK(c.long_run_variance() == Approx(32.0 / 3).epsilon(1e-15));
  // An alternating signal has variance 1 but no long-run variance (its ACF's lobes cancel): S = 0 exactly,
  // where a sum of the ACF truncated at its first zero (integrated_time) would report 1/2 dt.
  std::vector<double> alt(1000);
  for (std::size_t i = 0; i < alt.size(); ++i) alt[i] = i % 2 ? -1.0 : 1.0;
  an::BatchMeans d{10};
  d.add(alt.data(), alt.size());
  CHECK(d.long_run_variance() == 0.0);
  // Fewer than two blocks: NaN.
  an::BatchMeans e{10};
  e.add(x.data(), x.size());
  CHECK(std::isnan(e.long_run_variance()));
  // AR(1) with unit innovations: S = var (1 + a) / (1 - a) = 1 / (1 - a)^2 = 100 at a = 0.9. Blocks of 1000
  // (100 correlation times): bias -2a / ((1 - a^2) B) = -0.95%; 4000 blocks: sd sqrt(2 / 4000) = 2.2%. 8% is
  // 3.5 sd.
  const auto y = ar1(0.9, 4000000, 5);
  an::BatchMeans f{1000};
  f.add(y.data(), y.size());
  CHECK(f.long_run_variance() == Approx(100.0).epsilon(0.08));
}

TEST_CASE("hysteresis transitions", "[analysis]") {
  // threshold 1. Index 2 enters the + well (the first well: no transition). Indices 3-6 cross zero but
  // never pass -1; 11 sits exactly at the threshold (not beyond); 14 reaches -1 exactly (not beyond).
  const std::vector<double> x{0,    0.5, 1.5, 0.2, -0.5, 0.8, -0.9, -1.2, -0.3, 0.5,
                              0.9,  1.0, 1.1, 2.0, -1.0, -1.5, 0.0, -2.0, 0.99, -3.0};
  const auto t = an::transitions_hysteresis(x.data(), x.size(), 0.5, 1.0);
  CHECK(t.index == std::vector<std::size_t>{7, 12, 15});
  CHECK(t.direction == std::vector<int>{-1, +1, -1});
  REQUIRE(t.residence_times.size() == 2);
  CHECK(t.residence_times[0] == Approx(2.5).epsilon(1e-15));
  CHECK(t.residence_times[1] == Approx(1.5).epsilon(1e-15));
  CHECK(t.mean_residence_time == Approx(2.0).epsilon(1e-15));

  // A single transition: no residence time.
  const std::vector<double> y{2, 0, -2};
  const auto u = an::transitions_hysteresis(y.data(), y.size(), 1.0, 1.0);
  CHECK(u.index == std::vector<std::size_t>{2});
  CHECK(u.residence_times.empty());
  CHECK(u.mean_residence_time == 0.0);
}

namespace {

// Square-ish wave, dt = 0.1: +1 on [0,5), -1 on [5,100), +1 on [100,250), -1 on [250,450), +1 on
// [450,550). At the up-crossing at 100 the signal wobbles (+0.3, -0.2, then +1), giving zero crossings at
// 100, 101 and 102. A spike to +1 on [350,353) crosses zero at 350 and 353.
std::vector<double> square_wave() {
  std::vector<double> x(550);
  for (std::size_t i = 0; i < x.size(); ++i)
    x[i] = (i < 5 || (i >= 100 && i < 250) || i >= 450) ? 1.0 : -1.0;
  x[100] = 0.3;
  x[101] = -0.2;
  for (std::size_t i = 350; i < 353; ++i) x[i] = 1.0;
  return x;
}

// The header's definition, evaluated literally with O(w) window means.
an::Transitions brute_windowed(const std::vector<double>& x, std::size_t w, double dt, double thr,
                               double min_sep) {
  an::Transitions t;
  for (std::size_t i = w; i + w <= x.size(); ++i) {
    if ((x[i - 1] < 0) == (x[i] < 0)) continue;
    double past = 0, future = 0;
    for (std::size_t j = i - w; j < i; ++j) past += x[j];
    for (std::size_t j = i; j < i + w; ++j) future += x[j];
    past /= static_cast<double>(w);
    future /= static_cast<double>(w);
    if (!(std::abs(past) > thr && std::abs(future) > thr && past * future < 0)) continue;
    if (!t.index.empty() && static_cast<double>(i - t.index.back()) * dt < min_sep) continue;
    t.index.push_back(i);
    t.direction.push_back(future > 0 ? 1 : -1);
  }
  return t;
}

}  // namespace

TEST_CASE("windowed transitions", "[analysis]") {
  const auto x = square_wave();
  const double dt = 0.1, thr = 0.5, window = 2.0;  // w = 20 samples
  // The crossing at 5 has no full past window; the spike's window means are -0.7 on both sides.
  // min_separation 1.0 keeps only the first of the wobble crossings 100, 101, 102.
  const auto t = an::transitions_windowed(x.data(), x.size(), dt, thr, window, 1.0);
  CHECK(t.index == std::vector<std::size_t>{100, 250, 450});
  CHECK(t.direction == std::vector<int>{+1, -1, +1});
  REQUIRE(t.residence_times.size() == 2);
  CHECK(t.residence_times[0] == Approx(15.0).epsilon(1e-12));
  CHECK(t.residence_times[1] == Approx(20.0).epsilon(1e-12));
  CHECK(t.mean_residence_time == Approx(17.5).epsilon(1e-12));

  // Without a minimum separation each wobble crossing passes the window test (the windows hardly move).
  const auto all = an::transitions_windowed(x.data(), x.size(), dt, thr, window, 0.0);
  CHECK(all.index == std::vector<std::size_t>{100, 101, 102, 250, 450});
  // min_separation 0.15 is measured from the last accepted transition: 101 (0.1 after 100) is dropped,
  // 102 (0.2 after 100) is kept.
  const auto some = an::transitions_windowed(x.data(), x.size(), dt, thr, window, 0.15);
  CHECK(some.index == std::vector<std::size_t>{100, 102, 250, 450});
  // The wobble pulls the window means at 100-102 down to about 0.9 in magnitude: threshold 0.99 leaves
  // only the clean crossings.
  const auto strict = an::transitions_windowed(x.data(), x.size(), dt, 0.99, window, 0.0);
  CHECK(strict.index == std::vector<std::size_t>{250, 450});
  // Windows longer than half the series: nothing has full windows.
  CHECK(an::transitions_windowed(x.data(), x.size(), dt, thr, 30.0, 0.0).index.empty());
}

TEST_CASE("windowed transitions match the literal definition on a noisy telegraph signal", "[analysis]") {
  // 20000 samples of a +-1 telegraph signal (mean dwell 200) plus N(0, 0.8^2) noise: many noise crossings
  // to reject, and several exact recomputations (every 4096 samples) of the sliding window sums.
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0.0, 0.8);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> x(20000);
  double s = 1;
  for (double& v : x) {
    if (u(rng) < 1.0 / 200) s = -s;
    v = s + noise(rng);
  }
  const double dt = 0.02;
  const auto t = an::transitions_windowed(x.data(), x.size(), dt, 0.6, 50 * dt, 0.5);
  const auto b = brute_windowed(x, 50, dt, 0.6, 0.5);
  CHECK(t.index.size() > 20);
  CHECK(t.index == b.index);
  CHECK(t.direction == b.direction);
}

TEST_CASE("kl_divergence", "[analysis]") {
  const double dx = 1e-3;
  std::vector<double> grid, p, q;
  for (int j = 0; j <= 25500; ++j) grid.push_back(-12 + j * dx);
  const double m = 1.5;
  for (double g : grid) {
    p.push_back(phi(g));
    q.push_back(phi(g - m));
  }
  // Identical densities: exactly 0 where p >= floor; where p = q < floor the floored q makes the terms
  // p log(p/floor) slightly negative (p < 1e-12 beyond |x| = 7.1: a total of order -1e-13).
  const std::vector<double> core(p.begin() + 5000, p.end() - 6500);  // |x| <= 7
  CHECK(an::kl_divergence(core, core, dx) == 0.0);
  CHECK(std::abs(an::kl_divergence(p, p, dx)) < 1e-12);
  // KL(N(0,1) || N(m,1)) = m^2 / 2. The trapezoid rule is spectrally accurate for this integrand; the
  // floor (q < 1e-12 only for x < -5.6, where p < 1.1e-7) changes the integral by less than 1e-10.
  CHECK(std::abs(an::kl_divergence(p, q, dx) - m * m / 2) < 1e-6);

  // Hand-made: end points weigh dx/2, q = 0 is floored, p = 0 contributes nothing.
  const std::vector<double> a{1, 1, 0, 1}, b{0.5, 0, 3, 1};
  CHECK(an::kl_divergence(a, b, 2.0, 1e-12) ==
        Approx(2.0 * (0.5 * std::log(2.0) + std::log(1e12))).epsilon(1e-14));
}

TEST_CASE("invalid arguments throw std::invalid_argument", "[analysis]") {
  const std::vector<double> x{1, 2, 3, -1, -2};
  const std::vector<double> c(10, 2.0);
  CHECK_THROWS_AS(an::moments(x.data(), 0), std::invalid_argument);
  CHECK_THROWS_AS(an::moments(x.data(), 2, 0), std::invalid_argument);
  CHECK_THROWS_AS(an::moments(nullptr, 3), std::invalid_argument);
  CHECK_THROWS_AS(an::pdf(x.data(), 0, 10), std::invalid_argument);
  CHECK_THROWS_AS(an::pdf(x.data(), x.size(), 1), std::invalid_argument);
  CHECK_THROWS_AS(an::pdf(c.data(), c.size(), 10), std::invalid_argument);  // zero spread, no bandwidth
  CHECK_NOTHROW(an::pdf(c.data(), c.size(), 10, 0, 0, 0.1));
  const std::vector<double> bad{1, std::numeric_limits<double>::quiet_NaN(), 2};
  CHECK_THROWS_AS(an::pdf(bad.data(), bad.size(), 10), std::invalid_argument);
  CHECK_THROWS_AS(an::acf(x.data(), 0, 0), std::invalid_argument);
  CHECK_THROWS_AS(an::acf(x.data(), x.size(), x.size()), std::invalid_argument);
  CHECK_THROWS_AS(an::acf(c.data(), c.size(), 3), std::invalid_argument);  // zero variance
  CHECK_NOTHROW(an::acf(x.data(), x.size(), x.size() - 1));
  CHECK_THROWS_AS(an::integrated_time({}, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(an::integrated_time({1, 0.5}, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_hysteresis(x.data(), 0, 1.0, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_hysteresis(x.data(), x.size(), 1.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_hysteresis(x.data(), x.size(), -1.0, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_windowed(x.data(), 0, 1.0, 1.0, 1.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_windowed(x.data(), x.size(), 1.0, 0.0, 1.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_windowed(x.data(), x.size(), 1.0, 1.0, 0.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_windowed(x.data(), x.size(), 1.0, 1.0, 0.4, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::transitions_windowed(x.data(), x.size(), 1.0, 1.0, 1.0, -1.0), std::invalid_argument);
  CHECK_THROWS_AS(an::kl_divergence({1, 1}, {1}, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(an::kl_divergence({1}, {1}, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(an::kl_divergence({1, 1}, {1, 1}, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(an::kl_divergence({1, 1}, {1, 1}, 1.0, 0.0), std::invalid_argument);
}
