// Tristable, cyclo-periodic slow variable (Method A, "tristable"):
//
//   dx/dt = -U'(x) + F(t) + (sigma/eps) y2
//   U(x)  = c [x^6/3 - q4 x^4 + q2 x^2] + r x^2,   c = 50/131, q4 = 122/64, q2 = 79/29, r = 0.02
//   F(t)  = A cos(2 pi f t),                        A = 0.1, f = 0.002 (period 500)
//
// Three wells (x ~ 0, +-~1.6); the slow periodic forcing tilts the potential, so well occupancies cycle.
// A reduced model sees the clock through [sin wt, cos wt] (Method A, section 3). The authors integrated
// with Euler; RK4 here (method doc).
#include <cmath>

#include "msrom/core/options.hpp"
#include "msrom/systems/lorenz_driver.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {
namespace {

struct Tristable {
  static constexpr int kDim = 4, kSlow = 1;
  LorenzDriver d;
  double c = 50.0 / 131.0, q4 = 122.0 / 64.0, q2 = 79.0 / 29.0, r = 0.02;
  double amplitude = 0.1, frequency = 0.002, spread = 1.0;
  double omega = 2 * M_PI * 0.002;

  inline void operator()(double t, const double* u, double* f) const {
    const double x = u[0], x2 = x * x;
    // U'(x) = c [2 x^5 - 4 q4 x^3 + 2 q2 x] + 2 r x
    const double dU = c * x * (2.0 * x2 * x2 - 4.0 * q4 * x2 + 2.0 * q2) + 2.0 * r * x;
    f[0] = -dU + amplitude * std::cos(omega * t) + d.coupling * u[2];
    d(u + 1, d.rho, f + 1);
  }
  std::vector<std::string> names() const { return {"x", "y1", "y2", "y3"}; }
  std::vector<std::pair<std::string, double>> parameters() const {
    std::vector<std::pair<std::string, double>> p;
    d.append_parameters(p);
    p.insert(p.end(), {{"potential_c", c}, {"potential_q4", q4}, {"potential_q2", q2}, {"potential_r", r},
                       {"forcing_amplitude", amplitude}, {"forcing_frequency", frequency}});
    return p;
  }
  void initial_condition(const Philox& rng, double* u) const {
    u[0] = spread * rng.normal(0, 0);
    d.initial_condition(rng, u + 1);
  }
};

const Registration reg("tristable", "three wells with periodic forcing A cos(2 pi f t), Lorenz-63 driver",
                       [](const Options& o) {
                         Tristable s;
                         s.d = LorenzDriver::read(o);
                         s.c = o.real("system_potential_c", s.c, "potential scale c");
                         s.q4 = o.real("system_potential_q4", s.q4, "quartic coefficient q4");
                         s.q2 = o.real("system_potential_q2", s.q2, "quadratic coefficient q2");
                         s.r = o.real("system_potential_r", s.r, "extra quadratic r");
                         s.amplitude = o.real("system_forcing_amplitude", s.amplitude, "periodic forcing A");
                         s.frequency = o.real("system_forcing_frequency", s.frequency, "forcing frequency f");
                         s.spread = o.positive("system_ic_spread", s.spread, "std of the random initial slow state");
                         s.omega = 2 * M_PI * s.frequency;
                         return std::make_unique<OdeSystem<Tristable>>("tristable", s);
                       });

}  // namespace
}  // namespace msrom::systems
