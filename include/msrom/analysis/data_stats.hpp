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
#include <string>

#include "msrom/core/files.hpp"

namespace msrom {
class Options;
}

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

}  // namespace msrom::analysis
