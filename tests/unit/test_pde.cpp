// Field solvers (pde/): spatial order of the stencils on exact solutions (KdV soliton, advected pulse) and
// a manufactured 2-D field, temporal order of the time steppers, periodic and Dirichlet boundaries, and
// the initial conditions' random streams. Serial (PETSC_COMM_SELF); tests/mpi covers decompositions.
#include <catch2/catch.hpp>

#include <petscsys.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"
#include "msrom/pde/pde.hpp"
#include "msrom/pde/simulate.hpp"
#include "msrom/pde/solver.hpp"

using namespace msrom;

namespace {

using Opts = std::vector<std::pair<std::string, std::string>>;

// Sets options for the lifetime of the object (a case's parameters, a solver's -ts_* choice).
struct WithOptions {
  Opts o;
  explicit WithOptions(Opts opts) : o(std::move(opts)) {
    for (const auto& [k, v] : o) PetscOptionsSetValue(nullptr, k.c_str(), v.c_str());
  }
  ~WithOptions() {
    for (const auto& [k, v] : o) PetscOptionsClearValue(nullptr, k.c_str());
  }
};

pde::Pde make(const std::string& type, const Opts& opts = {}) {
  WithOptions w(opts);
  return pde::make_case(type, Options("system"));
}

// KdV soliton of u_t + u u_x + d2 u_xxx = 0: u = 3c sech^2(k (x - x0 - c t)), k = sqrt(c / d2) / 2.
struct Soliton {
  double c = 1.0, x0 = 4.0, d2 = 0.02, l = 10.0;
  double k() const { return std::sqrt(c / d2) / 2; }
  double xi(double t, double x) const {
    double d = x - x0 - c * t;
    d -= l * std::round(d / l);
    return k() * d;
  }
  double u(double t, double x) const {
    const double s = 1.0 / std::cosh(xi(t, x));
    return 3 * c * s * s;
  }
  // u_t = -c u_x
  double ut(double t, double x) const {
    const double s = 1.0 / std::cosh(xi(t, x)), th = std::tanh(xi(t, x));
    return 6 * c * c * k() * s * s * th;
  }
  pde::Profile profile() const {
    pde::Profile p;
    p.u0 = [this](double x, double) { return u(0, x); };
    return p;
  }
};

std::vector<double> field(const pde::Solver& s) {
  std::vector<double> v(static_cast<std::size_t>(s.local_size()));
  s.local_values(v.data());
  return v;
}

double max_abs(const std::vector<double>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::abs(v));
  return m;
}

// Relative L2 distance.
double rel(const std::vector<double>& a, const std::vector<double>& b) {
  double n = 0, d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) n += (a[i] - b[i]) * (a[i] - b[i]), d += b[i] * b[i];
  return std::sqrt(n / d);
}

// Integrates a case from `profile` to time t with step dt under the given TS options; the field.
std::vector<double> solve(const pde::Pde& p, const pde::Profile& profile, double t, double dt, const Opts& ts = {}) {
  WithOptions w(ts);
  pde::Solver s(p, PETSC_COMM_SELF, dt);
  s.set_initial(profile);
  s.start(0.0);
  s.advance(std::llround(t / dt));
  return field(s);
}

}  // namespace

TEST_CASE("KdV soliton: the right-hand side converges at the stencils' order", "[pde]") {
  const Soliton sol;
  for (const std::string stencil : {"paper", "central"}) {
    std::vector<double> err;
    for (long n : {1000, 2000, 4000}) {
      const auto p = make("kdv", {{"-system_n", std::to_string(n)}, {"-system_stencil", stencil}});
      pde::Solver s(p, PETSC_COMM_SELF);
      s.set_initial(sol.profile());
      std::vector<double> f(static_cast<std::size_t>(n));
      s.rhs(f.data());
      double e = 0;
      for (long i = 0; i < n; ++i) e = std::max(e, std::abs(f[i] - sol.ut(0, p.x(i))));
      err.push_back(e);
    }
    const double o1 = std::log2(err[0] / err[1]), o2 = std::log2(err[1] / err[2]);
    CAPTURE(stencil, err, o1, o2);
    // The formula is a solution: the residual vanishes with dx.
    const double ut_max = 6 * sol.c * sol.c * sol.k() * 2 / (3 * std::sqrt(3.0));  // max of sech^2 tanh
    CHECK(err[2] < (stencil == "paper" ? 0.05 : 1e-3) * ut_max);
    const double order = stencil == "paper" ? 1.0 : 2.0;
    CHECK(o2 == Approx(order).margin(0.05));
  }
}

TEST_CASE("KdV soliton: the solution converges in space (ARKIMEX, t = 0.5)", "[pde]") {
  const Soliton sol;
  for (const std::string stencil : {"paper", "central"}) {
    std::vector<double> err;
    for (long n : {500, 1000, 2000}) {
      const auto p = make("kdv", {{"-system_n", std::to_string(n)}, {"-system_stencil", stencil}});
      const auto u = solve(p, sol.profile(), 0.5, 1e-3);
      std::vector<double> ex(u.size());
      for (long i = 0; i < n; ++i) ex[i] = sol.u(0.5, p.x(i));
      err.push_back(rel(u, ex));
    }
    const double o1 = std::log2(err[0] / err[1]), o2 = std::log2(err[1] / err[2]);
    CAPTURE(stencil, err, o1, o2);
    CHECK(o2 == Approx(stencil == "paper" ? 1.0 : 2.0).margin(0.15));
  }
}

TEST_CASE("Temporal order: ARKIMEX 3 (KdV), RK4 (wave), Heun (Burgers)", "[pde]") {
  struct Case {
    std::string name, type;
    Opts system, ts;
    double t, dt0, order;
  };
  const Soliton sol;
  const std::vector<Case> cases = {
      {"arkimex 3", "kdv", {{"-system_n", "1000"}}, {}, 0.4, 4e-3, 3.0},
      {"rk 4", "wave", {{"-system_n", "100"}, {"-system_solver", "integrate"}, {"-system_w_min", "0.1"},
                        {"-system_w_max", "0.1"}}, {}, 0.5, 1e-2, 4.0},
      {"heun", "burgers1d", {{"-system_n", "200"}}, {}, 0.5, 4e-3, 2.0},
  };
  for (const auto& c : cases) {
    const auto p = make(c.type, c.system);
    const auto prof = c.type == "kdv" ? sol.profile() : p.draw(Philox(1, 0, Purpose::initial_condition));
    const auto ref = solve(p, prof, c.t, c.dt0 / 32, c.ts);
    std::vector<double> err;
    for (double dt : {c.dt0, c.dt0 / 2, c.dt0 / 4}) err.push_back(rel(solve(p, prof, c.t, dt, c.ts), ref));
    const double o1 = std::log2(err[0] / err[1]), o2 = std::log2(err[1] / err[2]);
    CAPTURE(c.name, err, o1, o2);
    CHECK(o2 == Approx(c.order).margin(0.25));
  }
}

TEST_CASE("Wave: exact pulse, and u_t = -u_x on the mesh converges at 4th order", "[pde]") {
  SECTION("exact solver: the advected periodic pulse") {
    const auto p = make("wave");
    CHECK(p.nx == 1000);
    pde::Solver s(p, PETSC_COMM_SELF, 1e-3);
    const Philox rng(5, 2, Purpose::initial_condition);
    const auto prof = p.draw(rng);
    const double w = 0.01 + 0.01 * rng.uniform(0, 0);
    CHECK(prof.parameters.at(0).second == w);
    s.set_initial(prof);
    s.start(0.0);
    s.advance(250);  // t = 0.25: the pulse is at x = 0.25
    const auto u = field(s);
    CHECK(u[250] == 1.0);
    CHECK(u[260] == Approx(std::exp(-std::pow(0.01 / w, 2))).epsilon(1e-12));
    s.advance(1000);  // t = 1: once around the periodic domain, across the boundary
    const auto v = field(s);
    CHECK(v[0] == 1.0);
    CHECK(v[999] == Approx(std::exp(-std::pow(0.001 / w, 2))).epsilon(1e-12));
  }
  SECTION("integrated: space and time refined together (dt = dx / 2), one period") {
    std::vector<double> err;
    for (long n : {50, 100, 200}) {
      const auto p = make("wave", {{"-system_n", std::to_string(n)}, {"-system_solver", "integrate"},
                                   {"-system_w_min", "0.1"}, {"-system_w_max", "0.1"}});
      const auto prof = p.draw(Philox(1, 0, Purpose::initial_condition));
      const auto u = solve(p, prof, 1.0, 0.5 / static_cast<double>(n));
      std::vector<double> ex(u.size());
      for (long i = 0; i < n; ++i) ex[i] = prof.exact(1.0, p.x(i), 0);
      err.push_back(rel(u, ex));
    }
    const double o1 = std::log2(err[0] / err[1]), o2 = std::log2(err[1] / err[2]);
    CAPTURE(err, o1, o2);
    CHECK(o2 == Approx(4.0).margin(0.2));
  }
}

TEST_CASE("Burgers 2-D: Dirichlet boundary, 2nd-order right-hand side on a manufactured field", "[pde]") {
  const double nu = 0.005;
  std::vector<double> err;
  for (long n : {33, 65, 129}) {
    const auto p = make("burgers2d", {{"-system_n", std::to_string(n)}});
    REQUIRE_FALSE(p.periodic);
    pde::Solver s(p, PETSC_COMM_SELF);
    pde::Profile m;
    m.u0 = [](double x, double y) { return std::sin(M_PI * x) * std::sin(M_PI * y); };
    s.set_initial(m);
    std::vector<double> f(static_cast<std::size_t>(n * n));
    s.rhs(f.data());
    double e = 0;
    for (long i = 0; i < n; ++i)
      for (long j = 0; j < n; ++j) {
        const double x = p.x(i), y = p.y(j), u = m.u0(x, y);
        const double ux = M_PI * std::cos(M_PI * x) * std::sin(M_PI * y), uy = M_PI * std::sin(M_PI * x) * std::cos(M_PI * y);
        const double exact = p.boundary(i, j) ? 0.0 : -2 * M_PI * M_PI * nu * u - u * (ux + uy);
        e = std::max(e, std::abs(f[i * n + j] - exact));
        if (p.boundary(i, j)) CHECK(f[i * n + j] == 0.0);
      }
    err.push_back(e);
  }
  CAPTURE(err);
  CHECK(std::log2(err[1] / err[2]) == Approx(2.0).margin(0.1));

  SECTION("the boundary stays 0, the symmetric pulse stays symmetric") {
    const auto p = make("burgers2d", {{"-system_n", "64"}});
    auto prof = p.draw(Philox(3, 1, Purpose::initial_condition));
    const auto u = solve(p, prof, 0.1, 1e-3);
    for (long i = 0; i < 64; ++i)
      for (long j = 0; j < 64; ++j) {
        if (p.boundary(i, j)) CHECK(u[i * 64 + j] == 0.0);
        CHECK(u[i * 64 + j] == Approx(u[j * 64 + i]).margin(1e-13));
      }
    CHECK(max_abs(u) > 0.5);
  }
}

TEST_CASE("Periodic boundary: the right-hand side commutes with shifts, bit for bit", "[pde]") {
  for (const std::string type : {"ks22", "kdv", "burgers1d"}) {
    const auto p = make(type, {{"-system_n", "128"}});
    pde::Solver s(p, PETSC_COMM_SELF);
    const long n = p.nx, shift = 5;
    std::vector<double> u(n), us(n), f(n), fs(n);
    Philox(9, 0, Purpose::perturbation).normals(0, u.data(), u.size());
    for (long i = 0; i < n; ++i) us[(i + shift) % n] = u[i];
    s.set_local_values(u.data());
    s.rhs(f.data());
    s.set_local_values(us.data());
    s.rhs(fs.data());
    bool same = true;
    for (long i = 0; i < n; ++i) same = same && fs[(i + shift) % n] == f[i];
    CAPTURE(type);
    CHECK(same);
  }
}

TEST_CASE("Initial conditions come from the member's stream with the table's distributions", "[pde]") {
  const auto p = make("kdv");
  const Philox rng(4, 3, Purpose::initial_condition);
  const auto prof = p.draw(rng);
  REQUIRE(prof.parameters.size() == 2);
  CHECK(prof.parameters[0].second == 2.0 + 0.1 * rng.normal(0, 0));
  CHECK(prof.parameters[1].second == 1.0 + 0.1 * rng.normal(0, 1));
  const double a = prof.parameters[0].second, sv = prof.parameters[1].second;
  CHECK(prof.u0(7.0, 0) == Approx(a * std::cos(M_PI * 7.0) * std::exp(-0.25 / (sv * sv))).epsilon(1e-14));
  // Different members, different draws; the same member, the same draw.
  CHECK(p.draw(Philox(4, 4, Purpose::initial_condition)).parameters[0].second != prof.parameters[0].second);
  CHECK(p.draw(Philox(4, 3, Purpose::initial_condition)).parameters[0].second == prof.parameters[0].second);

  const auto b = make("burgers2d");
  const auto pb = b.draw(Philox(4, 3, Purpose::initial_condition));
  const double c1 = pb.parameters[0].second, c2 = pb.parameters[1].second;
  CHECK(pb.u0(0.3, 0.3) == c1);
  CHECK(std::sqrt(c2) == Approx(0.2 + 0.01 * Philox(4, 3, Purpose::initial_condition).normal(0, 1)).epsilon(1e-14));
}

TEST_CASE("Case defaults follow the method doc's table", "[pde]") {
  const auto kdv = make("kdv");
  CHECK(kdv.nx == 1000);
  CHECK(kdv.lx == 10.0);
  CHECK(kdv.noise == 1e-2);
  CHECK((kdv.train == 10 && kdv.validation == 5 && kdv.test == 5));
  const auto b2 = make("burgers2d");
  CHECK((b2.nx == 128 && b2.ny == 128 && b2.dim == 2));
  CHECK((b2.train == 20 && b2.validation == 5 && b2.test == 5));
  CHECK(b2.stepping.ts_subtype == "2a");  // Heun
  const auto b1 = make("burgers1d");
  CHECK((b1.train == 8 && b1.validation == 1 && b1.test == 1));
  const auto ks = make("ks100");
  CHECK(ks.lx == 100.0);
  CHECK(pde::periodic_distance(0.95, 1.0) == Approx(0.05));
  CHECK(pde::periodic_distance(-0.25, 1.0) == Approx(0.25));
}

TEST_CASE("XDMF sidecar describes the fields as hyperslabs of /fields/u", "[pde]") {
  const auto p = make("kdv", {{"-system_n", "100"}});
  const auto x = pde::xdmf(p, "data.h5", 3, 11, std::vector<double>(11, 0.0));
  CHECK(x.find("data.h5:/fields/u") != std::string::npos);
  CHECK(x.find("Dimensions=\"3 11 100\"") != std::string::npos);
  CHECK(x.find("member_2") != std::string::npos);
  const auto b = make("burgers2d", {{"-system_n", "16"}});
  const auto y = pde::xdmf(b, "b.h5", 2, 4, {0, 0.1, 0.2, 0.3});
  CHECK(y.find("CollectionType=\"Temporal\"") != std::string::npos);
  CHECK(y.find("Dimensions=\"2 4 16 16\"") != std::string::npos);
  CHECK(y.find("<Time Value=\"0.29999999999999999\"/>") != std::string::npos);
}
