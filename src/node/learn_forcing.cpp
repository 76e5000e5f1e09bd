#include "msrom/node/learn_forcing.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>

#include "msrom/analysis/statistics.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/progress.hpp"
#include "msrom/node/forcing_model.hpp"
#include "msrom/rom/langevin.hpp"
#include "msrom/score/score_model.hpp"

namespace msrom::node {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

LearnForcingConfig read_learn_forcing_options(const Options& o, bool read_paths) {
  LearnForcingConfig c;
  if (read_paths) {
    c.data = o.string("data", "", "data file (the one the score and drift were learned from)");
    c.model = o.string("model", "", "model.h5 from learn-score and learn-drift (updated in place)");
  }
  c.dataset = o.string("dataset", c.dataset, "dataset: [members, time, dims] or [samples, dims]");
  c.series = o.choice("forcing_series", c.series, {"residual", "state"},
                      "series the NODE learns: the residual forcing, or the slow variable (forecast baseline)");
  c.group = o.string("forcing_group", "", "group in model.h5 (default /forcing, or /baseline_node for -forcing_series "
                                          "state)");
  if (c.group.empty()) c.group = c.series == "state" ? "/baseline_node" : "/forcing";
  if (c.group.front() != '/' || c.group.size() < 2 || c.group.find("//") != std::string::npos || c.group.back() == '/')
    throw InputError("-forcing_group: '" + c.group + "' is not an absolute HDF5 group path like /forcing");
  c.bank = static_cast<int>(o.integer("forcing_bank", c.bank, "data delay vectors stored as initial NODE states", 1,
                                      1000000));
  c.seed = static_cast<std::uint64_t>(o.integer("seed", 1, "random seed (member i: seed + i)", 0));
  c.train_fraction = o.real("score_train_fraction", c.train_fraction, "leading fraction of each series that trains",
                            0.0, 1.0, true);
  c.m = static_cast<int>(o.integer("forcing_m", c.m, "delay embedding dimension m", 1, 1000));
  c.tau = o.real("forcing_tau", c.tau, "delay tau (time); 0: 0.25 x the first lag where the residual ACF < 0.2", 0.0);
  c.acf_threshold = o.real("forcing_acf_threshold", c.acf_threshold, "ACF level that defines tau_opt", 0.0, 1.0, true);
  c.tau_factor = o.positive("forcing_tau_factor", c.tau_factor, "tau = factor x tau_opt");
  c.max_lag = o.positive("forcing_max_lag", c.max_lag, "largest lag (time) of the residual's ACF");
  const auto hidden = o.reals("forcing_hidden", {256, 256}, "hidden widths of the NODE network");
  c.hidden.clear();
  for (double h : hidden) {
    if (!(h >= 1 && h <= 1e6) || h != std::floor(h))
      throw InputError("-forcing_hidden: widths must be positive integers");
    c.hidden.push_back(static_cast<int>(h));
  }
  c.activation = o.choice("forcing_activation", c.activation, {"swish", "tanh", "leaky_relu"},
                          "hidden-layer activation");
  c.members = static_cast<int>(o.integer("forcing_members", c.members, "NODEs in the ensemble (different seeds)", 1, 4096));
  c.train.steps = static_cast<int>(o.integer("forcing_window", 60, "RK4 steps per training window", 1, 100000));
  c.train.batch = static_cast<int>(o.integer("forcing_batch", 100, "windows per Adam step", 1, 1000000));
  c.train.block = static_cast<int>(o.integer("forcing_block", 25, "windows per gradient-reduction block (the result "
                                                                  "depends on it, not on the rank count)", 1, 1000000));
  c.train.iterations = static_cast<int>(o.integer("forcing_iterations", 1000, "Adam steps per NODE", 0, 100000000));
  c.train.lr = o.positive("forcing_lr", 1e-2, "Adam learning rate");
  c.lr_schedule = o.choice("forcing_lr_schedule", c.lr_schedule, {"cosine", "constant"},
                           "learning-rate schedule over the run");
  c.train.schedule = c.lr_schedule == "cosine" ? nn::Schedule::cosine(0) : nn::Schedule::constant();
  c.train.decay = o.positive("forcing_weight_decay", 1.0, "loss weights w_k = exp(-k / (decay K)) over a window of K");
  c.check_trajectories = static_cast<int>(
      o.integer("forcing_check_trajectories", c.check_trajectories, "free NODE runs of the ACF check", 1, 100000));
  c.check_time = o.positive("forcing_check_time", c.check_time, "length (time) of each free run");
  c.gain_block = o.real("forcing_gain_block", c.gain_block, "block (time) of the long-run variances of the amplitude "
                                                            "fit; 0: 4 x the residual ACF's first zero", 0.0);
  if (c.gain_block > 0 && 2 * c.gain_block > c.check_time)
    throw InputError("-forcing_gain_block: " + std::to_string(c.gain_block) + " is more than half a free run of "
                     "-forcing_check_time " + std::to_string(c.check_time));
  c.refit = o.flag("forcing_refit", false, "redo the ACF check and the amplitude fit of the NODEs already in the "
                                           "group (no training)");
  c.resume = o.flag("forcing_continue", false, "train the NODEs already in the group further with these training "
                                               "options (a curriculum: e.g. longer windows, a lower -forcing_lr, "
                                               "another -seed), then check and fit");
  if (c.refit && c.resume) throw InputError("-forcing_continue: not with -forcing_refit (which does not train)");
  c.progress = read_progress_mode(o);
  return c;
}

namespace {

struct Residual {
  MatrixXd r;                                    // d x N, z-scored, series after series
  std::vector<std::pair<Index, Index>> segments;  // [begin, end) per member
  VectorXd mean, std;
  double dt = 1;
};

// r_n = (u_{n+1} - u_n) / dt - Phi s(u_n) over every pair inside one series (every rank: the whole set).
Residual residuals(const rom::LangevinModel& lm, const score::TrainingData& td) {
  const int d = lm.dim();
  const MatrixXd u = (td.train.colwise() - lm.score.mean).array().colwise() / lm.score.std.array();
  const Index n = u.cols();
  MatrixXd F(d, n);
  nn::Workspace ws;
  lm.drift(0.0, u, F, ws);
  Residual res;
  res.dt = td.sample_dt;
  std::vector<Index> begins;
  for (Index i = 0; i < n; ++i)
    if (i == 0 || td.series_start[static_cast<std::size_t>(i)]) begins.push_back(i);
  begins.push_back(n);
  Index count = 0;
  for (std::size_t s = 0; s + 1 < begins.size(); ++s) count += std::max<Index>(0, begins[s + 1] - begins[s] - 1);
  res.r.resize(d, count);
  Index at = 0;
  for (std::size_t s = 0; s + 1 < begins.size(); ++s) {
    const Index b = begins[s], e = begins[s + 1];
    const Index start = at;
    for (Index i = b; i + 1 < e; ++i, ++at) res.r.col(at) = (u.col(i + 1) - u.col(i)) / res.dt - F.col(i);
    if (at > start) res.segments.emplace_back(start, at);
  }
  if (count < 2) throw InputError("-data: too few training samples for residuals");
  res.mean = res.r.rowwise().mean();
  res.std = ((res.r.colwise() - res.mean).array().square().rowwise().sum() / static_cast<double>(count)).sqrt();
  for (int j = 0; j < d; ++j)
    if (!(res.std(j) > 0)) throw InputError("-data: the residual of variable " + std::to_string(j) + " is constant");
  res.r = (res.r.colwise() - res.mean).array().colwise() / res.std.array();
  return res;
}

// The slow variable itself, u = (x - mean) / std, series after series, z-scored again (the baseline NODE).
Residual states(const rom::LangevinModel& lm, const score::TrainingData& td) {
  const int d = lm.dim();
  Residual res;
  res.dt = td.sample_dt;
  res.r = (td.train.colwise() - lm.score.mean).array().colwise() / lm.score.std.array();
  const Index n = res.r.cols();
  Index b = 0;
  for (Index i = 1; i <= n; ++i)
    if (i == n || td.series_start[static_cast<std::size_t>(i)]) {
      res.segments.emplace_back(b, i);
      b = i;
    }
  if (n < 2) throw InputError("-data: too few training samples");
  res.mean = res.r.rowwise().mean();
  res.std = ((res.r.colwise() - res.mean).array().square().rowwise().sum() / static_cast<double>(n)).sqrt();
  for (int j = 0; j < d; ++j)
    if (!(res.std(j) > 0)) throw InputError("-data: variable " + std::to_string(j) + " is constant");
  res.r = (res.r.colwise() - res.mean).array().colwise() / res.std.array();
  return res;
}

// ACF of the first row, averaged over the segments (each long enough).
std::vector<double> mean_acf(const MatrixXd& r, const std::vector<std::pair<Index, Index>>& segs, std::size_t lags) {
  std::vector<double> rho(lags + 1, 0.0);
  double used = 0;
  std::vector<double> x;
  for (const auto& [b, e] : segs) {
    const auto len = static_cast<std::size_t>(e - b);
    if (len <= lags + 1) continue;
    x.resize(len);
    for (std::size_t i = 0; i < len; ++i) x[i] = r(0, b + static_cast<Index>(i));
    const auto a = analysis::acf(x.data(), len, lags);
    for (std::size_t k = 0; k <= lags; ++k) rho[k] += a[k];
    used += 1;
  }
  if (used == 0) throw InputError("-forcing_max_lag: longer than every member's training series");
  for (auto& v : rho) v /= used;
  return rho;
}

double tau_opt_time(const std::vector<double>& rho, double threshold, double dt) {
  for (std::size_t k = 1; k < rho.size(); ++k)
    if (rho[k] < threshold) return static_cast<double>(k) * dt;
  return NAN;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b, std::size_t upto) {
  double e = 0;
  for (std::size_t k = 0; k <= upto && k < a.size() && k < b.size(); ++k) e = std::max(e, std::abs(a[k] - b[k]));
  return e;
}

}  // namespace

Metrics learn_forcing(const LearnForcingConfig& cfg, MPI_Comm comm) {
  // 1. The Langevin model and the training data (every rank reads all of it: pairs must not cross shards).
  h5::File::open(cfg.data, "-data");  // a missing data file is reported before anything about the model
  const auto lm = rom::LangevinModel::load(h5::File::open(cfg.model, "-model"));
  if (lm.clock_rows() > 0)
    throw InputError("-model: '" + cfg.model + "' is clock-driven; learn-forcing supports autonomous models only");
  const int d = lm.dim();
  const auto td = score::read_training_data(cfg.data, cfg.dataset, cfg.train_fraction, 2, MPI_COMM_SELF);
  if (td.train.rows() != d)
    throw InputError("-data: '" + cfg.data + "' has " + std::to_string(td.train.rows()) + " variables, the model " +
                     std::to_string(d));
  const Residual res = cfg.series == "state" ? states(lm, td) : residuals(lm, td);

  // 2. tau from the residual's ACF.
  Index longest = 0;
  for (const auto& [b, e] : res.segments) longest = std::max(longest, e - b);
  const auto lags = static_cast<std::size_t>(
      std::min<double>(static_cast<double>(longest - 2), std::max(2.0, std::round(cfg.max_lag / res.dt))));
  const auto rho = mean_acf(res.r, res.segments, lags);
  Index tau = 0;
  if (cfg.tau > 0) {
    tau = std::max<Index>(1, static_cast<Index>(std::llround(cfg.tau / res.dt)));
  } else {
    try {
      tau = embedding_lag(rho, cfg.acf_threshold, cfg.tau_factor);
    } catch (const InputError& e) {
      throw InputError(std::string("-forcing_max_lag: ") + e.what());
    }
  }
  const std::size_t zero = first_zero(rho);

  // 3. The NODE ensemble: trained here, or (-forcing_refit) the one in the group, with its embedding.
  int m_embed = cfg.m, members = cfg.members, window = cfg.train.steps;
  std::vector<nn::Mlp> nets;
  std::vector<std::vector<double>> losses;
  if (cfg.refit || cfg.resume) {
    const char* opt = cfg.refit ? "-forcing_refit" : "-forcing_continue";
    const auto file = h5::File::open(cfg.model, "-model");
    auto fm = ForcingModel::load(file, cfg.group);
    if (fm.series != cfg.series)
      throw InputError(std::string(opt) + ": " + cfg.group + " holds a NODE of the " + fm.series + ", not of the " +
                       cfg.series + " (-forcing_series)");
    if (std::abs(fm.dt - res.dt) > 1e-9 * res.dt)
      throw InputError(std::string(opt) + ": " + cfg.group + " was trained at dt " + std::to_string(fm.dt) + ", '" +
                       cfg.data + "' is sampled at " + std::to_string(res.dt));
    m_embed = fm.m;
    tau = fm.tau;
    members = fm.members();
    nets = std::move(fm.nets);
    const double w = file.read_double_attribute(cfg.group, "window");  // the starts of steps 4 and 5 depend on it
    if (!(w >= 1 && w <= 1e9)) throw InputError("-model: " + cfg.group + " has a bad window attribute");
    if (cfg.refit) window = static_cast<int>(w);
    if (file.exists(cfg.group + "/loss")) {
      const auto shape = file.shape(cfg.group + "/loss");
      const auto l = file.read(cfg.group + "/loss");
      if (shape.size() == 2 && shape[0] == static_cast<hsize_t>(members))
        for (int i = 0; i < members; ++i)
          losses.emplace_back(l.begin() + static_cast<std::ptrdiff_t>(i * shape[1]),
                              l.begin() + static_cast<std::ptrdiff_t>((i + 1) * shape[1]));
    }
  }
  const DelaySeries series{&res.r, m_embed, tau};
  const auto starts = window_starts(series, res.segments, window);
  if (starts.empty())
    throw InputError("-forcing_window: no member's training series holds a window of " +
                     std::to_string(window) + " steps after the embedding span (m - 1) tau = " +
                     std::to_string(series.first()) + " samples (-forcing_m, -forcing_tau)");

  if (!cfg.refit) {
    if (!cfg.resume) {  // new networks; with -forcing_continue the group's
      std::vector<int> widths{series.dim()};
      widths.insert(widths.end(), cfg.hidden.begin(), cfg.hidden.end());
      widths.push_back(series.dim());
      for (int i = 0; i < members; ++i)
        nets.emplace_back(widths, nn::activation_from_string(cfg.activation), cfg.seed + static_cast<std::uint64_t>(i));
    }
    TrainOptions to = cfg.train;
    to.seed = cfg.seed;
    std::unique_ptr<Progress> progress;
    if (cfg.progress != ProgressMode::never && rank(comm) == 0) {
      const int groups = std::min(size(comm), members);
      const int mine = (members + groups - 1) / groups;  // rank 0's group trains members 0, groups, ...
      progress = std::make_unique<Progress>("learn-forcing: NODE training", double(mine) * to.iterations,
                                            cfg.progress);
      auto done = std::make_shared<long>(0);
      to.on_step = [p = progress.get(), done](int, double) { p->update(static_cast<double>(++*done)); };
    }
    std::vector<std::vector<double>> more;
    train_ensemble(nets, series, starts, res.dt, to, comm, &more);
    if (progress) progress->finish();
    if (losses.size() != more.size()) losses.assign(more.size(), {});  // none stored (or a new ensemble)
    for (std::size_t i = 0; i < more.size(); ++i) losses[i].insert(losses[i].end(), more[i].begin(), more[i].end());
  }

  // 4. The ACF check and the amplitude fit: free runs from data delay vectors spread over the training windows.
  std::vector<Index> t0;
  for (int j = 0; j < cfg.check_trajectories; ++j)
    t0.push_back(starts[static_cast<std::size_t>((static_cast<double>(j) + 0.5) / cfg.check_trajectories *
                                                 static_cast<double>(starts.size()))]);
  const auto run_steps = std::max<Index>(static_cast<Index>(lags) + 2, std::llround(cfg.check_time / res.dt));
  Index block = 4 * std::max<Index>(1, static_cast<Index>(zero));
  if (cfg.gain_block > 0) block = std::max<Index>(1, std::llround(cfg.gain_block / res.dt));
  block = std::min(block, run_steps / 2);
  std::vector<double> pooled(lags + 1, 0.0);
  double worst = 0, var_sum = 0;
  long diverged = 0, good = 0;
  std::vector<double> member_error(static_cast<std::size_t>(members), 0.0);
  // Members are checked by rank groups too (round-robin over the ranks), then shared. Per member:
  // [ACF (lags + 1) | variance | diverged runs | batch-mean sums, sums of squares, blocks (3 per component)].
  const std::size_t width = lags + 3 + 3 * static_cast<std::size_t>(d);
  std::vector<double> acfs(static_cast<std::size_t>(members) * width, 0.0);
  for (int i = rank(comm); i < members; i += size(comm)) {
    double* out = &acfs[static_cast<std::size_t>(i) * width];
    double used = 0;
    for (int j = 0; j < d; ++j) {
      const MatrixXd x = free_run(nets[static_cast<std::size_t>(i)], series, t0, res.dt, run_steps, j);
      analysis::BatchMeans bm{static_cast<std::size_t>(block)};
      for (Index b = 0; b < x.cols(); ++b) {
        if (!x.col(b).allFinite()) {
          if (j == 0) out[lags + 2] += 1;
          continue;
        }
        bm.add(x.col(b).data(), static_cast<std::size_t>(x.rows()));
        if (j > 0) continue;
        const auto a = analysis::acf(x.col(b).data(), static_cast<std::size_t>(x.rows()), lags);
        for (std::size_t k = 0; k <= lags; ++k) out[k] += a[k];
        const double mu = x.col(b).mean();
        out[lags + 1] += (x.col(b).array() - mu).square().mean();
        used += 1;
      }
      double* g = out + lags + 3 + 3 * j;
      g[0] = bm.sum, g[1] = bm.sum_sq, g[2] = bm.blocks;
    }
    if (used > 0)
      for (std::size_t k = 0; k <= lags + 1; ++k) out[k] /= used;
  }
  MPI_Allreduce(MPI_IN_PLACE, acfs.data(), static_cast<int>(acfs.size()), MPI_DOUBLE, MPI_SUM, comm);
  // Each NODE's own mean (the hybrid ROM centres its r_hat on it) and the long-run variance about it, pooled.
  MatrixXd node_mean = MatrixXd::Zero(d, members);
  VectorXd node_ss = VectorXd::Zero(d), node_dof = VectorXd::Zero(d);
  for (int i = 0; i < members; ++i) {
    const double* a = &acfs[static_cast<std::size_t>(i) * width];
    for (int j = 0; j < d; ++j) {  // in member order: the same for any rank count
      const double* g = a + lags + 3 + 3 * j;
      if (g[2] < 1) continue;
      node_mean(j, i) = g[0] / g[2];
      node_ss(j) += std::max(0.0, g[1] - g[0] * g[0] / g[2]);
      node_dof(j) += g[2] - 1;
    }
    diverged += std::lround(a[lags + 2]);
    if (a[lags + 2] >= cfg.check_trajectories) {
      member_error[static_cast<std::size_t>(i)] = NAN;
      worst = NAN;
      continue;
    }
    std::vector<double> ai(a, a + lags + 1);
    member_error[static_cast<std::size_t>(i)] = max_abs_diff(ai, rho, zero);
    if (!std::isnan(worst)) worst = std::max(worst, member_error[static_cast<std::size_t>(i)]);
    for (std::size_t k = 0; k <= lags; ++k) pooled[k] += ai[k];
    var_sum += a[lags + 1];
    ++good;
  }
  double pooled_error = NAN;
  if (good > 0) {
    for (auto& v : pooled) v /= static_cast<double>(good);
    pooled_error = max_abs_diff(pooled, rho, zero);
  }
  // The amplitude: sigma_L^2 S_node = D, D = (sigma sigma^T)_jj the diffusion of the Langevin model whose white
  // noise the forcing replaces (so the hybrid keeps its invariant density), and the gain g on std_r it means.
  // The residual's own long-run variance gives D_res = std_r^2 S_res dt / 2, reported beside D.
  VectorXd lrv_res(d), lrv_node(d), gain = VectorXd::Ones(d), sigma_l = res.std * std::sqrt(res.dt / 2),
           white = VectorXd::Zero(d);
  // D of a forcing std_r r_hat whose r_hat has the long-run variance S (samples): std_r^2 S dt / 2.
  const auto diffusion_of = [&](int j, double S) { return res.std(j) * res.std(j) * S * res.dt / 2; };
  const VectorXd diffusion = (lm.sigma * lm.sigma.transpose()).diagonal();
  for (int j = 0; j < d; ++j) {
    analysis::BatchMeans bm{static_cast<std::size_t>(block)};
    for (const auto& [b, e] : res.segments)
      bm.add(res.r.data() + j + b * d, static_cast<std::size_t>(e - b), static_cast<std::size_t>(d));
    lrv_res(j) = bm.long_run_variance();
    lrv_node(j) = node_dof(j) >= 1 ? static_cast<double>(block) * node_ss(j) / node_dof(j) : NAN;
    if (cfg.series == "state") continue;
    const double sl = std::sqrt(diffusion(j) / lrv_node(j));
    if (std::isfinite(sl) && sl > 0) {
      sigma_l(j) = sl;
      gain(j) = sl * std::sqrt(2 / res.dt) / res.std(j);
      white(j) = std::max(0.0, diffusion(j) - diffusion_of(j, lrv_node(j)));
    } else if (rank(comm) == 0) {
      std::fprintf(stderr, "learn-forcing: warning: no amplitude fit for variable %d (long-run variance %g of the "
                           "NODE runs); sigma_L = std_r sqrt(dt / 2)\n", j, lrv_node(j));
    }
  }

  // 5. Into model.h5.
  const std::string& G = cfg.group;
  h5::OutputFile out(cfg.model, comm, h5::OutputFile::Update{"-model"});
  out.remove(G);
  for (int i = 0; i < members; ++i) nets[static_cast<std::size_t>(i)].save(out, G + "/node/" + std::to_string(i));
  const auto dd = static_cast<hsize_t>(d);
  out.write(G + "/normalization/mean", {dd}, res.mean.data());
  out.write(G + "/normalization/std", {dd}, res.std.data());
  if (cfg.series == "residual") {
    out.write(G + "/sigma_L", {dd}, sigma_l.data());
    out.write(G + "/gain", {dd}, gain.data());
    out.write(G + "/white_diffusion", {dd}, white.data());
    out.write(G + "/node_mean", {static_cast<hsize_t>(members), dd}, node_mean.data());
    out.write(G + "/long_run_variance/residual", {dd}, lrv_res.data());
    out.write(G + "/long_run_variance/node", {dd}, lrv_node.data());
    out.attribute(G + "/long_run_variance", "block", static_cast<double>(block) * res.dt);
  }
  out.write(G + "/residual_acf", rho);
  std::vector<double> loss_flat;
  for (const auto& l : losses) loss_flat.insert(loss_flat.end(), l.begin(), l.end());
  out.write(G + "/loss", {static_cast<hsize_t>(losses.size()), losses.empty() ? 0 : static_cast<hsize_t>(losses[0].size())},
            loss_flat.data());
  out.write(G + "/acf_node", pooled);
  out.attribute(G, "m", std::int64_t{m_embed});
  out.attribute(G, "tau", static_cast<double>(tau) * res.dt);
  out.attribute(G, "tau_samples", static_cast<std::int64_t>(tau));
  out.attribute(G, "dt", res.dt);
  out.attribute(G, "members", std::int64_t{members});
  out.attribute(G, "window", std::int64_t{window});
  out.attribute(G, "acf_error", pooled_error);
  out.attribute(G, "series", cfg.series);
  out.attribute(G, "phi", lm.source);
  {
    // Initial NODE states for ensembles: data delay vectors spread evenly over the training windows.
    const Index nb = std::min<Index>(cfg.bank, static_cast<Index>(starts.size()));
    MatrixXd bank(series.dim(), nb);
    for (Index j = 0; j < nb; ++j)
      series.gather(starts[static_cast<std::size_t>((static_cast<double>(j) + 0.5) / static_cast<double>(nb) *
                                                    static_cast<double>(starts.size()))],
                    bank.col(j).data());
    out.write(G + "/initial_states", {static_cast<hsize_t>(nb), static_cast<hsize_t>(series.dim())}, bank.data());
  }
  out.commit();

  Metrics m;
  m.set("tau.forcing", static_cast<double>(tau) * res.dt);
  m.set("tau_opt.residual", tau_opt_time(rho, cfg.acf_threshold, res.dt));
  m.set("acf_first_zero.residual", static_cast<double>(zero) * res.dt);
  m.set("std.residual", res.std(0));
  m.set("mean.residual", res.mean(0));
  m.set("sigma_L", sigma_l(0));
  if (cfg.series == "residual") {
    m.set("gain.forcing", gain(0));
    m.set("long_run_variance.residual", lrv_res(0));
    m.set("long_run_variance.node", lrv_node(0));
    m.set("mean.node", node_mean.row(0).mean());
    m.set("mean_max.node", node_mean.row(0).cwiseAbs().maxCoeff());
    m.set("gain_block.forcing", static_cast<double>(block) * res.dt);
    m.set("diffusion.langevin", diffusion(0));
    m.set("diffusion.node", diffusion_of(0, lrv_node(0)));
    m.set("white_diffusion.forcing", white(0));
    m.set("diffusion.residual", diffusion_of(0, lrv_res(0)));
  }
  m.set("acf_error.node", pooled_error);
  m.set("acf_error_max.node", worst);
  m.set("std.node", good > 0 ? std::sqrt(var_sum / static_cast<double>(good)) : NAN);
  m.set("diverged.node", static_cast<double>(diverged));
  double first = 0, last = 0;
  for (const auto& l : losses) {
    if (l.empty()) continue;
    const std::size_t tail = std::min<std::size_t>(10, l.size());
    first += l.front() / members;
    for (std::size_t k = l.size() - tail; k < l.size(); ++k) last += l[k] / static_cast<double>(tail) / members;
  }
  m.set("loss_initial.node", first);
  m.set("loss_final.node", last);
  m.set("windows.node", static_cast<double>(starts.size()));
  return m;
}

}  // namespace msrom::node
