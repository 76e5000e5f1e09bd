// Lorenz-63 alone (s = 10, rho = 28, b = 8/3 by default, time scaled by 1/eps^2 as in the driver; eps = 1
// gives the classical system, largest Lyapunov exponent ~0.906). Useful to check the Lyapunov estimator
// and as the driver's own reference.
#include "msrom/core/options.hpp"
#include "msrom/systems/lorenz_driver.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {
namespace {

struct Lorenz63 {
  static constexpr int kDim = 3, kSlow = 3;
  LorenzDriver d;
  inline void operator()(double, const double* u, double* f) const { d(u, d.rho, f); }
  std::vector<std::string> names() const { return {"y1", "y2", "y3"}; }
  std::vector<std::pair<std::string, double>> parameters() const {
    std::vector<std::pair<std::string, double>> p;
    d.append_parameters(p);
    return p;
  }
  void initial_condition(const Philox& rng, double* u) const { d.initial_condition(rng, u); }
};

const Registration reg("lorenz63", "Lorenz-63 alone, time scaled by 1/eps^2 (the fast driver)", [](const Options& o) {
  return std::make_unique<OdeSystem<Lorenz63>>("lorenz63", Lorenz63{LorenzDriver::read(o)});
});

}  // namespace
}  // namespace msrom::systems
