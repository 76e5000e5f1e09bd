// Two-way coupled slow-fast system, 2 slow + 3 fast variables (ours: the published version of the paper
// adds a 5-D case whose equations are not public, so this one stands in for it):
//
//   dx1/dt = x1 - x1^3 + a x2 + (sigma/eps) y2
//   dx2/dt = b (x1 - x2)
//   dy/dt  = Lorenz-63 sped up by 1/eps^2, with rho = rho0 + kappa x1
//
// a = 0.2, b = 0.5, kappa = 2. Unlike the other cases the fast subsystem depends on the slow state, so the
// forcing statistics differ between the wells.
#include "msrom/core/options.hpp"
#include "msrom/systems/lorenz_driver.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {
namespace {

struct Coupled5d {
  static constexpr int kDim = 5, kSlow = 2;
  LorenzDriver d;
  double a = 0.2, b = 0.5, kappa = 2.0, spread = 1.0;

  inline void operator()(double, const double* u, double* f) const {
    const double x1 = u[0], x2 = u[1];
    f[0] = x1 - x1 * x1 * x1 + a * x2 + d.coupling * u[3];
    f[1] = b * (x1 - x2);
    d(u + 2, d.rho + kappa * x1, f + 2);
  }
  std::vector<std::string> names() const { return {"x1", "x2", "y1", "y2", "y3"}; }
  std::vector<std::pair<std::string, double>> parameters() const {
    std::vector<std::pair<std::string, double>> p;
    d.append_parameters(p);
    p.insert(p.end(), {{"coupled_a", a}, {"coupled_b", b}, {"coupled_kappa", kappa}});
    return p;
  }
  void initial_condition(const Philox& rng, double* u) const {
    u[0] = spread * rng.normal(0, 0);
    u[1] = spread * rng.normal(0, 1);
    d.initial_condition(rng, u + 2);
  }
};

const Registration reg("coupled5d", "2 slow + 3 fast, two-way: Lorenz rho = 28 + kappa x1", [](const Options& o) {
  Coupled5d s;
  s.d = LorenzDriver::read(o);
  s.a = o.real("system_coupled_a", s.a, "coupling a of x2 into dx1/dt");
  s.b = o.real("system_coupled_b", s.b, "relaxation rate b of x2");
  s.kappa = o.real("system_coupled_kappa", s.kappa, "slow-to-fast coupling kappa (rho = rho0 + kappa x1)");
  s.spread = o.positive("system_ic_spread", s.spread, "std of the random initial slow state");
  return std::make_unique<OdeSystem<Coupled5d>>("coupled5d", s);
});

}  // namespace
}  // namespace msrom::systems
