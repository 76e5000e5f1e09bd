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

// Streaming statistics of the first variable (physical units). Per-rank sums (reduced at the end) and
// per-member state (ACF ring buffer, hysteresis well, last transition time).
struct Streaming {
  double lo = 0, hi = 1, threshold = 0.7, sample_dt = 1;
  long bins = 0, lags = 0;
  // Per rank: [hist (bins) | n, s1, s2, s3, s4 | acf sums (lags+1) | acf counts (lags+1) |
  //            transitions, residence sum, residence count, in well -1, in well +1, undecided]
  std::vector<double> sums;
  // Per member: [ring (lags+1) | ring count | well | last transition time]
  std::vector<double> member;
  long width() const { return lags + 4; }
  std::size_t off_moments() const { return static_cast<std::size_t>(bins); }
  std::size_t off_acf() const { return off_moments() + 5; }
  std::size_t off_acfn() const { return off_acf() + static_cast<std::size_t>(lags + 1); }
  std::size_t off_trans() const { return off_acfn() + static_cast<std::size_t>(lags + 1); }

  void init(long nb, long nl, std::int64_t nlocal) {
    bins = nb;
    lags = nl;
    sums.assign(off_trans() + 6, 0.0);
    member.assign(static_cast<std::size_t>(nlocal * width()), 0.0);
    for (std::int64_t m = 0; m < nlocal; ++m) member[m * width() + lags + 3] = std::nan("");  // no transition yet
  }

  void add(std::int64_t m, double x, double t) {
    // Histogram and moments.
    const long b = static_cast<long>(std::floor((x - lo) / (hi - lo) * static_cast<double>(bins)));
    if (b >= 0 && b < bins) sums[b] += 1;
    double* mo = &sums[off_moments()];
    mo[0] += 1, mo[1] += x, mo[2] += x * x, mo[3] += x * x * x, mo[4] += x * x * x * x;
    // ACF: the member's last lags+1 samples in a ring.
    double* ring = &member[m * width()];
    double& count = ring[lags + 1];
    const long n = static_cast<long>(count), pos = n % (lags + 1);
    ring[pos] = x;
    const long avail = std::min(n, lags);
    double* acf = &sums[off_acf()];
    double* acfn = &sums[off_acfn()];
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
      sums[off_trans()] += 1;
      if (!std::isnan(last)) sums[off_trans() + 1] += t - last, sums[off_trans() + 2] += 1;
      last = t;
    }
    well = w;
    sums[off_trans() + (well < 0 ? 3 : well > 0 ? 4 : 5)] += 1;
  }
};

class Engine {
 public:
  Engine(Rom& rom, const EnsembleConfig& cfg, MPI_Comm comm)
      : rom_(rom), cfg_(cfg), comm_(comm), d_(rom.dim()), mine_(block_range(cfg.members, size(comm), rank(comm))),
        nlocal_(mine_.count()), burn_(static_cast<std::int64_t>(std::llround(cfg.burn_in / cfg.dt))) {
    u_.resize(d_, nlocal_);
    f_.resize(d_, nlocal_);
    status_.assign(static_cast<std::size_t>(nlocal_), 0.0);
    for (std::int64_t m = 0; m < nlocal_; ++m)
      noise_.push_back({Philox(cfg.seed, static_cast<std::uint64_t>(mine_.begin + m), Purpose::dynamics_noise)});
    noise_scale_ = std::sqrt(2 * cfg.dt) * rom.noise_factor();
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
  int d_;
  Range mine_;
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
            {"-ensemble_threshold", cfg_.threshold},                    {"-ensemble_bound", cfg_.bound}};
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
    Philox rng(cfg_.seed, static_cast<std::uint64_t>(mine_.begin + m), Purpose::initial_condition);
    rng.normals(0, u_.col(m).data(), static_cast<std::size_t>(d_));
  }
}

// After the deterministic part of step n (t_n -> t_n + dt): noise, divergence, statistics, saving.
void Engine::post_step(std::int64_t n, Eigen::Ref<Eigen::MatrixXd> u) {
  const std::uint64_t q0 = static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(d_);
  const std::int64_t after = n + 1 - burn_;  // steps after burn-in, including this one
  const bool stat = after > 0 && after % cfg_.stats_every == 0;
  const bool save = after > 0 && cfg_.save_every > 0 && after % cfg_.save_every == 0 && after / cfg_.save_every <= nsave_;
  double xi[16];
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    if (status_[m] != 0) {
      u.col(m).setZero();  // stopped: a neutral state keeps the batched drift finite
    } else {
      auto& noise = noise_[m];
      for (int j = 0; j < d_; ++j) xi[j] = noise(q0 + static_cast<std::uint64_t>(j));
      bool ok = true;
      for (int j = 0; j < d_; ++j) {
        double s = 0;
        for (int l = 0; l <= j; ++l) s += noise_scale_(j, l) * xi[l];
        u(j, m) += s;
        ok = ok && std::isfinite(u(j, m)) && std::abs(u(j, m)) <= cfg_.bound;
      }
      if (!ok) {
        status_[m] = 1;
        u.col(m).setZero();
      } else if (stat) {
        stats_.add(m, mean_(0) + std_(0) * u(0, m), time_of(n + 1));
      }
    }
    if (save) {
      const std::int64_t s = after / cfg_.save_every - 1 - save_base_;
      double* out = &save_buf_[static_cast<std::size_t>((m * block_saves_ + s) * d_)];
      for (int j = 0; j < d_; ++j)
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
  const auto M = static_cast<hsize_t>(cfg_.members), W = static_cast<hsize_t>(d_ + 1 + stats_.width());
  std::vector<double> rows(static_cast<std::size_t>(nlocal_) * W);
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    double* r = &rows[m * W];
    for (int j = 0; j < d_; ++j) r[j] = u_(j, m);
    r[d_] = status_[m];
    std::copy_n(&stats_.member[m * stats_.width()], stats_.width(), r + d_ + 1);
  }
  auto dm = ck.create("/member", {M, W});
  ck.write_slab(dm, {static_cast<hsize_t>(mine_.begin), 0}, {static_cast<hsize_t>(nlocal_), W}, rows.data());
  const auto R = static_cast<hsize_t>(stats_.sums.size());
  auto dr = ck.create("/rank", {static_cast<hsize_t>(size(comm_)), R});
  ck.write_slab(dr, {static_cast<hsize_t>(rank(comm_)), 0}, {1, R}, stats_.sums.data());
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
  const auto W = static_cast<hsize_t>(d_ + 1 + stats_.width()), R = static_cast<hsize_t>(stats_.sums.size());
  if (f.shape("/member") != h5::Shape{static_cast<hsize_t>(cfg_.members), W} ||
      f.shape("/rank") != h5::Shape{static_cast<hsize_t>(size(comm_)), R})
    throw InputError("-restart: '" + cfg_.checkpoint + "' does not match this run's options");
  const auto rows = f.read_slab("/member", {static_cast<hsize_t>(mine_.begin), 0}, {static_cast<hsize_t>(nlocal_), W});
  for (std::int64_t m = 0; m < nlocal_; ++m) {
    const double* r = &rows[m * W];
    for (int j = 0; j < d_; ++j) u_(j, m) = r[j];
    status_[m] = r[d_];
    std::copy_n(r + d_ + 1, stats_.width(), &stats_.member[m * stats_.width()]);
  }
  stats_.sums = f.read_slab("/rank", {static_cast<hsize_t>(rank(comm_)), 0}, {1, R});
  return static_cast<std::int64_t>(f.read_double_attribute("/", "steps_done"));
}

EnsembleResult Engine::run() {
  const std::int64_t total = burn_ + cfg_.steps;
  // Blocks of steps: whole numbers of save intervals, about 1000 steps; signals are checked between them.
  const std::int64_t per = cfg_.save_every > 0 ? cfg_.save_every : 1;
  const std::int64_t block = per * std::max<std::int64_t>(1, (1000 + per - 1) / per);

  std::int64_t done = 0;
  std::unique_ptr<h5::OutputFile> out;
  const bool resume = cfg_.restart && access(cfg_.checkpoint.c_str(), R_OK) == 0;
  if (resume) {
    out = std::make_unique<h5::OutputFile>(cfg_.output, comm_, h5::OutputFile::Reopen{});
    done = read_checkpoint();
  } else {
    if (cfg_.restart && rank(comm_) == 0)
      std::fprintf(stderr, "ensemble: no checkpoint '%s'; starting from the beginning\n", cfg_.checkpoint.c_str());
    out = std::make_unique<h5::OutputFile>(cfg_.output, comm_);
    out->write_root_attributes(cfg_.seed);
    out->attribute("/", "model", rom_.name());
    out->attribute("/", "model_file", cfg_.model);
    std::vector<double> t(static_cast<std::size_t>(nsave_));
    for (std::int64_t i = 0; i < nsave_; ++i) t[i] = static_cast<double>((i + 1) * cfg_.save_every) * cfg_.dt;
    out->write("/time", t);
    out->create("/ensemble/state", {static_cast<hsize_t>(cfg_.members), static_cast<hsize_t>(nsave_), static_cast<hsize_t>(d_)});
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

  Progress progress("ensemble", static_cast<double>(total), cfg_.progress);
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
    save_buf_.assign(static_cast<std::size_t>(nlocal_ * std::max<std::int64_t>(block_saves_, 0) * d_), 0.0);
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
      out->write_slab(state, {static_cast<hsize_t>(mine_.begin), static_cast<hsize_t>(std::min(first_save, nsave_)), 0},
                      {static_cast<hsize_t>(nlocal_), static_cast<hsize_t>(block_saves_), static_cast<hsize_t>(d_)},
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

  // Status, and the statistics reduced over ranks.
  auto ds = out->create("/ensemble/status", {static_cast<hsize_t>(cfg_.members)});
  out->write_slab(ds, {static_cast<hsize_t>(mine_.begin)}, {static_cast<hsize_t>(nlocal_)}, status_.data());
  std::vector<double> sums = stats_.sums;
  MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()), MPI_DOUBLE, MPI_SUM, comm_);
  double diverged = 0;
  for (double s : status_) diverged += s;
  MPI_Allreduce(MPI_IN_PLACE, &diverged, 1, MPI_DOUBLE, MPI_SUM, comm_);

  const double* mo = &sums[stats_.off_moments()];
  const double n = mo[0], mean = mo[1] / n, var = mo[2] / n - mean * mean;
  const double m3 = mo[3] / n - 3 * mean * mo[2] / n + 2 * mean * mean * mean;
  const double m4 = mo[4] / n - 4 * mean * mo[3] / n + 6 * mean * mean * mo[2] / n - 3 * mean * mean * mean * mean;
  std::vector<double> grid(static_cast<std::size_t>(stats_.bins)), hist(grid.size());
  const double db = (stats_.hi - stats_.lo) / static_cast<double>(stats_.bins);
  for (long b = 0; b < stats_.bins; ++b) grid[b] = stats_.lo + (b + 0.5) * db, hist[b] = sums[b] / (n * db);
  std::vector<double> lag(static_cast<std::size_t>(stats_.lags + 1)), rho(lag.size());
  for (long k = 0; k <= stats_.lags; ++k) {
    lag[k] = static_cast<double>(k) * stats_.sample_dt;
    const double c = sums[stats_.off_acf() + k] / sums[stats_.off_acfn() + k] - mean * mean;
    rho[k] = c / var;
  }
  double tau = 0.5 * stats_.sample_dt;
  for (long k = 1; k <= stats_.lags && rho[k] > 0; ++k) tau += rho[k] * stats_.sample_dt;
  const double* tr = &sums[stats_.off_trans()];
  const std::string name = rom_.name();
  Metrics& mt = result.metrics;
  mt.set("mean." + name, mean);
  mt.set("std." + name, std::sqrt(var));
  mt.set("skewness." + name, m3 / std::pow(var, 1.5));
  mt.set("kurtosis." + name, m4 / (var * var));
  mt.set("tau_int." + name, tau);
  mt.set("transitions." + name, tr[0]);
  mt.set("residence_time." + name, tr[2] > 0 ? tr[1] / tr[2] : std::nan(""));
  mt.set("occupancy_neg." + name, tr[3] / n);
  mt.set("occupancy_pos." + name, tr[4] / n);
  mt.set("diverged." + name, diverged);
  out->write("/ensemble/stats/grid", grid);
  out->write("/ensemble/stats/histogram", hist);
  out->write("/ensemble/stats/acf/lag", lag);
  out->write("/ensemble/stats/acf/rho", rho);
  out->attribute("/ensemble/stats/acf/rho", "tau_int", tau);
  out->attribute("/ensemble/stats/grid", "threshold", cfg_.threshold);
  out->attribute("/ensemble/stats/grid", "samples", n);
  out->commit();
  if (rank(comm_) == 0 && !cfg_.checkpoint.empty()) std::remove(cfg_.checkpoint.c_str());  // finished: stale now

  result.seconds = seconds;
  result.diverged = static_cast<std::int64_t>(diverged);
  result.member_steps_per_second =
      static_cast<double>(cfg_.members) * static_cast<double>(total - start) / std::max(seconds, 1e-12);
  return result;
}

}  // namespace

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
  c.progress = read_progress_mode(o);
  if (c.checkpoint.empty()) c.checkpoint = c.output + ".ckpt";
  if (c.save_every > 0 && c.steps / c.save_every < 1)
    throw InputError("-ts_max_time: shorter than one save interval (-ensemble_save_every * -ts_dt)");
  return c;
}

EnsembleResult run_ensemble(Rom& rom, const EnsembleConfig& cfg, MPI_Comm comm) {
  if (rom.dim() > 16) throw InputError("-model: more than 16 dimensions");
  Engine e(rom, cfg, comm);
  return e.run();
}

}  // namespace msrom::rom
