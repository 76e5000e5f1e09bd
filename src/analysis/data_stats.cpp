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

namespace {

struct Series {
  std::vector<double> values;  // [members][time] of one variable
  std::size_t members = 1, nt = 0;
  const double* member(std::size_t m) const { return values.data() + m * nt; }
};

}  // namespace

Metrics data_stats(const StatsConfig& cfg) {
  Metrics metrics;
  int failed = 0;
  std::string message;
  if (rank() == 0) {
    try {
      if (cfg.data.empty()) throw InputError("-data: no input file given");
      auto file = h5::File::open(cfg.data, "-data");
      const auto shape = file.shape(cfg.dataset);
      std::size_t members = 1, nt = 0, dims = 1;
      if (shape.size() == 3) {
        members = shape[0], nt = shape[1], dims = shape[2];
      } else if (shape.size() == 2) {
        nt = shape[0], dims = shape[1];
      } else if (shape.size() == 1) {
        nt = shape[0];
      } else {
        throw InputError("-dataset: " + cfg.dataset + " in '" + cfg.data + "' has rank " +
                         std::to_string(shape.size()) + "; expected [members, time, dims], [samples, dims] or [time]");
      }
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

      const auto all = file.read(cfg.dataset);
      for (double v : all)
        if (!std::isfinite(v)) throw InputError("-data: '" + cfg.data + "': " + cfg.dataset + " has non-finite values");

      make_output_directory("-output", cfg.output_dir);
      h5::OutputFile out(join_path(cfg.output_dir, "stats.h5"), MPI_COMM_SELF);
      const auto seed = file.has_attribute("/", "seed") ? file.read_double_attribute("/", "seed") : 0.0;
      out.write_root_attributes(static_cast<std::uint64_t>(seed));
      out.attribute("/", "data", cfg.data);
      out.attribute("/", "model", cfg.model);

      const std::size_t max_lag = std::min<std::size_t>(nt - 1, static_cast<std::size_t>(std::llround(cfg.max_lag_time / dt)));
      for (std::size_t j = 0; j < dims; ++j) {
        Series s;
        s.members = members;
        s.nt = nt;
        s.values.resize(members * nt);
        for (std::size_t m = 0; m < members; ++m)
          for (std::size_t i = 0; i < nt; ++i) s.values[m * nt + i] = all[(m * nt + i) * dims + j];

        const bool primary = j == static_cast<std::size_t>(cfg.variable);
        const std::string suffix = "." + cfg.model + (primary ? "" : "." + names[j]);
        const auto mo = moments(s.values.data(), s.values.size());
        metrics.set("mean" + suffix, mo.mean);
        metrics.set("std" + suffix, mo.std);
        metrics.set("skewness" + suffix, mo.skewness);
        metrics.set("kurtosis" + suffix, mo.kurtosis);

        const auto p = pdf(s.values.data(), s.values.size(), static_cast<std::size_t>(cfg.grid_points), 0, 0,
                           cfg.bandwidth);
        std::vector<double> rho(max_lag + 1, 0.0);
        for (std::size_t m = 0; m < members; ++m) {
          const auto r = acf(s.member(m), nt, max_lag);
          for (std::size_t k = 0; k <= max_lag; ++k) rho[k] += r[k] / static_cast<double>(members);
        }
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
        std::vector<double> res_h, res_w;
        std::size_t count_h = 0, count_w = 0;
        for (std::size_t m = 0; m < members; ++m) {
          const auto h = transitions_hysteresis(s.member(m), nt, dt, cfg.threshold);
          res_h.insert(res_h.end(), h.residence_times.begin(), h.residence_times.end());
          count_h += h.index.size();
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
    } catch (const InputError& e) {
      failed = 2;
      message = e.what();
    } catch (const std::invalid_argument& e) {
      failed = 2;
      message = std::string("-data: '") + cfg.data + "': " + e.what();
    }
  }
  // Rank 0 did the work; share the outcome so every rank exits the same way.
  MPI_Bcast(&failed, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (failed) {
    broadcast(message);
    throw InputError(message);
  }
  std::string json = metrics.json();
  broadcast(json);
  if (rank() != 0) metrics = Metrics::parse(json, "broadcast metrics");
  return metrics;
}

}  // namespace msrom::analysis
