#include "msrom/rom/learn_drift.hpp"

#include <cmath>
#include <cstdio>

#include "msrom/analysis/statistics.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/rom/roms.hpp"

namespace msrom::rom {

LearnDriftConfig read_learn_drift_options(const Options& o, bool read_paths) {
  LearnDriftConfig c;
  if (read_paths) {
    c.data = o.string("data", "", "data file the score was learned from");
    c.model = o.string("model", "", "model.h5 from learn-score (updated in place)");
  }
  c.dataset = o.string("dataset", c.dataset, "dataset: [members, time, dims] or [samples, dims]");
  c.seed = static_cast<std::uint64_t>(o.integer("seed", 1, "random seed", 0));
  c.train_fraction = o.real("score_train_fraction", c.train_fraction, "leading fraction of each series that trains",
                            0.0, 1.0, true);
  c.lag = o.positive("langevin_generator_lag", c.lag, "lag D (time) of the Markov generator of the cluster labels");
  c.use = o.choice("langevin_phi", c.use, {"generator", "acf"}, "the Phi the model uses");
  c.fit_members = o.integer("langevin_fit_members", c.fit_members, "members of the ensemble that measures tau", 1);
  c.fit_time = o.positive("langevin_fit_time", c.fit_time, "length of that ensemble (time)");
  c.fit_dt = o.positive("langevin_fit_dt", c.fit_dt, "its Euler-Maruyama step");
  c.max_lag = o.positive("langevin_fit_max_lag", c.max_lag, "largest ACF lag of the tau measurements (time)");
  c.fit_iterations = static_cast<int>(o.integer("langevin_fit_iterations", c.fit_iterations,
                                                "alpha iterations (0: 1, or 4 for a clock-driven model)", 0, 100));
  c.identity_v = o.choice("langevin_generator_v", "samples", {"samples", "identity"},
                          "V of Phi_generator = M V^-1: the sample average <s(c) c^T>, or -I (exact for the model's "
                          "own density)") == "identity";
  c.phase_current = o.flag("langevin_phase_current", c.phase_current,
                           "clock-driven models: add the phase current, so the learned p(x | phase) is exact");
  return c;
}

namespace {

// Integrated time of the first variable of the training data (rank 0 computes, all get it): the members'
// ACFs averaged, summed to the first zero (analysis/statistics.hpp).
double data_tau(const LearnDriftConfig& cfg, const score::TrainingData& td, MPI_Comm comm) {
  double tau = 0;
  if (rank(comm) == 0) {
    const auto f = h5::File::open(cfg.data, "-data");
    const auto shape = f.shape(cfg.dataset);
    const auto nt = static_cast<std::size_t>(td.nt_train);
    const std::size_t lags = std::min<std::size_t>(nt - 1, static_cast<std::size_t>(cfg.max_lag / td.sample_dt));
    std::vector<double> rho(lags + 1, 0.0);
    for (std::int64_t m = 0; m < td.members; ++m) {
      const auto d = shape.back();
      const auto v = shape.size() == 3 ? f.read_slab(cfg.dataset, {hsize_t(m), 0, 0}, {1, hsize_t(nt), d})
                                       : f.read_slab(cfg.dataset, {0, 0}, {hsize_t(nt), d});
      std::vector<double> x(nt);
      for (std::size_t i = 0; i < nt; ++i) x[i] = v[i * d];
      const auto r = analysis::acf(x.data(), nt, lags);
      for (std::size_t k = 0; k <= lags; ++k) rho[k] += r[k] / static_cast<double>(td.members);
    }
    tau = analysis::integrated_time(rho, td.sample_dt);
  }
  MPI_Bcast(&tau, 1, MPI_DOUBLE, 0, comm);
  return tau;
}

// Row-major [d, d] on disk.
std::vector<double> row_major(const Eigen::MatrixXd& m) {
  std::vector<double> v;
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) v.push_back(m(i, j));
  return v;
}

}  // namespace

Metrics learn_drift(const LearnDriftConfig& cfg, MPI_Comm comm) {
  // 1. The score model and the training data, normalised as the model was.
  LangevinModel lm;
  lm.score = score::ScoreModel::load(h5::File::open(cfg.model, "-model"));
  const int d = lm.dim();
  const auto td = score::read_training_data(cfg.data, cfg.dataset, cfg.train_fraction, 2, comm,
                                            lm.score.clock_frequency);
  if (td.train.rows() != lm.score.dim())
    throw InputError("-data: '" + cfg.data + "' has " + std::to_string(td.train.rows() - lm.clock_rows()) +
                     " variables, the model " + std::to_string(d));
  const Eigen::MatrixXd u = (td.train.colwise() - lm.score.mean).array().colwise() / lm.score.std.array();
  if (!u.allFinite())
    throw InputError("-data: '" + cfg.data + "': values beyond the range of the model's normalisation (" + cfg.model + ")");

  // 2. Phi from the generator of the noise-free cluster labels.
  const long lag = std::max(1L, static_cast<long>(std::llround(cfg.lag / td.sample_dt)));
  // On a clock-augmented state the clock is not evolved: the estimate is on the evolved block alone.
  lm.phi_generator = phi_from_generator(lm.score, u, td.series_start, lag, td.sample_dt, comm, d,
                                        cfg.identity_v);
  lm.generator_lag = static_cast<double>(lag) * td.sample_dt;
  lm.use("generator");
  if (cfg.phase_current) lm.build_phase_current();

  // 3. Phi scaled to the data's integrated time: the model's time scales as 1/alpha.
  const double tau_data = data_tau(cfg, td, comm);
  EnsembleConfig e;
  e.members = cfg.fit_members;
  e.seed = cfg.seed;
  e.dt = cfg.fit_dt;
  e.steps = static_cast<std::int64_t>(std::llround(cfg.fit_time / cfg.fit_dt));
  e.burn_in = 10;
  e.save_every = 0;
  e.stats_every = std::max<std::int64_t>(1, std::llround(0.1 / cfg.fit_dt));
  e.max_lag = cfg.max_lag;
  e.bins = 256;
  e.integrator = "loop";
  e.output = cfg.model + ".phi_fit.h5";
  e.checkpoint = "";
  e.progress = ProgressMode::never;
  // tau of the model at alpha * Phi_generator, by a short ensemble.
  auto model_tau = [&](double alpha) {
    LangevinModel trial = lm;
    trial.phi_generator = alpha * lm.phi_generator;
    trial.use("generator");
    LangevinRom rom(trial);
    const auto r = run_ensemble(rom, e, comm);
    if (rank(comm) == 0) std::remove(e.output.c_str());
    if (r.diverged > 0)
      throw RuntimeError("learn-drift: " + std::to_string(r.diverged) + " members of the tau ensemble diverged; "
                         "reduce -langevin_fit_dt");
    return r.metrics.get("tau_int.langevin");
  };
  const int iterations = cfg.fit_iterations > 0 ? cfg.fit_iterations : (lm.clock_rows() > 0 ? 4 : 1);
  const double tau_model = model_tau(1.0);
  double alpha = tau_model / tau_data;
  for (int it = 1; it < iterations; ++it) alpha *= model_tau(alpha) / tau_data;
  lm.phi_acf = alpha * lm.phi_generator;
  lm.use(cfg.use);

  // 4. Into model.h5 (a copy is updated, then renamed over the original).
  h5::OutputFile out(cfg.model, comm, h5::OutputFile::Update{"-model"});
  out.remove("/langevin");
  const auto dd = static_cast<hsize_t>(d);
  out.write("/langevin/Phi_generator", {dd, dd}, row_major(lm.phi_generator).data());
  out.attribute("/langevin/Phi_generator", "lag", lm.generator_lag);
  out.attribute("/langevin/Phi_generator", "V", std::string(cfg.identity_v ? "identity" : "samples"));
  out.write("/langevin/Phi_acf", {dd, dd}, row_major(lm.phi_acf).data());
  out.attribute("/langevin/Phi_acf", "alpha", alpha);
  out.attribute("/langevin/Phi_acf", "tau_data", tau_data);
  out.attribute("/langevin/Phi_acf", "tau_model", tau_model);
  out.attribute("/langevin/Phi_acf", "iterations", static_cast<std::int64_t>(iterations));
  out.write("/langevin/Phi", {dd, dd}, row_major(lm.phi).data());
  out.attribute("/langevin/Phi", "source", lm.source);
  out.write("/langevin/Sigma", {dd, dd}, row_major(lm.sigma).data());
  out.commit();

  Metrics m;
  m.set("phi_generator", lm.phi_generator(0, 0));
  m.set("phi_acf", lm.phi_acf(0, 0));
  m.set("phi_alpha", alpha);
  m.set("tau_int.data_train", tau_data);
  m.set("tau_int.langevin_generator", tau_model);
  return m;
}

}  // namespace msrom::rom
