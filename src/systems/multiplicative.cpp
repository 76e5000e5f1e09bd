// Bistable slow variable with multiplicative chaotic forcing (Method A, "multiplicative"; the paper names
// the case but its equations are not public, so this form is ours):
//
//   dx/dt = x - x^3 + (sigma/eps) (1 + a x) y2,     a = -system_multiplicative_a (default 0.25)
//
// The forcing amplitude depends on the state, so the effective noise is stronger in the right well than
// in the left one (a > 0) and the invariant density is asymmetric.
#include "msrom/core/options.hpp"
#include "msrom/systems/lorenz_driver.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {
namespace {

struct Multiplicative {
  static constexpr int kDim = 4, kSlow = 1;
  LorenzDriver d;
  double a = 0.25, spread = 1.0;

  inline void operator()(double, const double* u, double* f) const {
    const double x = u[0];
    f[0] = x - x * x * x + d.coupling * (1.0 + a * x) * u[2];
    d(u + 1, d.rho, f + 1);
  }
  std::vector<std::string> names() const { return {"x", "y1", "y2", "y3"}; }
  std::vector<std::pair<std::string, double>> parameters() const {
    std::vector<std::pair<std::string, double>> p;
    d.append_parameters(p);
    p.emplace_back("multiplicative_a", a);
    return p;
  }
  void initial_condition(const Philox& rng, double* u) const {
    u[0] = spread * rng.normal(0, 0);
    d.initial_condition(rng, u + 1);
  }
};

const Registration reg("multiplicative", "double well with forcing (sigma/eps)(1 + a x) y2", [](const Options& o) {
  Multiplicative m{LorenzDriver::read(o),
                   o.real("system_multiplicative_a", 0.25, "state dependence a of the forcing (1 + a x)"),
                   o.positive("system_ic_spread", 1.0, "std of the random initial slow state")};
  return std::make_unique<OdeSystem<Multiplicative>>("multiplicative", m);
});

}  // namespace
}  // namespace msrom::systems
