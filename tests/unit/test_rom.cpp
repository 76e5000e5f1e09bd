// ROM pieces with known answers: the homogenised SDE's diffusion against an independent estimate, the
// analytic drifts.
#include <catch2/catch.hpp>

#include "msrom/rom/roms.hpp"

using namespace msrom;

TEST_CASE("Homogenised diffusion of the bistable system", "[rom]") {
  // sigma^2 int_0^10 C_y2: an independent numpy FFT estimate over T = 2e4 gave int C = 32.7 (31-34 with the
  // lag cut between 5 and 20, the tail oscillates), so D = 0.0064 * 32.7 = 0.209 at sigma = 0.08.
  const double D = rom::homogenised_diffusion(0.08, 10, 28, 8.0 / 3, 1e4, 10);
  CAPTURE(D);
  CHECK(D == Approx(0.209).margin(0.02));
  // D scales with sigma^2.
  CHECK(rom::homogenised_diffusion(0.16, 10, 28, 8.0 / 3, 1e4, 10) == Approx(4 * D).epsilon(1e-12));
}

TEST_CASE("Analytic drifts", "[rom]") {
  Eigen::MatrixXd u(1, 3), f(1, 3);
  u << -1.5, 0.2, 2.0;
  rom::AnalyticRom("ou", 2.0).drift(0, u, f);
  CHECK(f(0, 2) == -4.0);
  rom::AnalyticRom("double_well", 0.5).drift(0, u, f);
  CHECK(f(0, 0) == Approx(0.5 * (2 * -1.5 + 3.375)));
  rom::AnalyticRom h("homogenised", 0.21);
  h.drift(0, u, f);
  CHECK(f(0, 1) == Approx(0.2 - 0.008));
  CHECK(h.noise_factor()(0, 0) == Approx(std::sqrt(0.21)));
}
