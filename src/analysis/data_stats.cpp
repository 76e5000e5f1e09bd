#include "msrom/analysis/data_stats.hpp"

#include <mpi.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "msrom/analysis/statistics.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"

namespace msrom::analysis {

StatsConfig read_stats_options(const Options& opts, bool read_paths) {
  StatsConfig c;
  if (read_paths) {
    c.data = opts.string("data", "", "input HDF5 file");
    c.output_dir = opts.string("output", c.output_dir, "output directory (metrics.json, stats.h5)");
  }
  c.dataset = opts.string("dataset", c.dataset, "dataset: [members, time, dims], [samples, dims] or [time]");
  c.model = opts.string("stats_model", c.model, "model name in metric keys (<metric>.<model>)");
  c.variable = opts.integer("stats_variable", c.variable, "index of the primary variable (transitions)", 0);
  c.threshold = opts.positive("stats_threshold", c.threshold, "well threshold |x| > threshold (transitions)");
  c.window = opts.positive("stats_window", c.window, "window (time units) of the windowed transition definition");
  c.min_separation = opts.real("stats_min_separation", c.min_separation,
                               "minimum time between windowed transitions", 0.0);
  c.max_lag_time = opts.positive("stats_max_lag", c.max_lag_time, "largest ACF lag (time units; tau_int sums to the first zero)");
  c.bandwidth = opts.real("stats_bandwidth", c.bandwidth,
                           "KDE bandwidth (0: Silverman's rule, which over-smooths narrow multimodal wells)", 0.0);
  c.grid_points = opts.integer("stats_grid_points", c.grid_points, "points of the PDF grid", 16);
  c.dt = opts.real("stats_dt", 0.0, "sample spacing if the file has no /time (0: from /time)", 0.0);
  return c;
}

std::uint64_t data_seed(const h5::File& file) {
  double s = 0;
  try {
    if (file.has_attribute("/", "seed")) s = file.read_double_attribute("/", "seed");
  } catch (const InputError&) {
    return 0;  // not a single number: provenance only, not worth rejecting the data for
  }
  return s >= 0 && s < 18446744073709551616.0 && s == std::floor(s) ? static_cast<std::uint64_t>(s) : 0;
}

SeriesShape series_shape(const h5::File& file, const std::string& dataset, const std::string& option) {
  const auto shape = file.shape(dataset);
  SeriesShape s;
  if (shape.size() == 3) {
    s.members = shape[0], s.nt = shape[1], s.dims = shape[2];
  } else if (shape.size() == 2) {
    s.nt = shape[0], s.dims = shape[1];
  } else if (shape.size() == 1) {
    s.nt = shape[0];
  } else {
    throw InputError(option + ": " + dataset + " in '" + file.path() + "' has rank " + std::to_string(shape.size()) +
                     "; expected [members, time, dims], [samples, dims] or [time]");
  }
  return s;
}

std::vector<Series> read_series(const h5::File& file, const std::string& dataset, const SeriesShape& shape,
                                const std::vector<std::size_t>& variables, std::size_t t0, std::size_t t1,
                                const std::vector<std::size_t>& members) {
  if (t0 > t1 || t1 > shape.nt) throw std::invalid_argument("read_series: time range out of the data set");
  for (std::size_t j : variables)
    if (j >= shape.dims) throw std::invalid_argument("read_series: variable out of the data set");
  std::vector<std::size_t> which = members;
  if (which.empty())
    for (std::size_t m = 0; m < shape.members; ++m) which.push_back(m);
  for (std::size_t m : which)
    if (m >= shape.members) throw std::invalid_argument("read_series: member out of the data set");

  const std::size_t len = t1 - t0, dims = shape.dims;
  std::vector<Series> out(variables.size());
  for (auto& s : out) {
    s.members = which.size();
    s.nt = len;
    s.values.resize(which.size() * len);
  }
  const std::size_t rank = file.shape(dataset).size();
  const std::size_t block = std::max<std::size_t>(1, (std::size_t{1} << 20) / std::max<std::size_t>(1, dims));  // 8 MB
  for (std::size_t k = 0; k < which.size(); ++k) {
    for (std::size_t b = t0; b < t1; b += block) {
      const std::size_t nb = std::min(block, t1 - b);
      std::vector<double> slab;
      if (rank == 3)
        slab = file.read_slab(dataset, {hsize_t(which[k]), hsize_t(b), 0}, {1, hsize_t(nb), hsize_t(dims)});
      else if (rank == 2)
        slab = file.read_slab(dataset, {hsize_t(b), 0}, {hsize_t(nb), hsize_t(dims)});
      else
        slab = file.read_slab(dataset, {hsize_t(b)}, {hsize_t(nb)});
      for (std::size_t v = 0; v < variables.size(); ++v) {
        double* dst = out[v].values.data() + k * len + (b - t0);
        for (std::size_t i = 0; i < nb; ++i) dst[i] = slab[i * dims + variables[v]];
      }
    }
  }
  return out;
}

std::vector<double> pooled_acf(const Series& s, std::size_t max_lag) {
  // About the members' common mean (statistics.hpp, autocovariance_sums), normalised by the pooled C(0).
  double mean = 0;
  for (std::size_t m = 0; m < s.members; ++m) mean += moments(s.member(m), s.nt).mean / static_cast<double>(s.members);
  std::vector<double> c(max_lag + 1, 0.0);
  for (std::size_t m = 0; m < s.members; ++m) {
    const auto a = autocovariance_sums(s.member(m), s.nt, max_lag, mean);
    for (std::size_t k = 0; k <= max_lag; ++k) c[k] += a[k];
  }
  if (!(c[0] > 0)) throw std::invalid_argument("acf: the series has zero variance (or is not finite)");
  std::vector<double> rho(max_lag + 1);
  for (std::size_t k = 0; k <= max_lag; ++k) rho[k] = c[k] / c[0];
  return rho;
}

double PooledTransitions::mean_residence_time() const {
  double a = 0;
  for (double x : residence_times) a += x;
  return residence_times.empty() ? std::nan("") : a / static_cast<double>(residence_times.size());
}

PooledTransitions pooled_transitions_hysteresis(const Series& s, double dt, double threshold) {
  PooledTransitions p;
  for (std::size_t m = 0; m < s.members; ++m) {
    const auto h = transitions_hysteresis(s.member(m), s.nt, dt, threshold);
    p.residence_times.insert(p.residence_times.end(), h.residence_times.begin(), h.residence_times.end());
    p.count += h.index.size();
  }
  return p;
}

Metrics data_stats(const StatsConfig& cfg) {
  return on_root([&] {
    Metrics metrics;
    if (cfg.data.empty()) throw InputError("-data: no input file given");
    auto file = h5::File::open(cfg.data, "-data");
    const auto shape = series_shape(file, cfg.dataset, "-dataset");
    const std::size_t members = shape.members, nt = shape.nt, dims = shape.dims;
    if (nt < 16) throw InputError("-data: '" + cfg.data + "': " + cfg.dataset + " has fewer than 16 samples");
    if (static_cast<std::size_t>(cfg.variable) >= dims)
      throw InputError("-stats_variable: " + std::to_string(cfg.variable) + " but the data have " +
                       std::to_string(dims) + " variables");
    double dt = cfg.dt;
    if (dt <= 0) {
      if (!file.exists("/time")) throw InputError("-stats_dt: '" + cfg.data + "' has no /time; give -stats_dt");
      const auto t = file.read_slab("/time", {0}, {2});
      dt = t[1] - t[0];
      if (!(dt > 0)) throw InputError("-data: '" + cfg.data + "': /time is not increasing");
    }
    std::vector<std::string> names;
    if (file.has_attribute(cfg.dataset, "names")) names = file.read_strings_attribute(cfg.dataset, "names");
    names.resize(dims);
    for (std::size_t j = 0; j < dims; ++j)
      if (names[j].empty()) names[j] = "v" + std::to_string(j);

    std::vector<std::size_t> variables(dims);
    for (std::size_t j = 0; j < dims; ++j) variables[j] = j;
    const auto series = read_series(file, cfg.dataset, shape, variables, 0, nt);
    for (const auto& s : series)
      for (double v : s.values)
        if (!std::isfinite(v))
          throw InputError("-data: '" + cfg.data + "': " + cfg.dataset + " has non-finite values");

    make_output_directory("-output", cfg.output_dir);
    h5::OutputFile out(join_path(cfg.output_dir, "stats.h5"), MPI_COMM_SELF);
    out.write_root_attributes(data_seed(file));
    out.attribute("/", "data", cfg.data);
    out.attribute("/", "model", cfg.model);

    const std::size_t max_lag = std::min<std::size_t>(nt - 1, static_cast<std::size_t>(std::llround(cfg.max_lag_time / dt)));
    for (std::size_t j = 0; j < dims; ++j) {
      const Series& s = series[j];
      const bool primary = j == static_cast<std::size_t>(cfg.variable);
      const std::string suffix = "." + cfg.model + (primary ? "" : "." + names[j]);
      const auto mo = moments(s.values.data(), s.values.size());
      metrics.set("mean" + suffix, mo.mean);
      metrics.set("std" + suffix, mo.std);
      metrics.set("skewness" + suffix, mo.skewness);
      metrics.set("kurtosis" + suffix, mo.kurtosis);

      const auto p = pdf(s.values.data(), s.values.size(), static_cast<std::size_t>(cfg.grid_points), 0, 0,
                         cfg.bandwidth);
      const auto rho = pooled_acf(s, max_lag);
      const double tau = integrated_time(rho, dt);
      metrics.set("tau_int" + suffix, tau);

      const std::string g = "/" + names[j];
      out.write(g + "/pdf/grid", p.grid);
      out.write(g + "/pdf/histogram", p.histogram);
      out.write(g + "/pdf/kde", p.kde);
      out.attribute(g + "/pdf/kde", "bandwidth", p.bandwidth);
      std::vector<double> lag(max_lag + 1);
      for (std::size_t k = 0; k <= max_lag; ++k) lag[k] = static_cast<double>(k) * dt;
      out.write(g + "/acf/lag", lag);
      out.write(g + "/acf/rho", rho);
      out.attribute(g + "/acf/rho", "tau_int", tau);

      if (!primary) continue;
      // Transitions, both definitions, per member; residence times pooled.
      const auto hyst = pooled_transitions_hysteresis(s, dt, cfg.threshold);
      const std::vector<double>& res_h = hyst.residence_times;
      const std::size_t count_h = hyst.count;
      std::vector<double> res_w;
      std::size_t count_w = 0;
      for (std::size_t m = 0; m < members; ++m) {
        if (static_cast<double>(nt) * dt > 2 * cfg.window) {
          const auto w = transitions_windowed(s.member(m), nt, dt, cfg.threshold, cfg.window, cfg.min_separation);
          res_w.insert(res_w.end(), w.residence_times.begin(), w.residence_times.end());
          count_w += w.index.size();
        }
      }
      auto mean_of = [](const std::vector<double>& v) {
        double a = 0;
        for (double x : v) a += x;
        return v.empty() ? std::nan("") : a / static_cast<double>(v.size());
      };
      const double total_time = static_cast<double>(members) * static_cast<double>(nt) * dt;
      metrics.set("transitions" + suffix, static_cast<double>(count_h));
      metrics.set("transition_rate" + suffix, static_cast<double>(count_h) / total_time);
      metrics.set("residence_time" + suffix, mean_of(res_h));
      metrics.set("transitions_windowed" + suffix, static_cast<double>(count_w));
      metrics.set("residence_time_windowed" + suffix, mean_of(res_w));
      out.write(g + "/residence_times", res_h.empty() ? std::vector<double>{} : res_h);
    }
    out.attribute("/", "names", names);
    out.commit();
    metrics.write(join_path(cfg.output_dir, "metrics.json"));
    return metrics;
  }, "-data: '" + cfg.data + "'");
}

}  // namespace msrom::analysis
