#pragma once
// The fast chaotic driver shared by the slow-fast systems of Method A: Lorenz-63 sped up by 1/eps^2,
//
//   dy1/dt = (s/eps^2) (y2 - y1)
//   dy2/dt = (1/eps^2) (y1 (rho - y3) - y2)
//   dy3/dt = (1/eps^2) (y1 y2 - b y3)
//
// with (s, rho, b) = (10, 28, 8/3), eps = 0.5 by default. Its largest Lyapunov exponent is that of
// Lorenz-63 (~0.906) times 1/eps^2 (~3.6 at eps = 0.5). The slow variables feel it through
// (sigma/eps) y2.
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/random.hpp"

namespace msrom {
class Options;
}

namespace msrom::systems {

struct LorenzDriver {
  double sigma = 0.08;  // coupling amplitude of the slow equation: (sigma/eps) y2
  double eps = 0.5;     // time-scale separation
  double s = 10.0, rho = 28.0, b = 8.0 / 3.0;
  // Derived: 1/eps^2, s/eps^2 and sigma/eps.
  double inv_eps2 = 4.0, s_eps2 = 40.0, coupling = 0.16;

  static LorenzDriver read(const Options& opts);
  // dy/dt at y = (y1, y2, y3) with a given rho (the two-way coupled system varies it).
  inline void operator()(const double* y, double rho_now, double* f) const {
    f[0] = s_eps2 * (y[1] - y[0]);
    f[1] = inv_eps2 * (y[0] * (rho_now - y[2]) - y[1]);
    f[2] = inv_eps2 * (y[0] * y[1] - b * y[2]);
  }
  void append_parameters(std::vector<std::pair<std::string, double>>& p) const;
  // A point near the attractor: (1, 1, 25) plus a unit Gaussian perturbation (burn-in does the rest).
  void initial_condition(const Philox& rng, double* y) const;
};

}  // namespace msrom::systems
