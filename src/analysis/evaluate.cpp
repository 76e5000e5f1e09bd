// Long-run statistics of models against the data (see include/msrom/analysis/evaluate.hpp).
//
// Reading and pooling over members is data_stats.hpp's (series_shape, read_series, pooled_acf,
// pooled_transitions_hysteresis); the statistics themselves are statistics.hpp's. This file adds the
// validation split, the exclusion of diverged members, the common PDF grid, the ACF comparison across
// sample spacings and the well occupancies.
#include "msrom/analysis/evaluate.hpp"

#include <mpi.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "msrom/analysis/data_stats.hpp"
#include "msrom/analysis/statistics.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"

namespace msrom::analysis {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Metric keys are <metric>.<model> and models name HDF5 groups: letters, digits, '_' and '-' only.
void check_model_name(const std::string& name, const std::string& where) {
  bool ok = !name.empty();
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (!ok)
    throw InputError(where + ": model name '" + name + "' must be letters, digits, '_' or '-' (it is a metric key)");
  if (name == "data") throw InputError(where + ": model name 'data' is reserved for the data");
}

}  // namespace

EvaluateConfig read_evaluate_options(const Options& opts, bool read_paths) {
  EvaluateConfig c;
  if (read_paths) {
    c.data = opts.string("data", "", "data file (DNS): /state [members, time, dims] and /time");
    c.rollouts = opts.string("rollouts", "", "rollouts file of the model: /ensemble/state, /ensemble/status, /time");
    c.output_dir = opts.string("output", c.output_dir, "output directory (metrics.json, evaluate.h5, figures/)");
  }
  const auto baselines = opts.strings("rollouts_baselines", {}, "more models to compare: name=rollouts.h5,...");
  for (const auto& b : baselines) {
    const auto eq = b.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == b.size())
      throw InputError("-rollouts_baselines: '" + b + "' is not name=file");
    c.baselines.emplace_back(b.substr(0, eq), b.substr(eq + 1));
    check_model_name(c.baselines.back().first, "-rollouts_baselines");
  }
  c.model = opts.string("evaluate_model", c.model,
                        "model name of -rollouts in metric keys (default: its attribute 'model', else 'model')");
  if (!c.model.empty()) check_model_name(c.model, "-evaluate_model");
  c.dataset = opts.string("evaluate_dataset", c.dataset, "dataset of the data file: [members, time, dims]");
  c.train_fraction = opts.real("evaluate_train_fraction", c.train_fraction,
                               "leading fraction of each data series that trained the models (not evaluated)", 0.0,
                               1.0);
  if (!(c.train_fraction < 1.0)) throw InputError("-evaluate_train_fraction: must be < 1 (got 1)");
  c.all_data = opts.flag("evaluate_all_data", c.all_data, "evaluate on all the data, not the validation part");
  c.variable = opts.integer("evaluate_variable", c.variable, "index of the variable to compare", 0);
  c.threshold = opts.positive("evaluate_threshold", c.threshold, "well threshold |x| > threshold (transitions)");
  c.max_lag_time = opts.positive("evaluate_max_lag", c.max_lag_time, "largest ACF lag (time units)");
  c.bandwidth = opts.real("evaluate_bandwidth", c.bandwidth, "KDE bandwidth (0: Silverman's rule per series)", 0.0);
  c.grid_points = opts.integer("evaluate_grid_points", c.grid_points, "points of the common PDF grid", 16);
  c.wells = opts.reals("evaluate_wells", c.wells,
                       "well boundaries b1,b2,...: occupancy_<i> of the intervals (-inf,b1), [b1,b2), ...");
  for (std::size_t i = 0; i < c.wells.size(); ++i)
    if (!std::isfinite(c.wells[i]) || (i > 0 && !(c.wells[i] > c.wells[i - 1])))
      throw InputError("-evaluate_wells: boundaries must be finite and increasing");
  std::set<std::string> names;
  if (!c.model.empty()) names.insert(c.model);
  for (const auto& b : c.baselines)
    if (!names.insert(b.first).second)
      throw InputError("-rollouts_baselines: model name '" + b.first + "' given twice");
  return c;
}

namespace {

// One compared series (the data or a model) and its statistics.
struct Sample {
  std::string name, option, file;  // model name; option and file for messages
  Series series;
  double dt = 0;
  std::size_t diverged = 0;
  Moments mo;
  double lo = 0, hi = 0, bandwidth = 0;  // the series' own padded range and KDE bandwidth
  std::vector<double> kde, rho;
  double tau = 0;
  PooledTransitions transitions;
  double occupancy_neg = kNaN, occupancy_pos = kNaN;
  std::vector<double> occupancy;  // of the -evaluate_wells intervals
};

// Sample spacing of `file`'s /time: present, nt long, increasing and uniform (relative 1e-6).
double uniform_time_step(const h5::File& file, const std::string& option, std::size_t nt) {
  const std::string where = option + ": '" + file.path() + "'";
  if (!file.exists("/time")) throw InputError(where + " has no /time");
  const auto shape = file.shape("/time");
  if (shape.size() != 1 || shape[0] != nt)
    throw InputError(where + ": /time has " + std::to_string(shape.empty() ? 0 : shape[0]) + " entries, expected " +
                     std::to_string(nt) + " (one per saved sample)");
  if (nt < 2) throw InputError(where + " has fewer than 2 samples");
  const auto t = file.read("/time");
  const double dt = t[1] - t[0];
  if (!(dt > 0) || !std::isfinite(dt)) throw InputError(where + ": /time is not increasing");
  for (std::size_t i = 1; i < t.size(); ++i)
    if (!(std::fabs(t[i] - t[i - 1] - dt) <= 1e-6 * dt + 1e-12 * std::fabs(t[i])))
      throw InputError(where + ": /time is not uniformly spaced (at entry " + std::to_string(i) + ")");
  return dt;
}

void require_finite(const Series& s, const std::string& where) {
  for (std::size_t m = 0; m < s.members; ++m)
    for (std::size_t i = 0; i < s.nt; ++i)
      if (!std::isfinite(s.member(m)[i]))
        throw InputError(where + " has non-finite values (member " + std::to_string(m) + " of those used)");
}

// Fractions of the samples in the hysteresis wells (the last well entered), pooled over members. The well
// sequence is the one of transitions_hysteresis: the first sample beyond the threshold enters a well, each
// transition enters the other one.
void hysteresis_occupancy(Sample& s, double threshold) {
  double neg = 0, pos = 0;
  for (std::size_t m = 0; m < s.series.members; ++m) {
    const double* x = s.series.member(m);
    const std::size_t n = s.series.nt;
    std::size_t i0 = 0;
    while (i0 < n && !(std::fabs(x[i0]) > threshold)) ++i0;
    if (i0 == n) continue;
    const auto t = transitions_hysteresis(x, n, s.dt, threshold);
    int state = x[i0] > 0 ? 1 : -1;
    std::size_t begin = i0;
    for (std::size_t k = 0; k <= t.index.size(); ++k) {
      const std::size_t end = k < t.index.size() ? t.index[k] : n;
      (state > 0 ? pos : neg) += static_cast<double>(end - begin);
      if (k < t.index.size()) state = t.direction[k], begin = end;
    }
  }
  if (neg + pos > 0) s.occupancy_neg = neg / (neg + pos), s.occupancy_pos = pos / (neg + pos);
}

void interval_occupancy(Sample& s, const std::vector<double>& wells) {
  if (wells.empty()) return;
  std::vector<double> count(wells.size() + 1, 0.0);
  for (double x : s.series.values)
    count[static_cast<std::size_t>(std::upper_bound(wells.begin(), wells.end(), x) - wells.begin())] += 1;
  for (double& c : count) c /= static_cast<double>(s.series.values.size());
  s.occupancy = count;
}

// rho at lag `lag` (time units) of an ACF sampled every dt, linear in lag; exact at the samples.
double rho_at(const std::vector<double>& rho, double dt, double lag) {
  const double pos = lag / dt;
  const double k = std::round(pos);
  if (std::fabs(pos - k) <= 1e-9 * std::max(1.0, pos))
    return rho[std::min(rho.size() - 1, static_cast<std::size_t>(k))];
  const auto i = std::min(rho.size() - 2, static_cast<std::size_t>(std::floor(pos)));
  const double w = pos - static_cast<double>(i);
  return (1 - w) * rho[i] + w * rho[i + 1];
}

// RMS of rho_model - rho_data over the lags (0, T0] on the coarser spacing; T0 = data's first lag with
// rho <= 0, else its largest lag; never beyond either ACF's largest lag. NaN when no lag qualifies.
double acf_error(const Sample& data, const Sample& model) {
  std::size_t k0 = 1;
  while (k0 < data.rho.size() && data.rho[k0] > 0) ++k0;
  k0 = std::min(k0, data.rho.size() - 1);
  const double t0 = static_cast<double>(k0) * data.dt;
  const double lag_max = std::min({t0, static_cast<double>(data.rho.size() - 1) * data.dt,
                                   static_cast<double>(model.rho.size() - 1) * model.dt});
  const double h = std::max(data.dt, model.dt);
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t k = 1;; ++k) {
    const double lag = static_cast<double>(k) * h;
    if (lag > lag_max * (1 + 1e-9)) break;
    const double d = rho_at(model.rho, model.dt, lag) - rho_at(data.rho, data.dt, lag);
    sum += d * d;
    ++n;
  }
  return n ? std::sqrt(sum / static_cast<double>(n)) : kNaN;
}

// Statistics of one series that do not need the others: moments, range, ACF, transitions, occupancies.
void describe(Sample& s, const EvaluateConfig& cfg) {
  const auto& v = s.series.values;
  s.mo = moments(v.data(), v.size());
  const auto range = pdf(v.data(), v.size(), 2, 0, 0, cfg.bandwidth);  // 2 points: just range and bandwidth
  s.lo = range.grid.front(), s.hi = range.grid.back(), s.bandwidth = range.bandwidth;
  const auto max_lag = std::min<std::size_t>(s.series.nt - 1,
                                             static_cast<std::size_t>(std::llround(cfg.max_lag_time / s.dt)));
  s.rho = pooled_acf(s.series, max_lag);
  s.tau = integrated_time(s.rho, s.dt);
  s.transitions = pooled_transitions_hysteresis(s.series, s.dt, cfg.threshold);
  hysteresis_occupancy(s, cfg.threshold);
  interval_occupancy(s, cfg.wells);
}

// The validation part of the data's primary variable.
Sample read_data(const EvaluateConfig& cfg, std::vector<std::string>& names, std::size_t& data_dims,
                 std::size_t& first_sample, std::uint64_t& seed) {
  if (cfg.data.empty()) throw InputError("-data: no input file given");
  Sample s;
  s.name = "data", s.option = "-data", s.file = cfg.data;
  auto file = h5::File::open(cfg.data, "-data");
  if (!file.exists(cfg.dataset))
    throw InputError("-data: '" + cfg.data + "' has no " + cfg.dataset + " (set -evaluate_dataset)");
  const auto shape = series_shape(file, cfg.dataset, "-data");
  data_dims = shape.dims;
  if (static_cast<std::size_t>(cfg.variable) >= shape.dims)
    throw InputError("-evaluate_variable: " + std::to_string(cfg.variable) + " but the data '" + cfg.data + "' have " +
                     std::to_string(shape.dims) + " variables");
  s.dt = uniform_time_step(file, "-data", shape.nt);
  const double nt = static_cast<double>(shape.nt);
  first_sample = cfg.all_data ? 0 : static_cast<std::size_t>(std::floor(cfg.train_fraction * nt));
  if (shape.nt - first_sample < 16)
    throw InputError("-evaluate_train_fraction: leaves " + std::to_string(shape.nt - first_sample) +
                     " validation samples per member of '" + cfg.data + "' (need >= 16)");
  s.series = read_series(file, cfg.dataset, shape, {static_cast<std::size_t>(cfg.variable)}, first_sample, shape.nt)[0];
  require_finite(s.series, "-data: '" + cfg.data + "': " + cfg.dataset);
  if (file.has_attribute(cfg.dataset, "names")) names = file.read_strings_attribute(cfg.dataset, "names");
  names.resize(shape.dims);
  for (std::size_t j = 0; j < shape.dims; ++j)
    if (names[j].empty()) names[j] = "v" + std::to_string(j);
  seed = data_seed(file);
  return s;
}

// The primary variable of a rollouts file's members that did not diverge.
Sample read_rollouts(const std::string& path, const std::string& option, std::string name, std::size_t data_dims,
                     const EvaluateConfig& cfg) {
  Sample s;
  s.option = option, s.file = path;
  const std::string where = option + ": '" + path + "'";
  auto file = h5::File::open(path, option);
  const std::string ds = "/ensemble/state";
  if (!file.exists(ds)) throw InputError(where + " has no " + ds);
  const auto shape = file.shape(ds);
  if (shape.size() != 3) throw InputError(where + ": " + ds + " is not [members, nsave, dims]");
  SeriesShape sh;
  sh.members = shape[0], sh.nt = shape[1], sh.dims = shape[2];
  if (sh.dims > data_dims)
    throw InputError(where + ": " + ds + " has " + std::to_string(sh.dims) + " variables but the data '" + cfg.data +
                     "' have " + std::to_string(data_dims));
  if (static_cast<std::size_t>(cfg.variable) >= sh.dims)
    throw InputError(where + ": " + ds + " has " + std::to_string(sh.dims) + " variables, no -evaluate_variable " +
                     std::to_string(cfg.variable));
  if (sh.nt < 16) throw InputError(where + ": " + ds + " has fewer than 16 saved samples");
  s.dt = uniform_time_step(file, option, sh.nt);

  std::vector<double> status(sh.members, 0.0);  // no /ensemble/status: every member ran to the end
  if (file.exists("/ensemble/status")) {
    const auto st = file.shape("/ensemble/status");
    if (st.size() != 1 || st[0] != sh.members)
      throw InputError(where + ": /ensemble/status does not have one entry per member (" +
                       std::to_string(sh.members) + ")");
    status = file.read("/ensemble/status");
  }
  std::vector<std::size_t> ok;
  for (std::size_t m = 0; m < sh.members; ++m)
    if (status[m] == 0) ok.push_back(m);
  s.diverged = sh.members - ok.size();
  if (ok.empty()) throw InputError(where + ": all " + std::to_string(sh.members) + " members diverged");
  s.series = read_series(file, ds, sh, {static_cast<std::size_t>(cfg.variable)}, 0, sh.nt, ok)[0];
  require_finite(s.series, where + ": " + ds + " (status 0)");

  if (name.empty()) name = file.has_attribute("/", "model") ? file.read_string_attribute("/", "model") : "model";
  check_model_name(name, option + " (" + path + ")");
  s.name = name;
  return s;
}

std::string fmt(double v) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  if (v == std::floor(v) && std::fabs(v) < 1e12)
    std::snprintf(buf, sizeof buf, "%.0f", v);  // counts
  else
    std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

}  // namespace

Metrics evaluate(const EvaluateConfig& cfg) {
  // The file being read, for messages (on_root reads it when an error is thrown).
  std::string source = "-data: '" + cfg.data + "'";
  return on_root([&] {
    Metrics metrics;
    // 1. Read and check every input before writing anything.
    std::vector<std::string> names;
    std::size_t data_dims = 0, first_sample = 0;
    std::uint64_t seed = 0;
    std::vector<Sample> all;
    all.push_back(read_data(cfg, names, data_dims, first_sample, seed));
    if (cfg.rollouts.empty()) throw InputError("-rollouts: no rollouts file given");
    source = "-rollouts: '" + cfg.rollouts + "'";
    all.push_back(read_rollouts(cfg.rollouts, "-rollouts", cfg.model, data_dims, cfg));
    for (const auto& [name, path] : cfg.baselines) {
      source = "-rollouts_baselines: '" + path + "'";
      all.push_back(read_rollouts(path, "-rollouts_baselines", name, data_dims, cfg));
    }
    std::set<std::string> seen;
    for (const auto& s : all)
      if (!seen.insert(s.name).second)
        throw InputError(s.option + ": '" + s.file + "': model name '" + s.name +
                         "' is taken (name it with -evaluate_model or -rollouts_baselines name=file)");

    // 2. Each series on its own, then the comparisons on the common grids.
    for (auto& s : all) {
      source = s.option + ": '" + s.file + "'";
      describe(s, cfg);
    }
    double lo = all[0].lo, hi = all[0].hi, hmax = 0;
    for (const auto& s : all) lo = std::min(lo, s.lo), hi = std::max(hi, s.hi), hmax = std::max(hmax, s.bandwidth);
    lo -= 2 * hmax, hi += 2 * hmax;  // the range is padded by 3 bandwidths already: 5 in all
    std::vector<double> grid;
    for (auto& s : all) {
      source = s.option + ": '" + s.file + "'";
      const auto& v = s.series.values;
      auto p = pdf(v.data(), v.size(), static_cast<std::size_t>(cfg.grid_points), lo, hi, s.bandwidth);
      s.kde = std::move(p.kde);
      grid = std::move(p.grid);
    }
    source = "-data: '" + cfg.data + "'";
    const double dx = grid[1] - grid[0];
    const Sample& data = all[0];
    const double data_residence = data.transitions.mean_residence_time();
    for (const auto& s : all) {
      const std::string k = "." + s.name;
      const double time = static_cast<double>(s.series.values.size()) * s.dt;
      metrics.set("mean" + k, s.mo.mean);
      metrics.set("std" + k, s.mo.std);
      metrics.set("skewness" + k, s.mo.skewness);
      metrics.set("kurtosis" + k, s.mo.kurtosis);
      metrics.set("tau_int" + k, s.tau);
      metrics.set("transitions" + k, static_cast<double>(s.transitions.count));
      metrics.set("transition_rate" + k, static_cast<double>(s.transitions.count) / time);
      metrics.set("residence_time" + k, s.transitions.mean_residence_time());
      metrics.set("occupancy_neg" + k, s.occupancy_neg);
      metrics.set("occupancy_pos" + k, s.occupancy_pos);
      for (std::size_t i = 0; i < s.occupancy.size(); ++i)
        metrics.set("occupancy_" + std::to_string(i) + k, s.occupancy[i]);
      metrics.set("members" + k, static_cast<double>(s.series.members));
      metrics.set("samples" + k, static_cast<double>(s.series.values.size()));
      if (&s == &data) continue;
      const double kl = kl_divergence(data.kde, s.kde, dx), kl_rev = kl_divergence(s.kde, data.kde, dx);
      metrics.set("kl" + k, kl);
      metrics.set("kl_reverse" + k, kl_rev);
      metrics.set("kl_symmetric" + k, kl + kl_rev);
      metrics.set("acf_error" + k, acf_error(data, s));
      const double res = s.transitions.mean_residence_time();
      metrics.set("residence_time_ratio" + k, data_residence > 0 ? res / data_residence : kNaN);
      metrics.set("diverged" + k, static_cast<double>(s.diverged));
    }

    // 3. Outputs.
    make_output_directory("-output", cfg.output_dir);
    h5::OutputFile out(join_path(cfg.output_dir, "evaluate.h5"), MPI_COMM_SELF);
    out.write_root_attributes(seed);
    out.attribute("/", "data", cfg.data);
    out.attribute("/", "rollouts", cfg.rollouts);
    std::vector<std::string> models;
    for (const auto& s : all) models.push_back(s.name);
    out.attribute("/", "models", models);
    out.attribute("/", "variable", names[static_cast<std::size_t>(cfg.variable)]);
    out.attribute("/", "threshold", cfg.threshold);
    if (!cfg.wells.empty()) out.attribute("/", "wells", cfg.wells);
    out.attribute("/", "train_fraction", cfg.all_data ? 0.0 : cfg.train_fraction);
    out.attribute("/", "all_data", static_cast<std::int64_t>(cfg.all_data));
    out.attribute("/", "first_sample", static_cast<std::int64_t>(first_sample));
    out.write("/pdf/grid", grid);
    for (const auto& s : all) {
      out.write("/pdf/" + s.name, s.kde);
      out.attribute("/pdf/" + s.name, "bandwidth", s.bandwidth);
      std::vector<double> lag(s.rho.size());
      for (std::size_t k = 0; k < lag.size(); ++k) lag[k] = static_cast<double>(k) * s.dt;
      out.write("/acf/" + s.name + "/lag", lag);
      out.write("/acf/" + s.name + "/rho", s.rho);
      out.attribute("/acf/" + s.name + "/rho", "tau_int", s.tau);
      out.write("/residence_times/" + s.name, s.transitions.residence_times);
    }
    out.commit();
    metrics.write(join_path(cfg.output_dir, "metrics.json"));
    return metrics;
  }, source);
}

std::string evaluate_table(const Metrics& m, const std::vector<std::string>& models_in) {
  std::vector<std::string> models{"data"};
  if (models_in.empty()) {
    for (const auto& [key, value] : m.values())
      if (key.rfind("kl.", 0) == 0) models.push_back(key.substr(3));
  } else {
    for (const auto& name : models_in)
      if (name != "data") models.push_back(name);
  }
  std::vector<std::string> rows{"mean", "std", "skewness", "kurtosis", "kl", "kl_reverse", "kl_symmetric",
                                "tau_int", "acf_error", "transitions", "transition_rate", "residence_time",
                                "residence_time_ratio", "occupancy_neg", "occupancy_pos"};
  for (int i = 0; m.has("occupancy_" + std::to_string(i) + ".data"); ++i)
    rows.push_back("occupancy_" + std::to_string(i));
  rows.insert(rows.end(), {"members", "samples", "diverged"});

  std::size_t width = 12;
  for (const auto& name : models) width = std::max(width, name.size() + 2);
  std::ostringstream o;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-22s", "metric");
  o << buf;
  for (const auto& name : models) {
    std::snprintf(buf, sizeof buf, "%*s", static_cast<int>(width), name.c_str());
    o << buf;
  }
  o << "\n";
  for (const auto& row : rows) {
    bool any = false;
    for (const auto& name : models) any = any || m.has(row + "." + name);
    if (!any) continue;
    std::snprintf(buf, sizeof buf, "%-22s", row.c_str());
    o << buf;
    for (const auto& name : models) {
      const std::string key = row + "." + name;
      std::snprintf(buf, sizeof buf, "%*s", static_cast<int>(width), m.has(key) ? fmt(m.get(key)).c_str() : "-");
      o << buf;
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace msrom::analysis
