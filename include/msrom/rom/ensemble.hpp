#pragma once
// The ensemble engine: M members of a stochastic reduced-order model, distributed over MPI ranks in
// contiguous blocks, integrated by Euler-Maruyama in normalised coordinates,
//
//   u_{n+1} = u_n + dt f(t_n, u_n) + sqrt(2 dt) Sigma xi_n,     xi_n ~ N(0, I)
//
// with the drift f evaluated batched over a rank's members (one matrix product per MLP layer per step).
// The deterministic part is a PETSc TS Euler step on one distributed Vec (members x dims), or a plain loop
// (-ensemble_integrator ts|loop, same arithmetic); the noise, divergence checks, statistics and saving are
// one post-step shared by both.
//
// Member m's noise number q = n d + j (step n, component j) is lane q mod 4 of Philox block q / 4 of the
// stream (seed, m, dynamics_noise): bitwise the same for any rank count and across restarts.
//
// Outputs, rollouts.h5 (physical units x = mean + std u):
//   /time [nsave], /ensemble/state [M, nsave, d], /ensemble/status [M] (0 ok, 1 diverged and stopped)
//   /ensemble/stats/...  streaming statistics of the first variable, reduced over ranks: histogram on a
//                        fixed grid, moments, ACF to a maximum lag, transitions and residence times
//                        (hysteresis |x| > threshold), well occupancies. No trajectory storage is needed
//                        for them (-ensemble_save_every 0 stores none).
// Checkpoints (-ensemble_checkpoint_every N steps, and on SIGTERM/SIGUSR1): the rollouts .part is flushed,
// then the checkpoint is written atomically; on a signal the run exits with kExitCheckpointed. -restart
// continues from the checkpoint (same rank count) and the final output equals an uninterrupted run.
#include <mpi.h>

#include <Eigen/Dense>
#include <cstdint>
#include <string>

#include "msrom/core/files.hpp"
#include "msrom/core/progress.hpp"

namespace msrom {
class Options;
}

namespace msrom::rom {

inline constexpr int kExitCheckpointed = 3;  // stopped by a signal after writing a checkpoint

// What the engine integrates. Later ROMs (the hybrid NODE model) implement it too.
class Rom {
 public:
  virtual ~Rom() = default;
  virtual std::string name() const = 0;
  virtual int dim() const = 0;
  // F = f(t, U) for the columns of U (d x n, normalised coordinates).
  virtual void drift(double t, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) = 0;
  virtual const Eigen::MatrixXd& noise_factor() const = 0;  // Sigma, d x d lower triangular
  virtual const Eigen::VectorXd& mean() const = 0;          // physical x = mean + std u
  virtual const Eigen::VectorXd& std() const = 0;
};

struct EnsembleConfig {
  std::int64_t members = 100;
  std::uint64_t seed = 1;
  double dt = 1e-2, burn_in = 10;
  std::int64_t steps = 0;            // after burn-in
  std::int64_t save_every = 10;      // trajectory samples (0: none)
  std::int64_t stats_every = 10;     // streaming-statistics samples
  std::int64_t checkpoint_every = 0; // steps (0: only on signals)
  double max_lag = 100, threshold = 0.7, bound = 50;  // ACF lag (time), wells (physical), divergence (|u|)
  double hist_lo = 0, hist_hi = 0;   // histogram range (physical); default mean +- 8 std
  long bins = 2048;
  std::string integrator = "ts", output = "rollouts.h5", checkpoint, model;
  bool restart = false;
  ProgressMode progress = ProgressMode::automatic;
};
// `common` prefixes the names shared with other commands (-members, -ts_dt, -ts_max_time, -ts_max_steps):
// "" for `msrom ensemble`, "ensemble_" in a pipeline, whose simulate stage owns the plain names.
EnsembleConfig read_ensemble_options(const Options& opts, bool read_paths = true, const std::string& common = "");

struct EnsembleResult {
  Metrics metrics;                  // streaming statistics: <metric>.<rom name>
  bool interrupted = false;         // stopped by a signal after a checkpoint
  double seconds = 0, member_steps_per_second = 0;
  std::int64_t diverged = 0;
};

// Collective over comm.
EnsembleResult run_ensemble(Rom& rom, const EnsembleConfig& cfg, MPI_Comm comm);

// SIGTERM and SIGUSR1 set a flag that the engine checks between blocks of steps.
void install_signal_handlers();

}  // namespace msrom::rom
