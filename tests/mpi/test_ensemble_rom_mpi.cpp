// The ensemble engine under MPI (1, 2, 4 ranks): rollouts bitwise identical to one rank (and TS equal to
// the plain loop), the Euler-Maruyama OU chain's exact stationary moments and ACF, diverged members
// flagged, stopped and counted.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "msrom/core/comm.hpp"
#include "msrom/core/hdf5.hpp"
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
  auto cfg = config(shared_path("ou"));
  cfg.members = 64;
  cfg.dt = dt;
  cfg.burn_in = 20;
  cfg.steps = 20000;
  cfg.save_every = 0;
  cfg.stats_every = 1;
  cfg.max_lag = 0.5;
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
