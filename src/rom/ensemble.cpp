#include "msrom/rom/ensemble.hpp"

#include <petscts.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <limits>
#include <memory>
#include <vector>

#include <unistd.h>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"

namespace msrom::rom {

namespace {

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int s) { g_signal = s; }

// A member's Gaussian noise numbers q = n d + j, four per Philox block, the current block cached.
struct MemberNoise {
  Philox rng;
  std::uint64_t block = std::numeric_limits<std::uint64_t>::max();
  double v[4] = {0, 0, 0, 0};
  double operator()(std::uint64_t q) {
    if (q / 4 != block) {
      block = q / 4;
      rng.normal4(block, 0, v);
    }
    return v[q % 4];
  }
};

// Streaming statistics of the first variable (physical units). Integer-valued counts per rank (exact in
// any order, summed over ranks at the end) and, per member, the sampling state (ACF ring buffer,
// hysteresis well, last transition time) and the floating-point sums. Those are added over members in the
// fixed tree of MemberTree, so the statistics are the same bits for any rank count or split into parts.
struct Streaming {
  double lo = 0, hi = 1, threshold = 0.7, sample_dt = 1;
  long bins = 0, lags = 0;
  // Per rank: [hist (bins) | samples | acf counts (lags+1) | transitions, residence count, in well -1,
  //            in well +1, undecided]
  std::vector<double> counts;
  // Per member: [ring (lags+1) | ring count | well | last transition time |
  //              x, x^2, x^3, x^4 | acf products (lags+1) | residence-time sum]
  std::vector<double> member;
  long state_width() const { return lags + 4; }
  long sums_width() const { return lags + 6; }
  long width() const { return state_width() + sums_width(); }
  std::size_t off_n() const { return static_cast<std::size_t>(bins); }
  std::size_t off_acfn() const { return off_n() + 1; }
  std::size_t off_trans() const { return off_acfn() + static_cast<std::size_t>(lags + 1); }

  void init(long nb, long nl, std::int64_t nlocal) {
    bins = nb;
    lags = nl;
    counts.assign(off_trans() + 5, 0.0);
    member.assign(static_cast<std::size_t>(nlocal * width()), 0.0);
    for (std::int64_t m = 0; m < nlocal; ++m) member[m * width() + lags + 3] = std::nan("");  // no transition yet
  }
  const double* sums(std::int64_t m) const { return &member[m * width() + state_width()]; }

  void add(std::int64_t m, double x, double t) {
    double* ring = &member[m * width()];
    double* acc = ring + state_width();
    // Histogram and moments.
    // The bin as a double first: NaN or a huge value must not reach the cast to long (UB; tests/fuzz).
    const double bin = std::floor((x - lo) / (hi - lo) * static_cast<double>(bins));
    if (bin >= 0 && bin < static_cast<double>(bins)) counts[static_cast<long>(bin)] += 1;
    counts[off_n()] += 1;
    acc[0] += x, acc[1] += x * x, acc[2] += x * x * x, acc[3] += x * x * x * x;
    // ACF: the member's last lags+1 samples in a ring.
    double& count = ring[lags + 1];
    const long n = static_cast<long>(count), pos = n % (lags + 1);
    ring[pos] = x;
    const long avail = std::min(n, lags);
    double* acf = acc + 4;
    double* acfn = &counts[off_acfn()];
    for (long k = 0; k <= avail; ++k) {
      acf[k] += x * ring[(pos - k + lags + 1) % (lags + 1)];
      acfn[k] += 1;
    }
    count += 1;
    // Hysteresis wells, transitions, residence times, occupancy.
    double& well = ring[lags + 2];
    double& last = ring[lags + 3];
    const double w = x > threshold ? 1.0 : x < -threshold ? -1.0 : well;
    if (w != 0 && well != 0 && w != well) {
      counts[off_trans()] += 1;
      if (!std::isnan(last)) acc[lags + 5] += t - last, counts[off_trans() + 1] += 1;
      last = t;
    }
    well = w;
    counts[off_trans() + (well < 0 ? 2 : well > 0 ? 3 : 4)] += 1;
  }
};

// The MemberTree of every rank joined on rank 0 (ranks hold consecutive member blocks, so rank r + s's
// nodes continue rank r's), pairwise in log2(P) rounds, then given to every rank.
void pack(const std::vector<MemberNode>& nodes, std::vector<double>& buf) {
  buf.clear();
  for (const auto& n : nodes) {
    buf.push_back(static_cast<double>(n.level));
    buf.push_back(static_cast<double>(n.index));
    buf.insert(buf.end(), n.sums.begin(), n.sums.end());
  }
}
std::vector<MemberNode> unpack(const std::vector<double>& buf, std::size_t width) {
  std::vector<MemberNode> nodes;
  for (std::size_t i = 0; i + 2 + width <= buf.size(); i += 2 + width) {
    const auto* p = buf.data() + i;
    nodes.push_back({static_cast<int>(p[0]), static_cast<std::int64_t>(p[1]), std::vector<double>(p + 2, p + 2 + width)});
  }
  return nodes;
}
void join_over_ranks(MemberTree& tree, std::size_t width, MPI_Comm comm) {
  const int P = size(comm), r = rank(comm), tag = 7301;
  std::vector<double> buf;
  for (int step = 1; step < P; step *= 2) {
    if (r % (2 * step) == step) {
      pack(tree.nodes(), buf);
      MPI_Send(buf.data(), static_cast<int>(buf.size()), MPI_DOUBLE, r - step, tag, comm);
      break;
    }
    if (r % (2 * step) == 0 && r + step < P) {
      MPI_Status st;
      int n = 0;
      MPI_Probe(r + step, tag, comm, &st);
      MPI_Get_count(&st, MPI_DOUBLE, &n);
      buf.resize(static_cast<std::size_t>(n));
      MPI_Recv(buf.data(), n, MPI_DOUBLE, r + step, tag, comm, MPI_STATUS_IGNORE);
      for (auto& node : unpack(buf, width)) tree.push(std::move(node));
    }
  }
  if (r == 0) pack(tree.nodes(), buf);
  long long n = static_cast<long long>(buf.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, comm);
  buf.resize(static_cast<std::size_t>(n));
  MPI_Bcast(buf.data(), static_cast<int>(n), MPI_DOUBLE, 0, comm);
  tree.nodes() = unpack(buf, width);
}

class Engine {
 public:
  Engine(Rom& rom, const EnsembleConfig& cfg, MPI_Comm comm)
      : rom_(rom), cfg_(cfg), comm_(comm), d_(rom.dim()), obs_(rom.observed_dim()), mine_(block_range(cfg.member_count, size(comm), rank(comm))),
        nlocal_(mine_.count()), burn_(static_cast<std::int64_t>(std::llround(cfg.burn_in / cfg.dt))) {
    // This run's members are cfg.member_begin + [0, member_count): global indices key the random streams.
    row_ = mine_.begin;
    mine_.begin += cfg.member_begin;
    mine_.end += cfg.member_begin;
    u_.resize(d_, nlocal_);
    f_.resize(d_, nlocal_);
    status_.assign(static_cast<std::size_t>(nlocal_), 0.0);
    for (std::int64_t m = 0; m < nlocal_; ++m)
      noise_.push_back({Philox(cfg.seed, static_cast<std::uint64_t>(mine_.begin + m), Purpose::dynamics_noise)});
    rom.prepare(mine_.begin, nlocal_, cfg.dt);
    noisy_ = rom.white_noise();
    if (noisy_) noise_scale_ = std::sqrt(2 * cfg.dt) * rom.noise_factor();
    mean_ = rom.mean();
    std_ = rom.std();
    stats_.threshold = cfg.threshold;
    stats_.sample_dt = cfg.dt * static_cast<double>(cfg.stats_every);
    stats_.lo = cfg.hist_hi > cfg.hist_lo ? cfg.hist_lo : rom.mean()(0) - 8 * rom.std()(0);
    stats_.hi = cfg.hist_hi > cfg.hist_lo ? cfg.hist_hi : rom.mean()(0) + 8 * rom.std()(0);
    stats_.init(cfg.bins, static_cast<long>(std::llround(cfg.max_lag / stats_.sample_dt)), nlocal_);
    nsave_ = cfg.save_every > 0 ? cfg.steps / cfg.save_every : 0;
  }

  EnsembleResult run();

 private:
  Rom& rom_;
  const EnsembleConfig& cfg_;
  MPI_Comm comm_;
  int d_, obs_;  // state rows; the observed (saved, measured) leading rows
  bool noisy_ = true;
  Range mine_;                  // global member indices
  std::int64_t row_ = 0;        // mine_.begin's row in this run's output (members from cfg.member_begin)
  std::int64_t nlocal_, burn_, nsave_ = 0;
  Eigen::MatrixXd u_, f_, noise_scale_;
  Eigen::VectorXd mean_, std_;  // the ROM's normalisation, read once (the post-step runs per member per step)
  std::vector<double> status_, save_buf_;
  std::vector<MemberNoise> noise_;
  Streaming stats_;
  std::int64_t save_base_ = 0;  // first save index of the current block
  std::int64_t block_saves_ = 0;

  double time_of(std::int64_t n) const { return static_cast<double>(n - burn_) * cfg_.dt; }
  // The options a continued run must share with the one that wrote the checkpoint, by option name.
  std::vector<std::pair<std::string, double>> fingerprint() const {
    return {{"-seed", static_cast<double>(cfg_.seed)},         {"-ts_dt", cfg_.dt},
            {"-ts_max_time", static_cast<double>(cfg_.steps)}, {"-ensemble_burn_in", cfg_.burn_in},
            {"-ensemble_save_every", static_cast<double>(cfg_.save_every)},
            {"-ensemble_stats_every", static_cast<double>(cfg_.stats_every)}, {"-ensemble_max_lag", cfg_.max_lag},
            {"-ensemble_threshold", cfg_.threshold},                    {"-ensemble_bound", cfg_.bound},
            {"-members", static_cast<double>(cfg_.members)},
            {"-ensemble_member_begin", static_cast<double>(cfg_.member_begin)},
            {"-ensemble_member_count", static_cast<double>(cfg_.member_count)}};
  }
  void initial_conditions();
  void post_step(std::int64_t n, Eigen::Ref<Eigen::MatrixXd> u);
  void advance_loop(std::int64_t n0, std::int64_t n1);
  void write_checkpoint(std::int64_t done, h5::OutputFile& out);
  std::int64_t read_checkpoint();
  friend PetscErrorCode ts_rhs(TS, PetscReal, Vec, Vec, void*);
  friend PetscErrorCode ts_post_step(TS);
  // TS path state.
  TS ts_ = nullptr;
  Vec x_ = nullptr;
};

PetscErrorCode ts_rhs(TS, PetscReal t, Vec X, Vec F, void* ctx) {
  auto* e = static_cast<Engine*>(ctx);
  const PetscScalar* x = nullptr;
  PetscScalar* f = nullptr;
  PetscCall(VecGetArrayRead(X, &x));
  PetscCall(VecGetArray(F, &f));
  const Eigen::Map<const Eigen::MatrixXd> U(x, e->d_, e->nlocal_);
  Eigen::Map<Eigen::MatrixXd> Fm(f, e->d_, e->nlocal_);
  e->rom_.drift(t, U, Fm);
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(X, &x));
  return 0;
}

PetscErrorCode ts_post_step(TS ts) {
  void* ctx = nullptr;
  PetscInt steps = 0;
  Vec X;
  PetscCall(TSGetApplicationContext(ts, &ctx));
  PetscCall(TSGetStepNumber(ts, &steps));
  PetscCall(TSGetSolution(ts, &X));
  auto* e = static_cast<Engine*>(ctx);
  PetscScalar* x = nullptr;
  PetscCall(VecGetArray(X, &x));
  e->post_step(static_cast<std::int64_t>(steps) - 1, Eigen::Map<Eigen::MatrixXd>(x, e->d_, e->nlocal_));
  PetscCall(VecRestoreArray(X, &x));
  return 0;
}

void Engine::initial_conditions() {
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    const Philox rng(cfg_.seed, static_cast<std::uint64_t>(mine_.begin + m), Purpose::initial_condition);
    rom_.initial_state(mine_.begin + m, rng, u_.col(m).data());
  }
}

// After the deterministic part of step n (t_n -> t_n + dt): noise, divergence, statistics, saving.
void Engine::post_step(std::int64_t n, Eigen::Ref<Eigen::MatrixXd> u) {
  const std::uint64_t q0 = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(obs_);  // noise: observed rows
  const std::int64_t after = n + 1 - burn_;  // steps after burn-in, including this one
  const bool stat = after > 0 && after % cfg_.stats_every == 0;
  const bool save = after > 0 && cfg_.save_every > 0 && after % cfg_.save_every == 0 && after / cfg_.save_every <= nsave_;
  double xi[16];
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    if (status_[m] != 0) {
      u.col(m).setZero();  // stopped: a neutral state keeps the batched drift finite
    } else {
      if (noisy_) {
        auto& noise = noise_[m];
        for (int j = 0; j < obs_; ++j) xi[j] = noise(q0 + static_cast<std::uint64_t>(j));
        for (int j = 0; j < obs_; ++j) {
          double s = 0;
          for (int l = 0; l <= j; ++l) s += noise_scale_(j, l) * xi[l];
          u(j, m) += s;
        }
      }
      bool ok = true;
      for (int j = 0; j < d_; ++j) ok = ok && std::isfinite(u(j, m)) && std::abs(u(j, m)) <= cfg_.bound;
      if (!ok) {
        status_[m] = 1;
        u.col(m).setZero();
      } else if (stat) {
        stats_.add(m, mean_(0) + std_(0) * u(0, m), time_of(n + 1));
      }
    }
    if (save) {
      const std::int64_t s = after / cfg_.save_every - 1 - save_base_;
      double* out = &save_buf_[static_cast<std::size_t>((m * block_saves_ + s) * obs_)];
      for (int j = 0; j < obs_; ++j)
        out[j] = status_[m] != 0 ? std::nan("") : mean_(j) + std_(j) * u(j, m);
    }
  }
}

void Engine::advance_loop(std::int64_t n0, std::int64_t n1) {
  for (std::int64_t n = n0; n < n1; ++n) {
    rom_.drift(time_of(n), u_, f_);
    u_ += cfg_.dt * f_;
    post_step(n, u_);
  }
}

void Engine::write_checkpoint(std::int64_t done, h5::OutputFile& out) {
  out.flush();  // the rollouts .part is consistent up to `done` before the checkpoint says so
  h5::OutputFile ck(cfg_.checkpoint, comm_);
  ck.attribute("/", "steps_done", static_cast<std::int64_t>(done));
  for (const auto& [name, value] : fingerprint()) ck.attribute("/", name, value);
  ck.attribute("/", "nranks", static_cast<std::int64_t>(size(comm_)));
  const auto M = static_cast<hsize_t>(cfg_.member_count), W = static_cast<hsize_t>(d_ + 1 + stats_.width());
  std::vector<double> rows(static_cast<std::size_t>(nlocal_) * W);
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    double* r = &rows[m * W];
    for (int j = 0; j < d_; ++j) r[j] = u_(j, m);
    r[d_] = status_[m];
    std::copy_n(&stats_.member[m * stats_.width()], stats_.width(), r + d_ + 1);
  }
  auto dm = ck.create("/member", {M, W});
  ck.write_slab(dm, {static_cast<hsize_t>(row_), 0}, {static_cast<hsize_t>(nlocal_), W}, rows.data());
  const auto R = static_cast<hsize_t>(stats_.counts.size());
  auto dr = ck.create("/rank", {static_cast<hsize_t>(size(comm_)), R});
  ck.write_slab(dr, {static_cast<hsize_t>(rank(comm_)), 0}, {1, R}, stats_.counts.data());
  ck.commit();
}

std::int64_t Engine::read_checkpoint() {
  const auto f = h5::File::open(cfg_.checkpoint, "-restart", comm_);
  if (static_cast<int>(f.read_double_attribute("/", "nranks")) != size(comm_))
    throw InputError("-restart: the checkpoint '" + cfg_.checkpoint + "' was written by " +
                     std::to_string(static_cast<int>(f.read_double_attribute("/", "nranks"))) +
                     " ranks; restart with the same number");
  // The run must be the one that wrote the checkpoint (a stale file of another run would continue silently).
  for (const auto& [name, value] : fingerprint())
    if (!f.has_attribute("/", name) || f.read_double_attribute("/", name) != value)
      throw InputError("-restart: the checkpoint '" + cfg_.checkpoint + "' was written with a different " + name +
                       "; remove it or restart with the same options");
  const auto W = static_cast<hsize_t>(d_ + 1 + stats_.width()), R = static_cast<hsize_t>(stats_.counts.size());
  if (f.shape("/member") != h5::Shape{static_cast<hsize_t>(cfg_.member_count), W} ||
      f.shape("/rank") != h5::Shape{static_cast<hsize_t>(size(comm_)), R})
    throw InputError("-restart: '" + cfg_.checkpoint + "' does not match this run's options");
  const auto rows = f.read_slab("/member", {static_cast<hsize_t>(row_), 0}, {static_cast<hsize_t>(nlocal_), W});
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    const double* r = &rows[m * W];
    for (int j = 0; j < d_; ++j) u_(j, m) = r[j];
    status_[m] = r[d_];
    std::copy_n(r + d_ + 1, stats_.width(), &stats_.member[m * stats_.width()]);
  }
  stats_.counts = f.read_slab("/rank", {static_cast<hsize_t>(rank(comm_)), 0}, {1, R});
  return static_cast<std::int64_t>(f.read_double_attribute("/", "steps_done"));
}

EnsembleResult Engine::run() {
  const std::int64_t total = burn_ + cfg_.steps;
  // Blocks of steps: whole numbers of save intervals, about 1000 steps; signals are checked between them.
  const std::int64_t per = cfg_.save_every > 0 ? cfg_.save_every : 1;
  const std::int64_t block = per * std::max<std::int64_t>(1, (1000 + per - 1) / per);

  std::int64_t done = 0;
  std::unique_ptr<h5::OutputFile> out;
  // Resume only with both the checkpoint and the interrupted output. A run killed between its final rename and
  // the removal of its checkpoint leaves a stale checkpoint beside a complete output: -restart then starts
  // over (same result) instead of failing on the missing .part (tools/fault_inject.py).
  const bool has_checkpoint = cfg_.restart && access(cfg_.checkpoint.c_str(), R_OK) == 0;
  const bool resume = has_checkpoint && access((cfg_.output + ".part").c_str(), R_OK) == 0;
  if (resume) {
    out = std::make_unique<h5::OutputFile>(cfg_.output, comm_, h5::OutputFile::Reopen{});
    done = read_checkpoint();
    // A run killed after its last checkpoint may have written the closing datasets already (killed between
    // them and the rename): they are written again at the end (tools/fault_inject.py found the restart
    // failing on "create dataset /ensemble/status").
    out->remove("/ensemble/status");
    out->remove("/ensemble/stats");
  } else {
    if (cfg_.restart && rank(comm_) == 0)
      std::fprintf(stderr, "ensemble: %s '%s'%s; starting from the beginning\n",
                   has_checkpoint ? "checkpoint" : "no checkpoint", cfg_.checkpoint.c_str(),
                   has_checkpoint ? " but no interrupted output" : "");
    out = std::make_unique<h5::OutputFile>(cfg_.output, comm_);
    out->write_root_attributes(cfg_.seed);
    out->attribute("/", "model", rom_.name());
    out->attribute("/", "model_file", cfg_.model);
    out->attribute("/", "members_total", static_cast<std::int64_t>(cfg_.members));
    out->attribute("/", "member_begin", static_cast<std::int64_t>(cfg_.member_begin));
    out->attribute("/", "member_count", static_cast<std::int64_t>(cfg_.member_count));
    // What parts of one ensemble share (msrom merge checks them).
    for (const auto& [name, value] : std::vector<std::pair<const char*, double>>{
             {"dt", cfg_.dt}, {"steps", static_cast<double>(cfg_.steps)}, {"burn_in", cfg_.burn_in},
             {"save_every", static_cast<double>(cfg_.save_every)}, {"stats_every", static_cast<double>(cfg_.stats_every)},
             {"max_lag", cfg_.max_lag}, {"threshold", cfg_.threshold}, {"bound", cfg_.bound}})
      out->attribute("/", name, value);
    std::vector<double> t(static_cast<std::size_t>(nsave_));
    for (std::int64_t i = 0; i < nsave_; ++i) t[i] = static_cast<double>((i + 1) * cfg_.save_every) * cfg_.dt;
    out->write("/time", t);
    out->create("/ensemble/state", {static_cast<hsize_t>(cfg_.member_count), static_cast<hsize_t>(nsave_), static_cast<hsize_t>(obs_)});
    initial_conditions();
  }
  auto state = out->open("/ensemble/state");

  if (cfg_.integrator == "ts") {
    MSROM_PETSC(VecCreateMPI(comm_, static_cast<PetscInt>(nlocal_ * d_), PETSC_DETERMINE, &x_));
    MSROM_PETSC(TSCreate(comm_, &ts_));
    MSROM_PETSC(TSSetProblemType(ts_, TS_NONLINEAR));
    MSROM_PETSC(TSSetType(ts_, TSEULER));
    MSROM_PETSC(TSSetRHSFunction(ts_, nullptr, ts_rhs, this));
    MSROM_PETSC(TSSetApplicationContext(ts_, this));
    MSROM_PETSC(TSSetPostStep(ts_, ts_post_step));
    MSROM_PETSC(TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_MATCHSTEP));
    MSROM_PETSC(TSSetFromOptions(ts_));
    MSROM_PETSC(TSSetTimeStep(ts_, cfg_.dt));
    MSROM_PETSC(TSSetMaxTime(ts_, std::numeric_limits<double>::max()));
  }

  Progress progress("ensemble", static_cast<double>(total), cfg_.progress, static_cast<double>(done));
  MPI_Barrier(comm_);
  const double t0 = MPI_Wtime();
  const std::int64_t start = done;
  EnsembleResult result;
  while (done < total) {
    // The block: up to the end of burn-in first, then whole save intervals.
    const std::int64_t end = done < burn_ ? burn_ : std::min(total, done + block);
    const std::int64_t first_save = done < burn_ ? 0 : (done - burn_) / per, last_save = done < burn_ ? 0 : (end - burn_) / per;
    save_base_ = first_save;
    block_saves_ = cfg_.save_every > 0 ? std::min(last_save, nsave_) - std::min(first_save, nsave_) : 0;
    save_buf_.assign(static_cast<std::size_t>(nlocal_ * std::max<std::int64_t>(block_saves_, 0) * obs_), 0.0);
    if (ts_) {
      PetscScalar* px = nullptr;
      MSROM_PETSC(VecGetArray(x_, &px));
      std::copy_n(u_.data(), nlocal_ * d_, px);
      MSROM_PETSC(VecRestoreArray(x_, &px));
      MSROM_PETSC(TSSetStepNumber(ts_, static_cast<PetscInt>(done)));
      MSROM_PETSC(TSSetTime(ts_, time_of(done)));
      MSROM_PETSC(TSSetMaxSteps(ts_, static_cast<PetscInt>(end)));
      MSROM_PETSC(TSSolve(ts_, x_));
      MSROM_PETSC(VecGetArray(x_, &px));
      std::copy_n(px, nlocal_ * d_, u_.data());
      MSROM_PETSC(VecRestoreArray(x_, &px));
    } else {
      advance_loop(done, end);
    }
    // block_saves_ is the same on every rank (it depends on the step count only): all write or none.
    if (block_saves_ > 0)
      out->write_slab(state, {static_cast<hsize_t>(row_), static_cast<hsize_t>(std::min(first_save, nsave_)), 0},
                      {static_cast<hsize_t>(nlocal_), static_cast<hsize_t>(block_saves_), static_cast<hsize_t>(obs_)},
                      save_buf_.data());
    const std::int64_t before = done;
    done = end;
    progress.update(static_cast<double>(done));

    int sig = static_cast<int>(g_signal), any = 0;
    MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, comm_);
    // A periodic checkpoint when the block crossed a multiple of -ensemble_checkpoint_every.
    const bool periodic = cfg_.checkpoint_every > 0 && done < total &&
                          before / cfg_.checkpoint_every != done / cfg_.checkpoint_every;
    if (any || periodic) write_checkpoint(done, *out);
    if (any) {
      out->keep();
      result.interrupted = true;
      if (rank(comm_) == 0)
        std::fprintf(stderr, "ensemble: signal %d: checkpoint '%s' at step %lld; continue with -restart\n", any,
                     cfg_.checkpoint.c_str(), static_cast<long long>(done));
      if (ts_) TSDestroy(&ts_), VecDestroy(&x_);
      return result;
    }
  }
  double seconds = MPI_Wtime() - t0;
  MPI_Allreduce(MPI_IN_PLACE, &seconds, 1, MPI_DOUBLE, MPI_MAX, comm_);
  progress.finish();
  if (ts_) TSDestroy(&ts_), VecDestroy(&x_);

  // Status, and the statistics: counts summed over ranks (exact), member sums in the member tree.
  auto ds = out->create("/ensemble/status", {static_cast<hsize_t>(cfg_.member_count)});
  out->write_slab(ds, {static_cast<hsize_t>(row_)}, {static_cast<hsize_t>(nlocal_)}, status_.data());
  double diverged = 0;
  for (double s : status_) diverged += s;
  MPI_Allreduce(MPI_IN_PLACE, &diverged, 1, MPI_DOUBLE, MPI_SUM, comm_);
  StreamingSums sums;
  sums.counts = stats_.counts;
  MPI_Allreduce(MPI_IN_PLACE, sums.counts.data(), static_cast<int>(sums.counts.size()), MPI_DOUBLE, MPI_SUM, comm_);
  MemberTree tree(cfg_.members);
  const auto width = static_cast<std::size_t>(stats_.sums_width());
  for (std::int64_t m = 0; m < nlocal_; ++m)
    tree.push({0, mine_.begin + m, std::vector<double>(stats_.sums(m), stats_.sums(m) + width)});
  join_over_ranks(tree, width, comm_);
  sums.nodes = std::move(tree.nodes());
  sums.lo = stats_.lo, sums.hi = stats_.hi, sums.sample_dt = stats_.sample_dt, sums.threshold = stats_.threshold;
  sums.members = cfg_.members, sums.bins = stats_.bins, sums.lags = stats_.lags;
  result.metrics = write_streaming_stats(*out, sums, rom_.name(), diverged);
  out->commit();
  if (rank(comm_) == 0 && !cfg_.checkpoint.empty()) std::remove(cfg_.checkpoint.c_str());  // finished: stale now

  result.seconds = seconds;
  result.diverged = static_cast<std::int64_t>(diverged);
  result.member_steps_per_second =
      static_cast<double>(cfg_.member_count) * static_cast<double>(total - start) / std::max(seconds, 1e-12);
  return result;
}

}  // namespace

void Rom::initial_state(std::int64_t, const Philox& rng, double* u) const {
  rng.normals(0, u, static_cast<std::size_t>(dim()));
}

MemberTree::MemberTree(std::int64_t members) : members_(members) {
  while ((std::int64_t{1} << root_level_) < members_) ++root_level_;
}

void MemberTree::push(MemberNode node) {
  nodes_.push_back(std::move(node));
  for (;;) {
    MemberNode& t = nodes_.back();
    // A left child whose right sibling holds no member: its parent has the same value.
    if (t.level < root_level_ && t.index % 2 == 0 && ((t.index + 1) << t.level) >= members_) {
      ++t.level, t.index /= 2;
      continue;
    }
    if (nodes_.size() < 2) break;
    MemberNode& a = nodes_[nodes_.size() - 2];
    if (a.level != t.level || a.index % 2 != 0 || a.index + 1 != t.index) break;
    for (std::size_t k = 0; k < a.sums.size(); ++k) a.sums[k] += t.sums[k];  // parent = left + right
    ++a.level, a.index /= 2;
    nodes_.pop_back();
  }
}

std::vector<double> MemberTree::total() const {
  if (nodes_.empty()) return {};
  std::vector<double> s = nodes_.front().sums;
  for (std::size_t i = 1; i < nodes_.size(); ++i)
    for (std::size_t k = 0; k < s.size(); ++k) s[k] += nodes_[i].sums[k];
  return s;
}

Metrics write_streaming_stats(h5::OutputFile& out, const StreamingSums& s, const std::string& name, double diverged) {
  const auto bins = static_cast<std::size_t>(s.bins), lags = static_cast<std::size_t>(s.lags);
  const std::size_t off_acfn = bins + 1, off_trans = off_acfn + lags + 1;
  MemberTree tree(s.members);
  tree.nodes() = s.nodes;
  const std::vector<double> acc = tree.total();
  const double* tr = &s.counts[off_trans];
  const double n = s.counts[bins], mean = acc[0] / n, var = acc[1] / n - mean * mean;
  const double m3 = acc[2] / n - 3 * mean * acc[1] / n + 2 * mean * mean * mean;
  const double m4 = acc[3] / n - 4 * mean * acc[2] / n + 6 * mean * mean * acc[1] / n - 3 * mean * mean * mean * mean;
  std::vector<double> grid(bins), hist(bins);
  const double db = (s.hi - s.lo) / static_cast<double>(bins);
  for (std::size_t b = 0; b < bins; ++b)
    grid[b] = s.lo + (static_cast<double>(b) + 0.5) * db, hist[b] = s.counts[b] / (n * db);
  std::vector<double> lag(lags + 1), rho(lags + 1);
  for (std::size_t k = 0; k <= lags; ++k) {
    lag[k] = static_cast<double>(k) * s.sample_dt;
    rho[k] = (acc[4 + k] / s.counts[off_acfn + k] - mean * mean) / var;
  }
  double tau = 0.5 * s.sample_dt;
  for (std::size_t k = 1; k <= lags && rho[k] > 0; ++k) tau += rho[k] * s.sample_dt;
  Metrics mt;
  mt.set("mean." + name, mean);
  mt.set("std." + name, std::sqrt(var));
  mt.set("skewness." + name, m3 / std::pow(var, 1.5));
  mt.set("kurtosis." + name, m4 / (var * var));
  mt.set("tau_int." + name, tau);
  mt.set("transitions." + name, tr[0]);
  mt.set("residence_time." + name, tr[1] > 0 ? acc[lags + 5] / tr[1] : std::nan(""));
  mt.set("occupancy_neg." + name, tr[2] / n);
  mt.set("occupancy_pos." + name, tr[3] / n);
  mt.set("diverged." + name, diverged);
  out.write("/ensemble/stats/grid", grid);
  out.write("/ensemble/stats/histogram", hist);
  out.write("/ensemble/stats/acf/lag", lag);
  out.write("/ensemble/stats/acf/rho", rho);
  out.attribute("/ensemble/stats/acf/rho", "tau_int", tau);
  out.attribute("/ensemble/stats/grid", "threshold", s.threshold);
  out.attribute("/ensemble/stats/grid", "samples", n);
  // The raw sums, for msrom merge.
  const std::string p = "/ensemble/stats/partial/";
  const std::size_t w = lags + 6, nn = s.nodes.size();
  std::vector<double> nodes(2 * nn), sums(nn * w);
  for (std::size_t i = 0; i < nn; ++i) {
    nodes[2 * i] = s.nodes[i].level, nodes[2 * i + 1] = static_cast<double>(s.nodes[i].index);
    std::copy(s.nodes[i].sums.begin(), s.nodes[i].sums.end(), sums.begin() + static_cast<long>(i * w));
  }
  out.write(p + "counts", s.counts);
  out.write(p + "nodes", {nn, 2}, nodes.data());
  out.write(p + "sums", {nn, w}, sums.data());
  out.attribute(p + "counts", "lo", s.lo);
  out.attribute(p + "counts", "hi", s.hi);
  out.attribute(p + "counts", "sample_dt", s.sample_dt);
  out.attribute(p + "counts", "threshold", s.threshold);
  out.attribute(p + "counts", "members", static_cast<std::int64_t>(s.members));
  out.attribute(p + "counts", "bins", static_cast<std::int64_t>(s.bins));
  out.attribute(p + "counts", "lags", static_cast<std::int64_t>(s.lags));
  return mt;
}

StreamingSums read_streaming_sums(const h5::File& f) {
  const std::string p = "/ensemble/stats/partial/";
  if (!f.exists(p + "counts") || !f.exists(p + "nodes") || !f.exists(p + "sums"))
    throw InputError("'" + f.path() + "': no /ensemble/stats/partial (not a rollouts file of msrom ensemble)");
  StreamingSums s;
  s.lo = f.read_double_attribute(p + "counts", "lo");
  s.hi = f.read_double_attribute(p + "counts", "hi");
  s.sample_dt = f.read_double_attribute(p + "counts", "sample_dt");
  s.threshold = f.read_double_attribute(p + "counts", "threshold");
  s.members = static_cast<std::int64_t>(f.read_double_attribute(p + "counts", "members"));
  s.bins = static_cast<long>(f.read_double_attribute(p + "counts", "bins"));
  s.lags = static_cast<long>(f.read_double_attribute(p + "counts", "lags"));
  s.counts = f.read(p + "counts");
  const auto w = static_cast<std::size_t>(s.lags + 6);
  const auto shape = f.shape(p + "sums");
  if (s.counts.size() != static_cast<std::size_t>(s.bins + s.lags + 7) || shape.size() != 2 || shape[1] != w ||
      f.shape(p + "nodes") != h5::Shape{shape[0], 2})
    throw InputError("'" + f.path() + "': /ensemble/stats/partial has inconsistent shapes");
  const auto nodes = f.read(p + "nodes"), sums = f.read(p + "sums");
  for (std::size_t i = 0; i < shape[0]; ++i)
    s.nodes.push_back({static_cast<int>(nodes[2 * i]), static_cast<std::int64_t>(nodes[2 * i + 1]),
                       std::vector<double>(sums.begin() + static_cast<long>(i * w), sums.begin() + static_cast<long>((i + 1) * w))});
  return s;
}

void install_signal_handlers() {
  std::signal(SIGTERM, on_signal);
  std::signal(SIGUSR1, on_signal);
}

EnsembleConfig read_ensemble_options(const Options& o, bool read_paths, const std::string& common) {
  EnsembleConfig c;
  if (read_paths) {
    c.model = o.string("model", "", "model file (learn-score + learn-drift), or ou / double_well (analytic)");
    c.output = o.string("output", c.output, "output rollouts file");
    check_output_path("-output", c.output);
  }
  c.members = o.integer(common + "members", c.members, "ensemble members", 1);
  c.seed = static_cast<std::uint64_t>(o.integer("seed", 1, "random seed (initial conditions, noise)", 0));
  c.dt = o.positive(common + "ts_dt", c.dt, "Euler-Maruyama time step");
  const double max_time = o.positive(common + "ts_max_time", 1000.0, "integration time after burn-in");
  const long max_steps = o.integer(common + "ts_max_steps", 0, "steps after burn-in (overrides -ts_max_time)", 0);
  c.steps = max_steps > 0 ? max_steps : static_cast<std::int64_t>(std::llround(max_time / c.dt));
  c.burn_in = o.real("ensemble_burn_in", c.burn_in, "time integrated before saving and statistics", 0.0);
  c.save_every = o.integer("ensemble_save_every", c.save_every, "save the state every k steps (0: no trajectories)", 0);
  c.stats_every = o.integer("ensemble_stats_every", c.stats_every, "streaming statistics every k steps", 1);
  c.checkpoint_every = o.integer("ensemble_checkpoint_every", c.checkpoint_every, "checkpoint every N steps (0: on signals only)", 0);
  c.max_lag = o.real("ensemble_max_lag", c.max_lag, "largest ACF lag of the streaming statistics (time)", 0.0);
  c.threshold = o.positive("ensemble_threshold", c.threshold, "well threshold |x| > threshold (physical units)");
  c.bound = o.positive("ensemble_bound", c.bound, "a member with |u| beyond this (normalised) is diverged");
  c.bins = o.integer("ensemble_bins", c.bins, "histogram bins of the streaming PDF", 2);
  c.hist_lo = o.real("ensemble_hist_lo", 0, "histogram range low (default mean - 8 std)");
  c.hist_hi = o.real("ensemble_hist_hi", 0, "histogram range high (default mean + 8 std)");
  c.integrator = o.choice("ensemble_integrator", c.integrator, {"ts", "loop"}, "PETSc TS (Euler + noise post-step) or a plain loop");
  c.restart = o.flag("restart", false, "continue from the checkpoint if there is one");
  c.checkpoint = o.string("ensemble_checkpoint", "", "checkpoint file (default OUTPUT.ckpt)");
  c.member_begin = o.integer("ensemble_member_begin", 0, "first member of this run: a part of the -members ensemble "
                             "(job arrays; msrom merge joins the parts)", 0);
  c.member_count = o.integer("ensemble_member_count", 0, "members of this run from -ensemble_member_begin (0: the rest)", 0);
  const long parts = o.integer("ensemble_parts", 1, "split the members into this many equal parts and run one "
                               "(-ensemble_part; job arrays, joined by msrom merge)", 1);
  const long part = o.integer("ensemble_part", 0, "the part of -ensemble_parts this run integrates (0-based)", 0);
  c.progress = read_progress_mode(o);
  if (part >= parts)
    throw InputError("-ensemble_part: must be < -ensemble_parts = " + std::to_string(parts) + " (got " +
                     std::to_string(part) + ")");
  if (parts > 1) {
    if (Options::given("ensemble_member_begin") || Options::given("ensemble_member_count"))
      throw InputError("-ensemble_parts: give either -ensemble_part/-ensemble_parts or -ensemble_member_begin/count");
    if (parts > c.members)
      throw InputError("-ensemble_parts: more parts (" + std::to_string(parts) + ") than -" + common + "members (" +
                       std::to_string(c.members) + ")");
    const Range r = block_range(c.members, static_cast<int>(parts), static_cast<int>(part));
    c.member_begin = r.begin, c.member_count = r.count();
  }
  if (c.member_begin >= c.members)
    throw InputError("-ensemble_member_begin: must be < -" + common + "members = " + std::to_string(c.members) +
                     " (got " + std::to_string(c.member_begin) + ")");
  if (c.member_count == 0) c.member_count = c.members - c.member_begin;
  if (c.member_begin + c.member_count > c.members)
    throw InputError("-ensemble_member_count: members " + std::to_string(c.member_begin) + ".." +
                     std::to_string(c.member_begin + c.member_count - 1) + " run past -" + common + "members = " +
                     std::to_string(c.members));
  if (c.checkpoint.empty()) c.checkpoint = c.output + ".ckpt";
  if (c.save_every > 0 && c.steps / c.save_every < 1)
    throw InputError("-ts_max_time: shorter than one save interval (-ensemble_save_every * -ts_dt)");
  return c;
}

EnsembleResult run_ensemble(Rom& rom, const EnsembleConfig& cfg, MPI_Comm comm) {
  if (rom.white_noise() && rom.observed_dim() > 16)
    throw InputError("-model: more than 16 dimensions driven by white noise");
  // A config built in code (not read from options) runs all its members unless it names a sub-range.
  EnsembleConfig c = cfg;
  if (c.member_count == 0) c.member_count = c.members - c.member_begin;
  if (c.member_begin < 0 || c.member_count < 1 || c.member_begin + c.member_count > c.members)
    throw InputError("-ensemble_member_begin: members " + std::to_string(c.member_begin) + ".." +
                     std::to_string(c.member_begin + c.member_count - 1) + " are not a part of the " +
                     std::to_string(c.members) + " members");
  Engine e(rom, c, comm);
  return e.run();
}

}  // namespace msrom::rom
