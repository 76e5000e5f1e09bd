// ROM pieces with known answers: the homogenised SDE's diffusion against an independent estimate, the
// analytic drifts, the phase current of a clock-driven model, the hybrid ROM's step.
#include <catch2/catch.hpp>

#include <cmath>

#include "msrom/rom/langevin.hpp"
#include "msrom/rom/roms.hpp"
#include "msrom/rom/hybrid.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

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

TEST_CASE("Hybrid ROM: the Euler step of the slow variable with the NODE forcing, RK4 substeps, NODE per member",
          "[rom][hybrid]") {
  // Slow part: s(u) = -u (eps_hat = sigma u), Phi = 0.5, so the drift is -u/2. Forcing: r = mean + std r_hat.
  msrom::rom::LangevinModel lm;
  lm.score.mean = Eigen::VectorXd::Zero(1);
  lm.score.std = Eigen::VectorXd::Ones(1);
  lm.score.sigma = 0.05;
  lm.score.eps_hat = msrom::nn::Mlp({1, 1}, msrom::nn::Activation::identity, 1);
  lm.score.eps_hat.weight(0)(0, 0) = 0.05;
  lm.score.eps_hat.bias(0).setZero();
  lm.phi = lm.phi_acf = lm.phi_generator = Eigen::MatrixXd::Constant(1, 1, 0.5);
  lm.sigma = Eigen::MatrixXd::Constant(1, 1, std::sqrt(0.5));
  lm.source = "acf";
  // Two linear NODEs on delay vectors of m = 2: dv/dt = A_k v (damped rotations), trained at dt_f = 0.01.
  msrom::node::ForcingModel fm;
  fm.mean = Eigen::VectorXd::Constant(1, 0.1);
  fm.std = Eigen::VectorXd::Constant(1, 0.3);
  fm.dt = 0.01;
  fm.m = 2;
  fm.phi_source = "acf";
  Eigen::Matrix2d A[2];
  A[0] << -0.2, 3.0, -3.0, -0.2;
  A[1] << -0.5, 1.0, -1.0, -0.1;
  for (int k = 0; k < 2; ++k) {
    fm.nets.emplace_back(std::vector<int>{2, 2}, msrom::nn::Activation::identity, 1);
    fm.nets.back().weight(0) = A[k];
    fm.nets.back().bias(0).setZero();
  }
  fm.initial_states.resize(2, 3);
  fm.initial_states << 1.0, -0.5, 0.25, 0.0, 0.75, -1.0;
  // The fit (learn-forcing step 6): gain g = 1.5 on std_r, r_hat centred on NODE k's mean mu_k.
  fm.gain = Eigen::VectorXd::Constant(1, 1.5);
  fm.node_mean.resize(1, 2);
  fm.node_mean << 0.2, -0.1;
  msrom::rom::HybridRom unfitted_rom(lm, [&] {
    auto f = fm;
    f.use_closure("none");
    return f;
  }());
  msrom::rom::HybridRom rom(lm, fm);
  CHECK(rom.dim() == 3);
  CHECK(rom.observed_dim() == 1);
  CHECK_FALSE(rom.white_noise());

  // Members 3..6 on this "rank", dt = 2 dt_f: two RK4 substeps per step.
  const double dt = 0.02;
  rom.prepare(3, 4, dt);
  Eigen::MatrixXd U(3, 4), F(3, 4);
  for (int c = 0; c < 4; ++c) {
    const msrom::Philox rng(1, static_cast<std::uint64_t>(3 + c), msrom::Purpose::initial_condition);
    rom.initial_state(3 + c, rng, U.col(c).data());
    double z = 0;
    rng.normals(0, &z, 1);
    CHECK(U(0, c) == z);                                               // u_0 ~ N(0, 1) from the member's stream
    CHECK(U.col(c).tail(2) == fm.initial_states.col(((3 + c) / 2) % 3));  // bank vector (g / K) mod bank
  }
  // The reference recurrence: u += dt (-u/2 + 0.1 + 1.5 x 0.3 (v_0 - mu_k)); v <- P_k^2 v with the RK4
  // propagator of A_k.
  Eigen::Matrix2d P[2];
  for (int k = 0; k < 2; ++k) {
    const Eigen::Matrix2d hA = fm.dt * A[k];
    P[k] = Eigen::Matrix2d::Identity() + hA + hA * hA / 2 + hA * hA * hA / 6 + hA * hA * hA * hA / 24;
  }
  Eigen::MatrixXd R = U;
  for (int n = 0; n < 50; ++n) {
    rom.drift(n * dt, U, F);
    U += dt * F;
    for (int c = 0; c < 4; ++c) {
      const int k = (3 + c) % 2;  // member g runs NODE g mod K
      R(0, c) += dt * (-0.5 * R(0, c) + 0.1 + 1.5 * 0.3 * (R(1, c) - fm.node_mean(0, k)));
      R.col(c).tail(2) = P[k] * P[k] * R.col(c).tail(2);
    }
  }
  CHECK((U - R).cwiseAbs().maxCoeff() < 1e-12);
  CHECK_FALSE(rom.white_noise());  // no white_diffusion in the model: no white closure
  // -forcing_closure none: the residual's own amplitude, u += dt (-u/2 + 0.1 + 0.3 v_0).
  {
    unfitted_rom.prepare(3, 4, dt);
    Eigen::MatrixXd V = R, G(3, 4), W = R;
    unfitted_rom.drift(0, V, G);
    for (int c = 0; c < 4; ++c) W(0, c) = -0.5 * V(0, c) + 0.1 + 0.3 * V(1, c);
    CHECK((G.row(0) - W.row(0)).cwiseAbs().maxCoeff() < 1e-15);
  }
  // The closures: "white" keeps the centring, drops the gain and adds white noise of diffusion D_w on the slow
  // row only; "gain" drops the white noise.
  {
    auto f = fm;
    f.white = Eigen::VectorXd::Constant(1, 0.04);
    auto g = f;
    f.use_closure("white");
    CHECK(f.gain(0) == 1.0);
    CHECK(f.node_mean(0, 1) == -0.1);
    msrom::rom::HybridRom white(lm, f);
    CHECK(white.white_noise());
    Eigen::MatrixXd expect = Eigen::MatrixXd::Zero(3, 3);
    expect(0, 0) = 0.2;
    CHECK(white.noise_factor() == expect);
    g.use_closure("gain");
    CHECK(g.gain(0) == 1.5);
    CHECK_FALSE(msrom::rom::HybridRom(lm, g).white_noise());
    CHECK_THROWS_AS(g.use_closure("bogus"), msrom::InputError);
  }
  // And the NODE rows follow the exact flow exp(A t) to RK4 accuracy (t = 1).
  for (int c = 0; c < 4; ++c) {
    const int k = (3 + c) % 2;
    Eigen::Matrix2d expA = Eigen::Matrix2d::Identity(), term = Eigen::Matrix2d::Identity();
    for (int j = 1; j < 40; ++j) term = term * A[k] / j, expA += term;  // exp(A t) at t = 1, by its series
    const Eigen::Vector2d v0 = fm.initial_states.col(((3 + c) / 2) % 3);
    CHECK((U.col(c).tail(2) - expA * v0).norm() < 5e-8);  // RK4: ~ t h^4 |A|^5 / 120 = 2e-8
  }

  // dt must be a whole multiple of the NODE's step.
  CHECK(msrom::rom::node_substeps(0.05, 0.01, "-ts_dt") == 5);
  CHECK_THROWS_AS(msrom::rom::node_substeps(0.015, 0.01, "-ts_dt"), msrom::InputError);
  CHECK_THROWS_AS(msrom::rom::node_substeps(0.005, 0.01, "-ts_dt"), msrom::InputError);
  CHECK_THROWS_AS(rom.prepare(0, 1, 0.025), msrom::InputError);
}
