// Systems: right-hand sides against the equations, RK4's fourth order, the Lyapunov exponent of
// Lorenz-63 against its literature value.
#include <catch2/catch.hpp>

#include <petscsys.h>

#include <cmath>
#include <vector>

#include "msrom/core/options.hpp"
#include "msrom/systems/simulate.hpp"
#include "msrom/systems/system.hpp"

using namespace msrom;

namespace {
std::unique_ptr<systems::System> make(const char* type, const char* extra_name = nullptr, const char* extra = nullptr) {
  PetscOptionsSetValue(nullptr, "-system_type", type);
  if (extra_name) PetscOptionsSetValue(nullptr, extra_name, extra);
  auto s = systems::make_system(Options("system"));
  PetscOptionsClearValue(nullptr, "-system_type");
  if (extra_name) PetscOptionsClearValue(nullptr, extra_name);
  return s;
}
}  // namespace

TEST_CASE("Right-hand sides are the method doc's equations", "[systems]") {
  const double u[5] = {0.7, -1.3, 2.1, 19.0, 0.4};
  double f[5];
  const double eps = 0.5, sigma = 0.08;
  auto lorenz = [&](const double* y, double rho, double* g) {
    g[0] = 10 / (eps * eps) * (y[1] - y[0]);
    g[1] = (y[0] * (rho - y[2]) - y[1]) / (eps * eps);
    g[2] = (y[0] * y[1] - 8.0 / 3 * y[2]) / (eps * eps);
  };
  double g[3];
  SECTION("bistable") {
    make("bistable")->rhs(0, u, f);
    CHECK(f[0] == Approx(0.7 - 0.343 + sigma / eps * 2.1).epsilon(1e-14));
    lorenz(u + 1, 28, g);
    for (int i = 0; i < 3; ++i) CHECK(f[1 + i] == Approx(g[i]).epsilon(1e-14));
  }
  SECTION("multiplicative") {
    make("multiplicative", "-system_multiplicative_a", "0.5")->rhs(0, u, f);
    CHECK(f[0] == Approx(0.7 - 0.343 + sigma / eps * (1 + 0.5 * 0.7) * 2.1).epsilon(1e-14));
  }
  SECTION("tristable: potential and periodic forcing") {
    const double t = 123.4, x = 0.7, c = 50.0 / 131;
    make("tristable")->rhs(t, u, f);
    const double dU = c * (2 * std::pow(x, 5) - 4 * 122.0 / 64 * std::pow(x, 3) + 2 * 79.0 / 29 * x) + 0.04 * x;
    CHECK(f[0] == Approx(-dU + 0.1 * std::cos(2 * M_PI * 0.002 * t) + sigma / eps * 2.1).epsilon(1e-13));
  }
  SECTION("coupled5d: two-way coupling") {
    make("coupled5d")->rhs(0, u, f);
    CHECK(f[0] == Approx(0.7 - 0.343 + 0.2 * -1.3 + sigma / eps * 19.0).epsilon(1e-14));
    CHECK(f[1] == Approx(0.5 * (0.7 - -1.3)).epsilon(1e-14));
    lorenz(u + 2, 28 + 2 * 0.7, g);
    for (int i = 0; i < 3; ++i) CHECK(f[2 + i] == Approx(g[i]).epsilon(1e-14));
  }
}

TEST_CASE("RK4 converges at fourth order", "[systems]") {
  // Bistable system over t = 0.5 (two driver Lyapunov times). The fast driver (rates ~40) makes the
  // error ratios pre-asymptotic above dt ~ 5e-4 (order estimates 4.4, 4.3), so the steps are finer.
  auto sys = make("bistable");
  const double u0[4] = {0.3, 1.0, 2.0, 20.0};
  auto run = [&](double dt) {
    std::vector<double> u(u0, u0 + 4);
    sys->rk4(0, 0, dt, 1, static_cast<std::int64_t>(std::llround(0.5 / dt)), u.data(), nullptr, 0);
    return u;
  };
  const auto ref = run(2e-6);
  auto err = [&](double dt) {
    const auto u = run(dt);
    double e = 0;
    for (int i = 0; i < 4; ++i) e = std::max(e, std::abs(u[i] - ref[i]));
    return e;
  };
  const double e1 = err(2.5e-4), e2 = err(1.25e-4), e3 = err(6.25e-5);
  const double order1 = std::log2(e1 / e2), order2 = std::log2(e2 / e3);
  CAPTURE(e1, e2, e3, order1, order2);
  CHECK(order1 == Approx(4).margin(0.15));
  CHECK(order2 == Approx(4).margin(0.15));
}

TEST_CASE("Saving every k steps equals stepping k at a time", "[systems]") {
  auto sys = make("tristable");
  std::vector<double> a = {0.3, 1.0, 2.0, 20.0}, b = a, out(5);
  sys->rk4(0, 0, 1e-3, 5, 7, a.data(), out.data(), 1);
  for (int s = 0; s < 5; ++s) {
    sys->rk4(0, s * 7, 1e-3, 1, 7, b.data(), nullptr, 0);
    CHECK(out[s] == b[0]);  // bitwise: same operations in the same order, time from the step count
  }
}

TEST_CASE("Lyapunov exponent of Lorenz-63 and of the sped-up driver", "[systems][lyapunov]") {
  // Literature: 0.9056 for (10, 28, 8/3). The estimator's block standard error is checked as well.
  auto l63 = make("lorenz63", "-system_eps", "1");
  const auto r = systems::largest_lyapunov(*l63, 1, 1e-3, 400, 10, 10, 1e-8, "all");
  CAPTURE(r.exponent, r.standard_error);
  CHECK(r.exponent == Approx(0.9056).margin(0.05));
  CHECK(r.standard_error < 0.05);
  // The driver at eps = 0.5 runs 1/eps^2 = 4 times faster: ~3.62; measured on the fast components of the
  // bistable system (the slow variable does not feed back).
  auto bi = make("bistable");
  const auto d = systems::largest_lyapunov(*bi, 2, 1e-3, 100, 5, 10, 1e-8, "fast");
  CAPTURE(d.exponent, d.standard_error);
  CHECK(d.exponent == Approx(4 * 0.9056).margin(0.2));
}
