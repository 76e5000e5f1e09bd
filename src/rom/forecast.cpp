#include "msrom/rom/forecast.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include <unistd.h>

#include "msrom/analysis/statistics.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"
#include "msrom/node/forcing_model.hpp"
#include "msrom/node/node.hpp"
#include "msrom/rom/hybrid.hpp"
#include "msrom/rom/langevin.hpp"

namespace msrom::rom {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

ForecastConfig read_forecast_options(const Options& o, bool read_paths) {
  ForecastConfig c;
  if (read_paths) {
    c.data = o.string("data", "", "data file (its validation part is forecast)");
    c.model = o.string("model", "", "model.h5 with /langevin, /forcing and /baseline_node (learn-forcing)");
    c.output = o.string("output", c.output, "output file (figures go to its directory's figures/)");
    check_output_path("-output", c.output);
  }
  c.dataset = o.string("dataset", c.dataset, "dataset: [members, time, dims] or [samples, dims]");
  c.train_fraction = o.real("score_train_fraction", c.train_fraction, "leading fraction of each series that trained "
                                                                      "the model (the rest is forecast)", 0.0, 1.0, true);
  c.seed = static_cast<std::uint64_t>(o.integer("seed", 1, "random seed (perturbations, noise)", 0));
  c.leads_lyapunov = o.reals("forecast_leads", c.leads_lyapunov, "lead times in Lyapunov times of the driver");
  c.leads_time = o.reals("forecast_leads_time", c.leads_time, "further lead times in time units");
  for (double v : c.leads_lyapunov)
    if (!(v > 0) || !std::isfinite(v)) throw InputError("-forecast_leads: lead times must be positive");
  for (double v : c.leads_time)
    if (!(v > 0) || !std::isfinite(v)) throw InputError("-forecast_leads_time: lead times must be positive");
  if (c.leads_lyapunov.empty() && c.leads_time.empty())
    throw InputError("-forecast_leads: no lead times (and no -forecast_leads_time)");
  c.lyapunov_time = o.real("forecast_lyapunov_time", c.lyapunov_time,
                           "Lyapunov time of the driver (0: lyapunov_time.* of metrics.json beside the model)", 0.0);
  c.tolerance = o.positive("forecast_tolerance", c.tolerance, "a hit crosses within this many Lyapunov times");
  c.threshold = o.positive("forecast_threshold", c.threshold, "transition: window means beyond +-threshold (u)");
  c.window = o.positive("forecast_window", c.window, "transition: past/future window (time)");
  c.separation = o.real("forecast_separation", c.separation, "transition: minimum separation (time)", 0.0);
  c.members = static_cast<int>(o.integer("forecast_members", c.members, "ensemble members per model and forecast", 1, 100000));
  c.transitions = static_cast<int>(o.integer("forecast_transitions", c.transitions,
                                             "transitions forecast, spread evenly (0: all)", 0, 10000000));
  c.perturbation = o.real("forecast_perturbation", c.perturbation, "std of the delay-vector perturbations", 0.0);
  c.examples = static_cast<int>(o.integer("forecast_examples", c.examples, "example transitions stored for figures", 0, 64));
  c.example_lead = o.positive("forecast_example_lead", c.example_lead, "lead of the examples (Lyapunov times)");
  c.check_time = o.positive("forecast_check_time", c.check_time, "free-run length of the residual check (time)");
  c.closure = read_forcing_closure(o);
  c.progress = read_progress_mode(o);
  return c;
}

namespace {

// The lyapunov_time.* entry of DIR/metrics.json, DIR = the model's directory; 0 if there is none.
double lyapunov_time_beside(const std::string& model) {
  const auto slash = model.rfind('/');
  const std::string path = (slash == std::string::npos ? std::string(".") : model.substr(0, slash)) + "/metrics.json";
  if (access(path.c_str(), R_OK) != 0) return 0;
  const auto m = Metrics::read(path);
  for (const auto& [k, v] : m.values())
    if (k.rfind("lyapunov_time.", 0) == 0 && v > 0) return v;
  return 0;
}

struct Series {
  std::vector<VectorXd> u;  // per member: the validation part, first variable (normalised)
  std::vector<MatrixXd> full;  // per member: d x n (normalised), for the drift
  std::vector<MatrixXd> r;  // per member: z-scored residual (d x n-1)
  std::vector<MatrixXd> w;  // per member: z-scored state for the baseline NODE (d x n)
};

struct Event {
  int member;
  Index index;  // crossing sample in the member's validation series
  int direction;
};

// Per-column scoring state of one model at one lead.
struct Scores {
  std::vector<double> sse;       // per column
  std::vector<Index> cross;      // first crossing sample (absolute), -1 none
  std::vector<double> sign_prev; // per column
};

double sgn(double x) { return x < 0 ? -1.0 : 1.0; }

}  // namespace

Metrics forecast(const ForecastConfig& cfg, MPI_Comm comm) {
  // 1. Model, forcing, baseline; the validation series.
  h5::File::open(cfg.data, "-data");
  const auto mf = h5::File::open(cfg.model, "-model");
  auto lm = LangevinModel::load(mf);
  if (lm.clock_rows() > 0) throw InputError("-model: '" + cfg.model + "' is clock-driven; forecast supports autonomous models");
  auto forcing = node::ForcingModel::load(mf, "/forcing");
  forcing.use_closure(cfg.closure);
  const auto baseline = node::ForcingModel::load(mf, "/baseline_node");
  if (!forcing.phi_source.empty()) lm.use(forcing.phi_source);
  const int d = lm.dim();
  double lyap = cfg.lyapunov_time > 0 ? cfg.lyapunov_time : lyapunov_time_beside(cfg.model);
  if (!(lyap > 0))
    throw InputError("-forecast_lyapunov_time: not given, and no lyapunov_time.* in the metrics.json beside '" +
                     cfg.model + "' (run msrom lyapunov -lyapunov_norm fast -output DIR/metrics.json)");

  const auto df = h5::File::open(cfg.data, "-data");
  const auto shape = df.shape(cfg.dataset);
  if (shape.size() != 3 && shape.size() != 2)
    throw InputError("-dataset: " + cfg.dataset + " in '" + cfg.data + "' must be [members, time, dims] or [samples, dims]");
  const hsize_t members = shape.size() == 3 ? shape[0] : 1, nt = shape.size() == 3 ? shape[1] : shape[0],
                dims = shape.back();
  if (static_cast<int>(dims) != d)
    throw InputError("-data: '" + cfg.data + "' has " + std::to_string(dims) + " variables, the model " + std::to_string(d));
  double dt = 1;
  if (df.exists("/time") && df.shape("/time")[0] >= 2) {
    const auto t = df.read_slab("/time", {0}, {2});
    dt = t[1] - t[0];
  }
  if (std::abs(dt - forcing.dt) > 1e-9 * forcing.dt || std::abs(dt - baseline.dt) > 1e-9 * baseline.dt)
    throw InputError("-data: '" + cfg.data + "' is sampled at dt = " + std::to_string(dt) +
                     ", the NODEs were trained at another spacing");
  const auto ntrain = static_cast<hsize_t>(std::floor(cfg.train_fraction * static_cast<double>(nt)));
  const hsize_t nv = nt - ntrain;
  if (nv < 16) throw InputError("-score_train_fraction: the validation part of '" + cfg.data + "' is too short");

  Series S;
  nn::Workspace ws;
  for (hsize_t mem = 0; mem < members; ++mem) {
    const auto v = shape.size() == 3 ? df.read_slab(cfg.dataset, {mem, ntrain, 0}, {1, nv, dims})
                                     : df.read_slab(cfg.dataset, {ntrain, 0}, {nv, dims});
    MatrixXd x = Eigen::Map<const MatrixXd>(v.data(), d, static_cast<Index>(nv));
    if (!x.allFinite()) throw InputError("-data: '" + cfg.data + "': non-finite values in " + cfg.dataset);
    MatrixXd u = (x.colwise() - lm.score.mean).array().colwise() / lm.score.std.array();
    MatrixXd F(d, u.cols());
    lm.drift(0.0, u, F, ws);
    MatrixXd r(d, u.cols() - 1);
    for (Index i = 0; i + 1 < u.cols(); ++i) r.col(i) = (u.col(i + 1) - u.col(i)) / dt - F.col(i);
    r = (r.colwise() - forcing.mean).array().colwise() / forcing.std.array();
    MatrixXd w = (u.colwise() - baseline.mean).array().colwise() / baseline.std.array();
    S.u.push_back(u.row(0).transpose());
    S.full.push_back(std::move(u));
    S.r.push_back(std::move(r));
    S.w.push_back(std::move(w));
  }

  // 2. Transitions and leads.
  struct Lead {
    double time;
    std::string label;
  };
  std::vector<Lead> leads;
  for (double v : cfg.leads_lyapunov) {
    char b[32];
    std::snprintf(b, sizeof b, "%gTL", v);
    leads.push_back({v * lyap, b});
  }
  for (double v : cfg.leads_time) {
    char b[32];
    std::snprintf(b, sizeof b, "%gt", v);
    leads.push_back({v, b});
  }
  std::stable_sort(leads.begin(), leads.end(), [](const Lead& a, const Lead& b) { return a.time < b.time; });
  const Index tol = std::max<Index>(1, std::llround(cfg.tolerance * lyap / dt));
  std::vector<Index> lead_steps;
  for (const auto& l : leads) lead_steps.push_back(std::max<Index>(1, std::llround(l.time / dt)));
  const Index longest = *std::max_element(lead_steps.begin(), lead_steps.end());
  const Index history = std::max(Index{forcing.m - 1} * forcing.tau, Index{baseline.m - 1} * baseline.tau);

  std::vector<Event> all;
  for (hsize_t mem = 0; mem < members; ++mem) {
    const auto tr = analysis::transitions_windowed(S.u[mem].data(), nv, dt, cfg.threshold, cfg.window, cfg.separation);
    for (std::size_t k = 0; k < tr.index.size(); ++k) {
      // The detector accepts a sign change in either direction once the window means agree; a jittering
      // crossing against the transition's direction is followed by one in it: that one is t_c.
      auto ic = static_cast<Index>(tr.index[k]);
      const double dir = tr.direction[k];
      while (ic < static_cast<Index>(nv) && !(sgn(S.u[mem](ic - 1)) == -dir && sgn(S.u[mem](ic)) == dir)) ++ic;
      // Room for the longest lead and its delay history before, the tolerance after (r needs i + 1).
      if (ic - longest - history >= 0 && ic + tol + 1 < static_cast<Index>(nv))
        all.push_back({static_cast<int>(mem), ic, tr.direction[k]});
    }
  }
  if (all.empty())
    throw InputError("-data: no transition in the validation part of '" + cfg.data +
                     "' leaves room for the longest lead (-forecast_leads, -forecast_leads_time)");
  std::vector<Event> events;
  if (cfg.transitions > 0 && static_cast<std::size_t>(cfg.transitions) < all.size()) {
    for (int j = 0; j < cfg.transitions; ++j)
      events.push_back(all[static_cast<std::size_t>((static_cast<double>(j) + 0.5) / cfg.transitions * static_cast<double>(all.size()))]);
  } else {
    events = all;
  }
  const auto T = static_cast<std::int64_t>(events.size());
  const int E = cfg.members, L = static_cast<int>(leads.size());
  const auto mine = block_range(T, size(comm), rank(comm));
  const Index C = mine.count() * E;  // local columns: transition-major, member-minor

  // Example transitions and the lead nearest -forecast_example_lead.
  const int X = static_cast<int>(std::min<std::int64_t>(cfg.examples, T));
  std::vector<std::int64_t> example_of(static_cast<std::size_t>(T), -1);
  for (int x = 0; x < X; ++x)
    example_of[static_cast<std::size_t>((static_cast<double>(x) + 0.5) / X * static_cast<double>(T))] = x;
  int example_lead = 0;
  for (int l = 1; l < L; ++l)
    if (std::abs(leads[l].time - cfg.example_lead * lyap) < std::abs(leads[example_lead].time - cfg.example_lead * lyap))
      example_lead = l;
  const Index ex_every = std::max<Index>(1, (lead_steps[example_lead] + tol) / 200),
              ex_len = (lead_steps[example_lead] + tol) / ex_every + 1;
  const char* names[3] = {"hybrid", "langevin", "node_x"};
  // Examples: [model][x][member][sample] and the truth [x][sample], zero-filled, summed over ranks.
  std::vector<double> ex(static_cast<std::size_t>(3 * X * E * ex_len), 0.0), ex_truth(static_cast<std::size_t>(X * ex_len), 0.0);

  // Per (model, lead, transition): hit fraction, ensemble-mean hit, rmse, timing error (NaN: nobody crossed).
  const auto at = [&](int model, int l, std::int64_t t) { return (static_cast<std::size_t>(model) * L + l) * T + t; };
  std::vector<double> hit(3 * L * T, 0.0), hit_mean(hit.size(), 0.0), rmse(hit.size(), 0.0), timing(hit.size(), 0.0);

  // 3. The forecasts, lead by lead, the three models side by side on the same columns.
  HybridRom hybrid(lm, forcing);
  const int nf = forcing.state_dim(), nb = baseline.state_dim();
  node::EnsembleStepper base_stepper;
  {
    std::vector<int> node(static_cast<std::size_t>(C));
    for (Index c = 0; c < C; ++c) node[c] = static_cast<int>((mine.begin * E + c) % baseline.members());
    base_stepper.assign(std::move(node), baseline.members());
  }
  const MatrixXd sigma = std::sqrt(2 * dt) * lm.sigma;
  const MatrixXd hybrid_noise = std::sqrt(2 * dt) * hybrid.noise_factor();
  double total_steps = 0;
  for (int l = 0; l < L; ++l) total_steps += static_cast<double>(lead_steps[l] + tol);
  Progress progress("forecast", total_steps, cfg.progress);
  double steps_done = 0;

  MatrixXd Uh(d + nf, C), Fh(d + nf, C), Ul(d, C), Fl(d, C), W(nb, C);
  for (int l = 0; l < L; ++l) {
    const Index lead = lead_steps[l], len = lead + tol;
    hybrid.prepare(mine.begin * E, C, dt);
    // Initial states: the truth at s, NODE states perturbed (the same numbers for both NODE models).
    for (std::int64_t t = 0; t < mine.count(); ++t) {
      const Event& ev = events[static_cast<std::size_t>(mine.begin + t)];
      const Index s = ev.index - lead;
      const node::DelaySeries rs{&S.r[ev.member], forcing.m, forcing.tau}, xs{&S.w[ev.member], baseline.m, baseline.tau};
      for (int e = 0; e < E; ++e) {
        const Index c = t * E + e;
        const std::uint64_t g = static_cast<std::uint64_t>((mine.begin + t) * E + e);
        Uh.col(c).head(d) = S.full[ev.member].col(s);
        Ul.col(c) = S.full[ev.member].col(s);
        rs.gather(s, Uh.col(c).data() + d);
        xs.gather(s, W.col(c).data());
        const Philox pert(cfg.seed, g, Purpose::perturbation);
        std::vector<double> z(static_cast<std::size_t>(std::max(nf, nb)));
        pert.normals(static_cast<std::uint64_t>(l), z.data(), z.size());
        if (e > 0 || E == 1) {  // member 0 starts from the unperturbed state (E > 1)
          for (int i = 0; i < nf; ++i) Uh(d + i, c) += cfg.perturbation * z[static_cast<std::size_t>(i)];
          for (int i = 0; i < nb; ++i) W(i, c) += cfg.perturbation * z[static_cast<std::size_t>(i)];
        }
      }
    }
    Scores sc[3];
    for (auto& s : sc) {
      s.sse.assign(static_cast<std::size_t>(C), 0.0);
      s.cross.assign(static_cast<std::size_t>(C), -1);
      s.sign_prev.assign(static_cast<std::size_t>(C), 0.0);
    }
    std::vector<double> mean_prev(static_cast<std::size_t>(3 * mine.count()), 0.0);
    std::vector<Index> mean_cross(static_cast<std::size_t>(3 * mine.count()), -1);
    std::vector<Philox> noise;
    noise.reserve(static_cast<std::size_t>(C));
    for (Index c = 0; c < C; ++c)
      noise.emplace_back(cfg.seed, static_cast<std::uint64_t>(mine.begin * E + c), Purpose::dynamics_noise);
    std::vector<double> xi(static_cast<std::size_t>(d));
    // The predicted first variable of model k at column c.
    const auto value = [&](int k, Index c) {
      return k == 0 ? Uh(0, c) : k == 1 ? Ul(0, c) : baseline.mean(0) + baseline.std(0) * W(0, c);
    };
    // Sign at the start; model states before any step.
    for (std::int64_t t = 0; t < mine.count(); ++t)
      for (int k = 0; k < 3; ++k) {
        double mean = 0;
        for (int e = 0; e < E; ++e) {
          const Index c = t * E + e;
          sc[k].sign_prev[c] = sgn(value(k, c));
          mean += value(k, c) / E;
        }
        mean_prev[static_cast<std::size_t>(3 * t + k)] = sgn(mean);
      }
    for (Index n = 0; n < len; ++n) {
      const double time = static_cast<double>(n) * dt;
      hybrid.drift(time, Uh, Fh);
      Uh += dt * Fh;
      lm.drift(time, Ul, Fl, ws);
      Ul += dt * Fl;
      for (Index c = 0; c < C; ++c) {
        noise[c].normals(static_cast<std::uint64_t>(n), xi.data(), xi.size());
        for (int j = 0; j < d; ++j)
          for (int i = 0; i <= j; ++i) Ul(j, c) += sigma(j, i) * xi[static_cast<std::size_t>(i)];
        // The hybrid's white closure (if any) on the same numbers: common random numbers for both models.
        if (hybrid.white_noise())
          for (int j = 0; j < d; ++j) Uh(j, c) += hybrid_noise(j, j) * xi[static_cast<std::size_t>(j)];
      }
      base_stepper.step(baseline.nets, W, dt);
      // Scores at sample s + n + 1.
      for (std::int64_t t = 0; t < mine.count(); ++t) {
        const Event& ev = events[static_cast<std::size_t>(mine.begin + t)];
        const Index abs_i = ev.index - lead + n + 1;
        const double truth = S.u[ev.member](abs_i), old_sign = -ev.direction, new_sign = ev.direction;
        const std::int64_t x = example_of[static_cast<std::size_t>(mine.begin + t)];
        const bool store = x >= 0 && l == example_lead && (n + 1) % ex_every == 0;
        if (store) ex_truth[static_cast<std::size_t>(x * ex_len + (n + 1) / ex_every)] = truth;
        if (x >= 0 && l == example_lead && n == 0) ex_truth[static_cast<std::size_t>(x * ex_len)] = S.u[ev.member](abs_i - 1);
        for (int k = 0; k < 3; ++k) {
          double mean = 0;
          for (int e = 0; e < E; ++e) {
            const Index c = t * E + e;
            const double v = value(k, c);
            const double err = std::isfinite(v) ? v - truth : 1e3;  // a diverged member counts as far off
            sc[k].sse[c] += err * err;
            const double sg = sgn(v);
            if (sc[k].cross[c] < 0 && sc[k].sign_prev[c] == old_sign && sg == new_sign) sc[k].cross[c] = abs_i;
            sc[k].sign_prev[c] = sg;
            mean += v / E;
            if (x >= 0 && l == example_lead) {
              const auto base = ((static_cast<std::size_t>(k) * X + x) * E + e) * ex_len;
              if (n == 0) ex[base] = S.u[ev.member](abs_i - 1);  // every model starts from the truth
              if (store) ex[base + static_cast<std::size_t>((n + 1) / ex_every)] = v;
            }
          }
          auto& mp = mean_prev[static_cast<std::size_t>(3 * t + k)];
          auto& mc = mean_cross[static_cast<std::size_t>(3 * t + k)];
          if (mc < 0 && mp == old_sign && sgn(mean) == new_sign) mc = abs_i;
          mp = sgn(mean);
        }
      }
      if ((n + 1) % 1000 == 0 || n + 1 == len) {
        progress.update(steps_done + static_cast<double>(n + 1));
      }
    }
    steps_done += static_cast<double>(len);
    // Per-transition results (rank-local entries of the global arrays).
    for (std::int64_t t = 0; t < mine.count(); ++t) {
      const Event& ev = events[static_cast<std::size_t>(mine.begin + t)];
      const std::int64_t tg = mine.begin + t;
      for (int k = 0; k < 3; ++k) {
        double hits = 0, sse = 0, terr = 0, crossed = 0;
        for (int e = 0; e < E; ++e) {
          const Index c = t * E + e;
          sse += sc[k].sse[c];
          if (sc[k].cross[c] >= 0) {
            const double off = static_cast<double>(std::abs(sc[k].cross[c] - ev.index));
            crossed += 1;
            terr += off * dt;
            if (off <= static_cast<double>(tol)) hits += 1;
          }
        }
        hit[at(k, l, tg)] = hits / E;
        rmse[at(k, l, tg)] = std::sqrt(sse / (static_cast<double>(E) * static_cast<double>(len)));
        timing[at(k, l, tg)] = crossed > 0 ? terr / crossed : std::nan("");
        const Index mc = mean_cross[static_cast<std::size_t>(3 * t + k)];
        hit_mean[at(k, l, tg)] = mc >= 0 && std::abs(mc - ev.index) <= tol ? 1.0 : 0.0;
      }
    }
  }
  progress.finish();
  // Every entry was set by exactly one rank (others hold 0): the sums are exact, so any rank count gives the
  // same arrays. NaN entries (timing) are carried as a separate mask.
  std::vector<double> nan_mask(timing.size(), 0.0);
  for (std::size_t i = 0; i < timing.size(); ++i)
    if (std::isnan(timing[i])) nan_mask[i] = 1, timing[i] = 0;
  for (auto* v : {&hit, &hit_mean, &rmse, &timing, &nan_mask, &ex, &ex_truth})
    MPI_Allreduce(MPI_IN_PLACE, v->data(), static_cast<int>(v->size()), MPI_DOUBLE, MPI_SUM, comm);
  for (std::size_t i = 0; i < timing.size(); ++i)
    if (nan_mask[i] > 0) timing[i] = std::nan("");

  // 4. The forcing check on the validation data: PDF and ACF of r_hat, and of NODE free runs.
  const Index lags = std::max<Index>(2, std::llround(std::min(2.0, 0.25 * cfg.check_time) / dt));
  const int bins = 81;
  const double lo = -5, hi = 5, db = (hi - lo) / bins;
  std::vector<double> grid(bins), pdf_data(bins, 0.0), pdf_node(bins, 0.0), acf_data(static_cast<std::size_t>(lags + 1), 0.0),
      acf_node(acf_data.size(), 0.0), lag(acf_data.size());
  for (int b = 0; b < bins; ++b) grid[b] = lo + (b + 0.5) * db;
  for (Index k = 0; k <= lags; ++k) lag[k] = static_cast<double>(k) * dt;
  {
    double n_all = 0, used = 0;
    for (const auto& r : S.r) {
      for (Index i = 0; i < r.cols(); ++i) {
        const auto b = static_cast<long>(std::floor((r(0, i) - lo) / db));
        if (b >= 0 && b < bins) pdf_data[b] += 1;
        n_all += 1;
      }
      if (r.cols() > lags + 1) {
        VectorXd row = r.row(0).transpose();
        const auto a = analysis::acf(row.data(), static_cast<std::size_t>(row.size()), static_cast<std::size_t>(lags));
        for (Index k = 0; k <= lags; ++k) acf_data[k] += a[k];
        used += 1;
      }
    }
    for (auto& v : pdf_data) v /= n_all * db;
    for (auto& v : acf_data) v /= std::max(used, 1.0);
    // Free runs of NODE k on rank k mod size, from 16 validation delay vectors spread over member 0's part.
    const node::DelaySeries rs{&S.r[0], forcing.m, forcing.tau};
    const Index first = rs.first(), last = S.r[0].cols() - 1;
    std::vector<Index> t0;
    for (int j = 0; j < 16; ++j) t0.push_back(first + static_cast<Index>((j + 0.5) / 16 * static_cast<double>(last - first)));
    const Index steps = std::max<Index>(lags + 2, std::llround(cfg.check_time / dt));
    // Per NODE (row k, filled by rank k mod size, zero elsewhere): [histogram | ACF sums | samples | runs].
    const auto width = static_cast<std::size_t>(bins + lags + 1 + 2);
    std::vector<double> per(width * static_cast<std::size_t>(forcing.members()), 0.0);
    for (int k = rank(comm); k < forcing.members(); k += size(comm)) {
      double* sums = &per[width * static_cast<std::size_t>(k)];
      const MatrixXd x = node::free_run(forcing.nets[static_cast<std::size_t>(k)], rs, t0, dt, steps);
      for (Index b = 0; b < x.cols(); ++b) {
        if (!x.col(b).allFinite()) continue;
        for (Index i = 0; i < x.rows(); ++i) {
          const auto bb = static_cast<long>(std::floor((x(i, b) - lo) / db));
          if (bb >= 0 && bb < bins) sums[bb] += 1;
        }
        sums[bins + lags + 1] += static_cast<double>(x.rows());
        const auto a = analysis::acf(x.col(b).data(), static_cast<std::size_t>(x.rows()), static_cast<std::size_t>(lags));
        for (Index q = 0; q <= lags; ++q) sums[bins + q] += a[q];
        sums[bins + lags + 2] += 1;
      }
    }
    MPI_Allreduce(MPI_IN_PLACE, per.data(), static_cast<int>(per.size()), MPI_DOUBLE, MPI_SUM, comm);  // exact
    std::vector<double> sums(width, 0.0);
    for (int k = 0; k < forcing.members(); ++k)  // in NODE order: the same for any rank count
      for (std::size_t i = 0; i < width; ++i) sums[i] += per[width * static_cast<std::size_t>(k) + i];
    const double samples = std::max(sums[static_cast<std::size_t>(bins + lags + 1)], 1.0), runs = std::max(sums.back(), 1.0);
    for (int b = 0; b < bins; ++b) pdf_node[b] = sums[b] / (samples * db);
    for (Index q = 0; q <= lags; ++q) acf_node[q] = sums[static_cast<std::size_t>(bins + q)] / runs;
  }

  // 5. Averages, metrics, the file.
  Metrics m;
  std::vector<double> lead_time(L);
  for (int l = 0; l < L; ++l) lead_time[l] = leads[l].time;
  std::vector<std::vector<double>> avg(3 * 4, std::vector<double>(L, 0.0));
  for (int k = 0; k < 3; ++k)
    for (int l = 0; l < L; ++l) {
      double h = 0, hm = 0, r = 0, te = 0, nte = 0;
      for (std::int64_t t = 0; t < T; ++t) {
        h += hit[at(k, l, t)];
        hm += hit_mean[at(k, l, t)];
        r += rmse[at(k, l, t)];
        if (!std::isnan(timing[at(k, l, t)])) te += timing[at(k, l, t)], nte += 1;
      }
      avg[4 * k][l] = h / T;
      avg[4 * k + 1][l] = hm / T;
      avg[4 * k + 2][l] = r / T;
      avg[4 * k + 3][l] = nte > 0 ? te / nte : std::nan("");
      const std::string tag = std::string(names[k]) + "." + leads[l].label;
      m.set("hit_rate." + tag, avg[4 * k][l]);
      m.set("hit_rate_mean." + tag, avg[4 * k + 1][l]);
      m.set("rmse." + tag, avg[4 * k + 2][l]);
      m.set("timing_error." + tag, avg[4 * k + 3][l]);
    }
  m.set("forecast_transitions", static_cast<double>(T));
  m.set("lyapunov_time.forecast", lyap);
  double acf_err = 0;
  const std::size_t zero = node::first_zero(acf_data);
  for (std::size_t k = 0; k <= zero && k < acf_data.size(); ++k) acf_err = std::max(acf_err, std::abs(acf_data[k] - acf_node[k]));
  m.set("acf_error.node_validation", acf_err);

  h5::OutputFile out(cfg.output, comm);
  out.write_root_attributes(cfg.seed);
  out.attribute("/", "model_file", cfg.model);
  out.attribute("/", "data_file", cfg.data);
  out.write("/leads", lead_time);
  out.attribute("/leads", "lyapunov_time", lyap);
  out.attribute("/leads", "tolerance", static_cast<double>(tol) * dt);
  std::vector<std::string> labels;
  for (const auto& l : leads) labels.push_back(l.label);
  out.attribute("/leads", "labels", labels);
  std::vector<double> tt(static_cast<std::size_t>(T)), tm(tt.size()), tdir(tt.size());
  for (std::int64_t t = 0; t < T; ++t) {
    tt[t] = static_cast<double>(events[t].index) * dt;
    tm[t] = events[t].member;
    tdir[t] = events[t].direction;
  }
  out.write("/transitions/time", tt);
  out.write("/transitions/member", tm);
  out.write("/transitions/direction", tdir);
  const char* fields[4] = {"hit_rate", "hit_rate_mean", "rmse", "timing_error"};
  for (int k = 0; k < 3; ++k) {
    for (int f = 0; f < 4; ++f) out.write(std::string("/skill/") + names[k] + "/" + fields[f], avg[4 * k + f]);
    out.write(std::string("/skill/") + names[k] + "/hit", {static_cast<hsize_t>(L), static_cast<hsize_t>(T)},
              &hit[at(k, 0, 0)]);
  }
  if (X > 0) {
    std::vector<double> ext(static_cast<std::size_t>(ex_len));
    for (Index i = 0; i < ex_len; ++i) ext[i] = static_cast<double>(i * ex_every) * dt - leads[example_lead].time;
    out.write("/examples/time", ext);
    out.attribute("/examples/time", "lead", leads[example_lead].time);
    out.write("/examples/truth", {static_cast<hsize_t>(X), static_cast<hsize_t>(ex_len)}, ex_truth.data());
    for (int k = 0; k < 3; ++k)
      out.write(std::string("/examples/") + names[k], {static_cast<hsize_t>(X), static_cast<hsize_t>(E), static_cast<hsize_t>(ex_len)},
                &ex[static_cast<std::size_t>(k) * X * E * ex_len]);
  }
  out.write("/residual/grid", grid);
  out.write("/residual/pdf_data", pdf_data);
  out.write("/residual/pdf_node", pdf_node);
  out.write("/residual/lag", lag);
  out.write("/residual/acf_data", acf_data);
  out.write("/residual/acf_node", acf_node);
  if (mf.exists("/forcing/residual_acf")) out.write("/residual/acf_train", mf.read("/forcing/residual_acf"));
  if (mf.exists("/forcing/acf_node")) out.write("/residual/acf_node_train", mf.read("/forcing/acf_node"));
  out.commit();
  return m;
}

}  // namespace msrom::rom
