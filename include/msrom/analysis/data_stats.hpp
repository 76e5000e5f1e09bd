#pragma once
// Statistics of a data set (any HDF5 dataset [members, time, dims], [samples, dims] or [time]) for
// `msrom stats` and the pipeline: moments, PDF (histogram + KDE), ACF and integrated time, transitions by
// both definitions (hysteresis |x| > threshold; windowed, method doc 5) and mean residence times.
//
// kurtosis is Pearson's m4/m2^2 (3 for a Gaussian), not the excess kurtosis.
// Pooled over members: moments and PDF over all samples; the ACF is the average of the members' ACFs;
// transitions are detected per member and their residence times pooled.
//
// Writes DIR/metrics.json (keys <metric>.<model>, e.g. std.data, residence_time.data; for a variable other
// than the primary one, <metric>.<model>.<name>) and DIR/stats.h5 (/pdf/{grid,histogram,kde},
// /acf/{lag,rho} per variable under /<name>/) for the plotting tools.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "msrom/core/files.hpp"

namespace msrom {
class Options;
namespace h5 {
class File;
}
}  // namespace msrom

namespace msrom::analysis {

struct StatsConfig {
  std::string data, dataset = "/state", output_dir = "stats", model = "data";
  double bandwidth = 0, threshold = 0.7, window = 8.0, min_separation = 1.0, max_lag_time = 200.0, dt = 0;
  long grid_points = 2048, variable = 0;
};

// Reads -data (or the first positional argument), -dataset, -output and -stats_*; read_paths = false
// leaves data and output to the caller (the pipeline).
StatsConfig read_stats_options(const Options& opts, bool read_paths = true);

// Rank 0 reads and computes; the metrics are returned on every rank.
Metrics data_stats(const StatsConfig& cfg);

// ---- Reading and pooling a data set, shared by `msrom stats` and `msrom evaluate` -----------------------

// The root attribute `seed` of a data file, for the provenance of derived files: 0 when it is absent or not a
// seed (not one number, negative, fractional, non-finite or beyond 2^64; a malformed file must not make the
// cast undefined).
std::uint64_t data_seed(const h5::File& file);

// A data set's layout: [members, time, dims]; [samples, dims] and [time] are one member.
struct SeriesShape {
  std::size_t members = 1, nt = 0, dims = 1;
};
// InputError "<option>: <dataset> in '<file>' has rank r; expected ..." unless the rank is 1, 2 or 3.
SeriesShape series_shape(const h5::File& file, const std::string& dataset, const std::string& option);

// One variable of a data set: the members' series one after another.
struct Series {
  std::vector<double> values;  // [members][nt]
  std::size_t members = 0, nt = 0;
  const double* member(std::size_t m) const { return values.data() + m * nt; }
};
// Variables `variables` of samples [t0, t1) of the listed members (all members when `members` is empty),
// one Series per variable. Reads a member's slab [t, dims] in blocks of time, so memory stays O(result).
std::vector<Series> read_series(const h5::File& file, const std::string& dataset, const SeriesShape& shape,
                                const std::vector<std::size_t>& variables, std::size_t t0, std::size_t t1,
                                const std::vector<std::size_t>& members = {});

// rho(0..max_lag) pooled over members: the mean of the members' ACFs (max_lag < s.nt).
std::vector<double> pooled_acf(const Series& s, std::size_t max_lag);

// Hysteresis transitions (statistics.hpp) detected per member; residence times pooled.
struct PooledTransitions {
  std::size_t count = 0;                // transitions of all members
  std::vector<double> residence_times;  // every member's, in member order
  double mean_residence_time() const;   // NaN when there are none
};
PooledTransitions pooled_transitions_hysteresis(const Series& s, double dt, double threshold);

}  // namespace msrom::analysis
