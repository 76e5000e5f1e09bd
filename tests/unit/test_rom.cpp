// ROM pieces with known answers: the homogenised SDE's diffusion against an independent estimate, the
// analytic drifts, the phase current of a clock-driven model.
#include <catch2/catch.hpp>

#include <cmath>

#include "msrom/rom/langevin.hpp"
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

// A moving Gaussian p(u | phase) = N(A sin(phase), v): the score is linear, s = -(u - A sin phase) / v, and the
// phase current must be the translation speed of the density, c = d/dt (A sin wt) = w A cos(phase), at every u.
TEST_CASE("Phase current of a clock-driven model: the moving Gaussian's exact translation speed", "[rom]") {
  const double A = 0.4, v = 0.09, f = 0.01, w = 2 * M_PI * f;
  msrom::rom::LangevinModel lm;
  auto& s = lm.score;
  s.mean = Eigen::Vector3d::Zero();
  s.std = Eigen::Vector3d::Ones();
  s.sigma = 0.05;
  s.clock_frequency = f;
  s.eps_hat = msrom::nn::Mlp({3, 3}, msrom::nn::Activation::identity, 1);
  auto W = s.eps_hat.weight(0);
  W.setZero();
  s.eps_hat.bias(0).setZero();
  W(2, 0) = -s.sigma * A / v;  // eps_u = sigma (u - A sin(phase)) / v, i.e. s_u = -(u - A sin(phase)) / v
  W(2, 2) = s.sigma / v;
  lm.phi = lm.phi_acf = lm.phi_generator = Eigen::MatrixXd::Constant(1, 1, 0.5);
  CHECK(lm.phase_current(0.1, 0.3) == 0.0);  // no table yet
  lm.build_phase_current(512, 4096);
  REQUIRE(lm.has_phase_current());
  double worst = 0;
  for (double phase : {0.0, 0.7, 1.9, 3.1, 4.4, 5.9})
    for (double z : {-2.5, -1.0, 0.0, 0.5, 2.5}) {  // within 2.5 standard deviations of the moving mean
      const double u = A * std::sin(phase) + z * std::sqrt(v);
      worst = std::max(worst, std::abs(lm.phase_current(u, phase) - w * A * std::cos(phase)));
    }
  CHECK(worst < 2e-3 * w * A);
  // drift() adds it: at the moving mean the score vanishes and the drift is the current alone.
  const double t = 13.0, phase = w * t;
  Eigen::MatrixXd U(1, 1), F(1, 1);
  U(0, 0) = A * std::sin(phase);
  msrom::nn::Workspace ws;
  lm.drift(t, U, F, ws);
  CHECK(F(0, 0) == Approx(w * A * std::cos(phase)).epsilon(2e-3));
  // An autonomous model gets no table.
  msrom::rom::LangevinModel plain = lm;
  plain.score.clock_frequency = 0;
  plain.score.mean = plain.score.std = Eigen::VectorXd::Ones(1);
  plain.build_phase_current();
  CHECK_FALSE(plain.has_phase_current());
}
