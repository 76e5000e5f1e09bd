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
//   /ensemble/stats/partial/...  the raw sums behind those statistics (StreamingSums below), from which
//                        `msrom merge` recomputes them for a whole ensemble run in parts.
// Member sub-ranges (-ensemble_member_begin B -ensemble_member_count C, or part I of N equal blocks with
// -ensemble_part I -ensemble_parts N; -members M is the whole ensemble): a run integrates members
// B..B+C-1 only, with the streams of their global indices, and writes them as rows 0..C-1 (root attributes members_total, member_begin, member_count). `msrom merge` joins
// such parts into the file that one run of all M members writes: every dataset bit for bit.
// The statistics add each member's floating-point sums in a fixed binary tree over the global member
// index (MemberTree), so they do not depend on the rank count or on how the members were split.
// Checkpoints (-ensemble_checkpoint_every N steps, and on SIGTERM/SIGUSR1): the rollouts .part is flushed,
// then the checkpoint is written atomically; on a signal the run exits with kExitCheckpointed. -restart
// continues from the checkpoint (same rank count) and the final output equals an uninterrupted run.
#include <mpi.h>

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/progress.hpp"
#include "msrom/core/random.hpp"

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
  // Sigma, lower triangular; the white noise sqrt(2 dt) Sigma xi drives the observed rows (its leading
  // observed_dim() x observed_dim() block is used).
  virtual const Eigen::MatrixXd& noise_factor() const = 0;
  virtual const Eigen::VectorXd& mean() const = 0;          // physical x = mean + std u (observed rows)
  virtual const Eigen::VectorXd& std() const = 0;

  // ROMs with an auxiliary state (the hybrid's NODE delay vector) carry it in the rows after the first
  // observed_dim(); only the observed rows are saved and measured.
  virtual int observed_dim() const { return dim(); }
  // False: no white noise (Sigma is not used, no numbers drawn); the hybrid without a white closure is driven
  // by its own auxiliary state alone.
  virtual bool white_noise() const { return true; }
  // Called once before the run: the rank's members are [begin, begin + count) (global indices), the step dt.
  // InputError if the model cannot run at dt.
  virtual void prepare(std::int64_t /*begin*/, std::int64_t /*count*/, double /*dt*/) {}
  // Member `member`'s initial state (dim() entries); rng is its initial-condition stream. Default: N(0, I).
  virtual void initial_state(std::int64_t member, const Philox& rng, double* u) const;
};

struct EnsembleConfig {
  std::int64_t members = 100;
  std::uint64_t seed = 1;
  double dt = 1e-2, burn_in = 10;
  std::int64_t steps = 0;            // after burn-in
  std::int64_t save_every = 10;      // trajectory samples (0: none)
  std::int64_t stats_every = 10;     // streaming-statistics samples
  std::int64_t checkpoint_every = 0; // steps (0: only on signals)
  std::int64_t member_begin = 0;     // the members this run integrates: [member_begin, + member_count)
  std::int64_t member_count = 0;     // 0: all members from member_begin
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

// The canonical sum of per-member vectors: a binary tree over the global member indices 0..M-1 (node
// (level l, index k) covers members k 2^l .. (k+1) 2^l - 1; its value is left + right, or left alone when
// the right child holds no member). Pushing the nodes of consecutive member ranges in order combines
// siblings as soon as both are there, so the nodes left form the shortest cover of the members pushed, and
// every node's value is the same bits whichever ranks or parts computed its pieces.
struct MemberNode {
  int level = 0;
  std::int64_t index = 0;
  std::vector<double> sums;
};
class MemberTree {
 public:
  explicit MemberTree(std::int64_t members);
  // Pushes the next node (a member's vector is node (0, m)): nodes must come in member order, without gaps.
  void push(MemberNode node);
  const std::vector<MemberNode>& nodes() const { return nodes_; }
  std::vector<MemberNode>& nodes() { return nodes_; }
  // The root's sums when every member was pushed (one node); otherwise the nodes added left to right.
  std::vector<double> total() const;

 private:
  std::int64_t members_;
  int root_level_ = 0;
  std::vector<MemberNode> nodes_;
};

// The raw sums of the streaming statistics of a member range, as /ensemble/stats/partial stores them:
//   counts  integer-valued sums, exact in any order: histogram (bins) | samples | ACF pair counts (lags+1)
//           | transitions, residence count, samples in well -1, in well +1, undecided
//   nodes   [n, 2] (level, index) and sums [n, lags+6] of MemberTree: x, x^2, x^3, x^4 | ACF products
//           (lags+1) | residence-time sum
// with the attributes (lo, hi, sample_dt, threshold, members) that turn them into statistics.
struct StreamingSums {
  std::vector<double> counts;
  std::vector<MemberNode> nodes;
  double lo = 0, hi = 1, sample_dt = 1, threshold = 0.7;
  std::int64_t members = 0;
  long bins = 0, lags = 0;
};
// Writes /ensemble/stats/{grid, histogram, acf/lag, acf/rho} and /ensemble/stats/partial/... (collective)
// and returns the metrics <metric>.<name>; `diverged` is the number of diverged members.
Metrics write_streaming_stats(h5::OutputFile& out, const StreamingSums& s, const std::string& name, double diverged);
// Reads /ensemble/stats/partial of a rollouts file (InputError naming the file if it has none).
StreamingSums read_streaming_sums(const h5::File& f);

// SIGTERM and SIGUSR1 set a flag that the engine checks between blocks of steps.
void install_signal_handlers();

}  // namespace msrom::rom
