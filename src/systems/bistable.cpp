// Bistable slow variable driven by fast Lorenz-63 chaos (Method A, "bistable (additive)"):
//
//   dx/dt = -U'(x) + (sigma/eps) y2,   U(x) = -x^2/2 + x^4/4   =>   -U'(x) = x - x^3
//   dy/dt = Lorenz-63 sped up by 1/eps^2 (lorenz_driver.hpp)
//
// As eps -> 0 the chaotic forcing becomes white noise and x a double-well Langevin process; at eps = 0.5
// it is coloured, which is what the neural-ODE forcing of Method A learns.
#include "msrom/core/options.hpp"
#include "msrom/systems/lorenz_driver.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {
namespace {

struct Bistable {
  static constexpr int kDim = 4, kSlow = 1;
  LorenzDriver d;
  double spread = 1.0;  // initial x ~ N(0, spread^2)

  inline void operator()(double, const double* u, double* f) const {
    const double x = u[0];
    f[0] = x - x * x * x + d.coupling * u[2];
    d(u + 1, d.rho, f + 1);
  }
  std::vector<std::string> names() const { return {"x", "y1", "y2", "y3"}; }
  std::vector<std::pair<std::string, double>> parameters() const {
    std::vector<std::pair<std::string, double>> p;
    d.append_parameters(p);
    return p;
  }
  void initial_condition(const Philox& rng, double* u) const {
    u[0] = spread * rng.normal(0, 0);
    d.initial_condition(rng, u + 1);
  }
};

const Registration reg("bistable", "double well -U'(x) = x - x^3 + (sigma/eps) y2, Lorenz-63 driver",
                       [](const Options& o) {
                         Bistable b{LorenzDriver::read(o), o.positive("system_ic_spread", 1.0,
                                                                      "std of the random initial slow state")};
                         return std::make_unique<OdeSystem<Bistable>>("bistable", b);
                       });

}  // namespace
}  // namespace msrom::systems
