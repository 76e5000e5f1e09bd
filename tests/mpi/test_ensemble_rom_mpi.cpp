// The ensemble engine under MPI (1, 2, 4 ranks): rollouts bitwise identical to one rank (and TS equal to
// the plain loop), the Euler-Maruyama OU chain's exact stationary moments and ACF, diverged members
// flagged, stopped and counted.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "msrom/core/comm.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/rom/hybrid.hpp"
#include "msrom/rom/roms.hpp"

using namespace msrom;

namespace {
std::string shared_path(const std::string& tag) {
  std::string p = "/tmp/msrom_ens_" + std::to_string(getpid()) + "_" + tag + ".h5";
  broadcast(p);
  return p;
}
rom::EnsembleConfig config(const std::string& out) {
  rom::EnsembleConfig c;
  c.members = 7;  // uneven blocks on 2 and 4 ranks
  c.seed = 3;
  c.dt = 0.01;
  c.burn_in = 1;
  c.steps = 3000;
  c.save_every = 7;
  c.stats_every = 5;
  c.max_lag = 2;
  c.bins = 64;
  c.output = out;
  c.checkpoint = "";
  c.progress = ProgressMode::never;
  return c;
}
// The OU chain's run: 64 members x 20000 steps of dt after a burn-in of 20, statistics at every step.
rom::EnsembleConfig ou_config(const std::string& out, double dt) {
  auto c = config(out);
  c.members = 64;
  c.dt = dt;
  c.burn_in = 20;
  c.steps = 20000;
  c.save_every = 0;
  c.stats_every = 1;
  c.max_lag = 0.5;
  return c;
}
}  // namespace

TEST_CASE("Ensemble rollouts are bitwise identical for any rank count and both integrators", "[Parallel]") {
  rom::AnalyticRom dw("double_well", 0.7);
  std::vector<std::vector<double>> states;
  for (const char* integrator : {"ts", "loop"}) {
    auto cfg = config(shared_path(integrator));
    cfg.integrator = integrator;
    rom::run_ensemble(dw, cfg, MPI_COMM_WORLD);
    states.push_back(h5::File::open(cfg.output).read("/ensemble/state"));
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) std::remove(cfg.output.c_str());
  }
  CHECK(states[0] == states[1]);
  // Every rank recomputes the whole ensemble alone and compares.
  auto cfg = config("/tmp/msrom_ens_self_" + std::to_string(getpid()) + "_" + std::to_string(rank()) + ".h5");
  cfg.integrator = "loop";
  rom::run_ensemble(dw, cfg, MPI_COMM_SELF);
  const auto alone = h5::File::open(cfg.output).read("/ensemble/state");
  std::remove(cfg.output.c_str());
  CAPTURE(size());
  CHECK(alone == states[0]);
  CHECK(alone.size() == 7u * (3000 / 7));
}

TEST_CASE("OU ensemble: the Euler-Maruyama chain's exact stationary variance and ACF", "[Parallel]") {
  // u_{n+1} = (1 - a) u_n + sqrt(2 a) xi, a = phi dt: stationary variance 1 / (1 - a/2), ACF (1 - a)^k.
  const double phi = 2.0, dt = 0.05, a = phi * dt;
  rom::AnalyticRom ou("ou", phi);
  const auto cfg = ou_config(shared_path("ou"), dt);
  const auto r = rom::run_ensemble(ou, cfg, MPI_COMM_WORLD);
  const double var = 1 / (1 - a / 2);
  // 1.28e6 samples with correlation time ~1/a = 10 steps: ~1.3e5 effective; std error of the variance
  // ~ var sqrt(2 / 1.3e5) = 0.4%: 5 standard errors.
  CHECK(r.metrics.get("std.ou") == Approx(std::sqrt(var)).epsilon(0.01));
  CHECK(std::abs(r.metrics.get("mean.ou")) < 5 * std::sqrt(var * 2 / a / 1.28e6));
  CHECK(r.metrics.get("kurtosis.ou") == Approx(3).margin(0.05));
  // tau_int = dt (1/2 + sum_k (1-a)^k) = dt (1/2 + (1-a)/a) up to truncation at max_lag (0.9^10 ~ 0.35 left).
  const auto f = h5::File::open(cfg.output);
  const auto rho = f.read("/ensemble/stats/acf/rho");
  REQUIRE(rho.size() == 11u);
  for (int k = 1; k <= 10; ++k) {
    CAPTURE(k);
    CHECK(rho[k] == Approx(std::pow(1 - a, k)).margin(0.01));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::remove(cfg.output.c_str());
}

TEST_CASE("Hybrid ROM with the white closure: the engine's white noise on the slow row gives the exact OU chain",
          "[Parallel]") {
  // A NODE that stands still (dv/dt = 0) centred on its own state: the coloured forcing vanishes, and the slow
  // row is u_{n+1} = (1 - a) u_n + sqrt(2 D_w dt) xi with s(u) = -u, Phi = 2, D_w = 2: the OU chain above
  // (stationary variance 1 / (1 - a/2), a = Phi dt). The NODE row must get no noise (it would move).
  rom::LangevinModel lm;
  lm.score.mean = Eigen::VectorXd::Zero(1);
  lm.score.std = Eigen::VectorXd::Ones(1);
  lm.score.sigma = 0.05;
  lm.score.eps_hat = nn::Mlp({1, 1}, nn::Activation::identity, 1);
  lm.score.eps_hat.weight(0)(0, 0) = 0.05;
  lm.score.eps_hat.bias(0).setZero();
  lm.phi = lm.phi_acf = lm.phi_generator = Eigen::MatrixXd::Constant(1, 1, 2.0);
  lm.sigma = Eigen::MatrixXd::Constant(1, 1, std::sqrt(2.0));
  lm.source = "acf";
  node::ForcingModel fm;
  fm.mean = Eigen::VectorXd::Zero(1);
  fm.std = Eigen::VectorXd::Constant(1, 0.7);
  fm.dt = 0.05;
  fm.m = 1;
  fm.phi_source = "acf";
  fm.nets.emplace_back(std::vector<int>{1, 1}, nn::Activation::identity, 1);
  fm.nets.back().weight(0).setZero();
  fm.nets.back().bias(0).setZero();
  fm.initial_states = Eigen::MatrixXd::Constant(1, 1, 0.3);
  fm.gain = Eigen::VectorXd::Constant(1, 1.9);  // the white closure sets it to 1
  fm.node_mean = Eigen::MatrixXd::Constant(1, 1, 0.3);
  fm.white = Eigen::VectorXd::Constant(1, 2.0);
  fm.use_closure("white");
  rom::HybridRom hybrid(lm, fm);
  REQUIRE(hybrid.white_noise());
  const double dt = 0.05, a = 2.0 * dt;
  const auto cfg = ou_config(shared_path("hybrid_ou"), dt);
  const auto r = rom::run_ensemble(hybrid, cfg, MPI_COMM_WORLD);
  const double var = 1 / (1 - a / 2);
  CHECK(r.metrics.get("std.hybrid") == Approx(std::sqrt(var)).epsilon(0.01));  // 5 standard errors (above)
  CHECK(std::abs(r.metrics.get("mean.hybrid")) < 5 * std::sqrt(var * 2 / a / 1.28e6));
  const auto rho = h5::File::open(cfg.output).read("/ensemble/stats/acf/rho");
  REQUIRE(rho.size() == 11u);
  for (int k = 1; k <= 10; ++k) CHECK(rho[k] == Approx(std::pow(1 - a, k)).margin(0.01));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::remove(cfg.output.c_str());
}

TEST_CASE("Diverged members are flagged, stopped and counted; the rest go on", "[Parallel]") {
  // Double well at a step far too large for the cubic drift: members that wander past |u| ~ 1.5 blow up.
  rom::AnalyticRom dw("double_well", 1.0);
  auto cfg = config(shared_path("div"));
  cfg.members = 40;
  cfg.dt = 0.25;  // 40 members, 200 steps: about half diverge (23 with this seed layout)
  cfg.burn_in = 0;
  cfg.steps = 200;
  cfg.save_every = 1;
  cfg.bound = 1e3;
  const auto r = rom::run_ensemble(dw, cfg, MPI_COMM_WORLD);
  const auto f = h5::File::open(cfg.output);
  const auto status = f.read("/ensemble/status");
  const auto state = f.read("/ensemble/state");
  double flagged = 0;
  int finite_ok = 0, nan_diverged = 0;
  for (int m = 0; m < 40; ++m) {
    flagged += status[m];
    const double last = state[static_cast<std::size_t>(m) * 200 + 199];
    finite_ok += status[m] == 0 && std::isfinite(last);
    nan_diverged += status[m] == 1 && std::isnan(last);
  }
  CAPTURE(flagged);
  CHECK(flagged > 0);
  CHECK(flagged < 40);
  CHECK(r.diverged == static_cast<std::int64_t>(flagged));
  CHECK(r.metrics.get("diverged.double_well") == flagged);
  CHECK(finite_ok + nan_diverged == 40);
  CHECK(std::isfinite(r.metrics.get("std.double_well")));
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::remove(cfg.output.c_str());
}
