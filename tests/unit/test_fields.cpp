// Field analysis (analysis/fields.hpp): cubic-spline resampling (exactness, convergence order, exact
// subsampling) and the relative error eps of the coarse-DNS baseline, against known answers.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "msrom/analysis/fields.hpp"
#include "msrom/core/options.hpp"
#include "msrom/pde/pde.hpp"

using namespace msrom;
using analysis::Boundary;
using analysis::Grid;

namespace {

// Node coordinates of a grid on [0, 1].
double node(const Grid& g, long i) {
  return static_cast<double>(i) / static_cast<double>(g.periodic() ? g.n : g.n - 1);
}

template <class F>
std::vector<double> sample(const Grid& g, F f) {
  std::vector<double> v(static_cast<std::size_t>(g.n));
  for (long i = 0; i < g.n; ++i) v[i] = f(node(g, i));
  return v;
}

// Max error of resampling f from `from` to a fine grid of the same kind.
template <class F>
double resample_error(const Grid& from, long fine, F f) {
  const Grid to{fine, from.boundary};
  analysis::Resampler r(from, to);
  const auto in = sample(from, f), exact = sample(to, f);
  std::vector<double> out(static_cast<std::size_t>(fine));
  r.apply(in.data(), out.data());
  double e = 0;
  for (long i = 0; i < fine; ++i) e = std::max(e, std::abs(out[i] - exact[i]));
  return e;
}

}  // namespace

TEST_CASE("Cubic spline resampling: exact for cubic polynomials (not-a-knot), linear (natural), constants", "[fields]") {
  auto cubic = [](double x) { return 2.0 - 3.0 * x + 0.5 * x * x + 4.0 * x * x * x; };
  for (long n : {4L, 7L, 12L}) CHECK(resample_error({n, Boundary::not_a_knot}, 61, cubic) < 1e-13);
  CHECK(resample_error({9, Boundary::natural}, 101, [](double x) { return 1.5 - 2.0 * x; }) < 1e-14);
  CHECK(resample_error({10, Boundary::periodic}, 100, [](double) { return 0.75; }) < 1e-15);
  // The natural spline is not exact for a cubic (its s'' = 0 at the ends is wrong there).
  CHECK(resample_error({7, Boundary::natural}, 61, cubic) > 1e-3);

  // Second derivatives of the not-a-knot spline of a cubic on unit spacing are the cubic's: 24 x + 1.
  const Grid g{6, Boundary::not_a_knot};
  std::vector<double> y(6);
  for (int i = 0; i < 6; ++i) y[i] = 2.0 - 3.0 * i + 0.5 * i * i + 4.0 * i * i * i;
  const auto m = analysis::spline_second_derivatives(g, y.data());
  for (int i = 0; i < 6; ++i) CHECK(m[i] == Approx(24.0 * i + 1.0).epsilon(1e-13));
}

TEST_CASE("Cubic spline resampling converges at 4th order on smooth fields", "[fields]") {
  // Periodic; natural on a field with f = f'' = 0 at both ends (as Burgers' walls); not-a-knot on any.
  struct Case {
    Boundary b;
    std::vector<long> n;
    double (*f)(double);
  };
  const std::vector<Case> cases = {{Boundary::periodic, {16, 32, 64}, +[](double x) { return std::sin(2 * M_PI * x) + 0.5 * std::cos(4 * M_PI * x + 0.3); }},
                                   {Boundary::natural, {17, 33, 65}, +[](double x) { return std::sin(M_PI * x) + 0.2 * std::sin(3 * M_PI * x); }},
                                   {Boundary::not_a_knot, {17, 33, 65}, +[](double x) { return std::exp(x) * std::cos(3 * x); }}};
  for (const auto& c : cases) {
    std::vector<double> e;
    for (long n : c.n) e.push_back(resample_error({n, c.b}, c.b == Boundary::periodic ? 1024 : 1025, c.f));
    const double p1 = std::log2(e[0] / e[1]), p2 = std::log2(e[1] / e[2]);
    CAPTURE(static_cast<int>(c.b), e[0], e[1], e[2], p1, p2);
    CHECK(p2 > 3.8);
    CHECK(p2 < 4.3);
    CHECK(p1 > 3.6);
  }
}

TEST_CASE("Resampling onto a subset of the nodes is subsampling, bit for bit", "[fields]") {
  // Periodic 1000 -> 20 (every 50th node), Dirichlet 129 -> 9 (every 16th), and coarse -> fine keeps the
  // coarse values at the shared nodes.
  for (Boundary b : {Boundary::periodic, Boundary::natural}) {
    const Grid fine{b == Boundary::periodic ? 1000L : 129L, b}, coarse{b == Boundary::periodic ? 20L : 9L, b};
    const long stride = b == Boundary::periodic ? 50 : 16;
    const auto y = sample(fine, [](double x) { return std::exp(std::sin(2 * M_PI * x)) + 0.1 * x; });
    std::vector<double> c(static_cast<std::size_t>(coarse.n)), back(static_cast<std::size_t>(fine.n));
    analysis::Resampler(fine, coarse).apply(y.data(), c.data());
    for (long i = 0; i < coarse.n; ++i) CHECK(c[i] == y[i * stride]);
    analysis::Resampler(coarse, fine).apply(c.data(), back.data());
    for (long i = 0; i < coarse.n; ++i) CHECK(back[i * stride] == c[i]);
  }
}

TEST_CASE("Bicubic resampling: tensor-product exactness, 4th order, [nx, ny] layout", "[fields]") {
  auto f = [](double x, double y) { return (1 + x - 2 * x * x * x) * (0.5 - y + 3 * y * y); };
  const Grid cx{6, Boundary::not_a_knot}, cy{5, Boundary::not_a_knot}, fx{41, Boundary::not_a_knot},
      fy{33, Boundary::not_a_knot};
  std::vector<double> in(30), out(41 * 33);
  for (long i = 0; i < 6; ++i)
    for (long j = 0; j < 5; ++j) in[i * 5 + j] = f(node(cx, i), node(cy, j));
  analysis::Resampler2d(cx, cy, fx, fy).apply(in.data(), out.data());
  double e = 0;
  for (long i = 0; i < 41; ++i)
    for (long j = 0; j < 33; ++j) e = std::max(e, std::abs(out[i * 33 + j] - f(node(fx, i), node(fy, j))));
  CHECK(e < 1e-13);

  // Natural bicubic on a Burgers-like wall field sin(pi x) sin(pi y): 4th order.
  auto g = [](double x, double y) { return std::sin(M_PI * x) * std::sin(M_PI * y); };
  std::vector<double> err;
  for (long n : {9L, 17L, 33L}) {
    const Grid c{n, Boundary::natural}, fine{129, Boundary::natural};
    std::vector<double> a(static_cast<std::size_t>(n * n)), b(129 * 129);
    for (long i = 0; i < n; ++i)
      for (long j = 0; j < n; ++j) a[i * n + j] = g(node(c, i), node(c, j));
    analysis::Resampler2d(c, c, fine, fine).apply(a.data(), b.data());
    double m = 0;
    for (long i = 0; i < 129; ++i)
      for (long j = 0; j < 129; ++j) m = std::max(m, std::abs(b[i * 129 + j] - g(node(fine, i), node(fine, j))));
    err.push_back(m);
  }
  CAPTURE(err[0], err[1], err[2]);
  CHECK(std::log2(err[1] / err[2]) > 3.8);
  CHECK(std::log2(err[1] / err[2]) < 4.3);
}

TEST_CASE("Spline grids that are too small or of different kinds are rejected", "[fields]") {
  CHECK_THROWS_AS(analysis::Resampler({2, Boundary::periodic}, {10, Boundary::periodic}), std::invalid_argument);
  CHECK_THROWS_AS(analysis::Resampler({3, Boundary::not_a_knot}, {10, Boundary::not_a_knot}), std::invalid_argument);
  CHECK_THROWS_AS(analysis::Resampler({10, Boundary::periodic}, {20, Boundary::natural}), std::invalid_argument);
}

TEST_CASE("eps = ||y - y_hat|| / ||y||: zero for identical fields, the analytic value of known perturbations",
          "[fields]") {
  const long n = 1000;
  std::vector<double> y(n), yh(n);
  for (long i = 0; i < n; ++i) y[i] = std::sin(2 * M_PI * i / n);
  CHECK(analysis::relative_error(y.data(), y.data(), n) == 0.0);
  // A scaled copy: eps = |a|.
  for (long i = 0; i < n; ++i) yh[i] = 0.7 * y[i];
  CHECK(analysis::relative_error(y.data(), yh.data(), n) == Approx(0.3).epsilon(1e-13));
  // An orthogonal perturbation d cos: sum sin^2 = sum cos^2 = n/2 on the periodic grid, so eps = d.
  for (long i = 0; i < n; ++i) yh[i] = y[i] + 0.05 * std::cos(2 * M_PI * i / n);
  CHECK(analysis::relative_error(y.data(), yh.data(), n) == Approx(0.05).epsilon(1e-12));
  // The sign flipped: eps = 2.
  for (long i = 0; i < n; ++i) yh[i] = -y[i];
  CHECK(analysis::relative_error(y.data(), yh.data(), n) == Approx(2.0).epsilon(1e-13));
  std::vector<double> zero(n, 0.0);
  CHECK(std::isnan(analysis::relative_error(zero.data(), y.data(), n)));

  const auto s = analysis::summarize({1.0, 2.0, 3.0, 4.0});
  CHECK(s.count == 4);
  CHECK(s.mean == 2.5);
  CHECK(s.std == Approx(std::sqrt(1.25)).epsilon(1e-15));
}

TEST_CASE("A field case built from explicit settings leaves the options database alone", "[fields][pde]") {
  const auto p = pde::make_case("kdv", {{"system_n", "20"}, {"system_stencil", "central"}, {"system_dispersion", "0.03"}});
  CHECK(p.nx == 20);
  CHECK(p.dx() == 0.5);
  CHECK_FALSE(Options::given("system_n"));
  bool central = false;
  for (const auto& [k, v] : p.parameters)
    if (k == "stencil_central") central = v == 1.0;
  CHECK(central);
  const auto b = pde::make_case("burgers2d", {{"system_n", "8"}, {"system_ny", "6"}});
  CHECK(b.nx == 8);
  CHECK(b.ny == 6);
  CHECK(b.dy() == Approx(0.2).epsilon(1e-15));
}

TEST_CASE("Power spectrum: Parseval, single modes at 1/4 (1/1 at k = 0 and n/2), zero elsewhere", "[fields]") {
  const std::size_t n = 48;
  std::vector<double> u(n);
  for (std::size_t j = 0; j < n; ++j) u[j] = 2.0 + 3.0 * std::cos(2 * M_PI * 5.0 * j / n) - std::sin(2 * M_PI * 11.0 * j / n);
  const auto e = analysis::power_spectrum(u.data(), n);
  REQUIRE(e.size() == n / 2 + 1);
  CHECK(e[0] == Approx(4.0).epsilon(1e-13));
  CHECK(e[5] == Approx(9.0 / 4).epsilon(1e-13));
  CHECK(e[11] == Approx(1.0 / 4).epsilon(1e-13));
  for (std::size_t k = 1; k <= n / 2; ++k)
    if (k != 5 && k != 11) CHECK(e[k] < 1e-26);
  // Parseval: mean of u^2 = E_0 + 2 sum_{0<k<n/2} E_k + E_{n/2}.
  double ms = 0, sum = e[0] + e[n / 2];
  for (double x : u) ms += x * x / n;
  for (std::size_t k = 1; k < n / 2; ++k) sum += 2 * e[k];
  CHECK(sum == Approx(ms).epsilon(1e-13));
  std::vector<double> alt(n);
  for (std::size_t j = 0; j < n; ++j) alt[j] = j % 2 ? -1.0 : 1.0;  // the Nyquist mode
  CHECK(analysis::power_spectrum(alt.data(), n)[n / 2] == Approx(1.0).epsilon(1e-13));
}
