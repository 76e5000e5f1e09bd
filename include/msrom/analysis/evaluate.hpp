#pragma once
// Long-run statistics of reduced-order models against the data (method doc section 5): `msrom evaluate`
// and the pipeline's evaluate stage.
//
// Inputs: the data (DNS, `/state` [members, nt, dims] + `/time`) and one or more rollouts files
// (`/ensemble/state` [members, nsave, dims], `/ensemble/status` [members], `/time`, root attribute `model`),
// all in physical units. Only the primary variable (-evaluate_variable) is compared.
//
// The data are the VALIDATION part by default: the last (1 - f) of every member's series, f =
// -evaluate_train_fraction (0.8, the convention of learn-score: the first 80% trains); -evaluate_all_data
// uses the whole series. Diverged rollout members (status != 0) are excluded and counted; the remaining
// members are pooled as in `msrom stats` (data_stats.hpp: moments and PDF over all samples, ACF = mean of
// the members' ACFs, transitions per member with residence times pooled).
//
// Metrics (flat, `<metric>.<model>`; the data are model "data"):
//   mean std skewness kurtosis    moments (kurtosis: Pearson's m4/m2^2)
//   tau_int                       integrated autocorrelation time (time units) on each series' own spacing
//   transitions transition_rate   hysteresis transitions (|x| > -evaluate_threshold) and their rate (1/time)
//   residence_time                mean residence time between hysteresis transitions (time units)
//   occupancy_neg occupancy_pos   fraction of the samples in each well, the well being the hysteresis state
//                                 (the last well entered; samples before the first entry are not counted)
//   occupancy_<i>                 with -evaluate_wells b1,...,bk: fraction of samples in interval i of
//                                 (-inf, b1), [b1, b2), ..., [bk, inf)
//   members samples               members and samples used (after excluding diverged members)
//   kl kl_reverse kl_symmetric    (models only) KL(data || model), KL(model || data) and their sum, of the
//                                 Gaussian KDEs on one common grid (statistics.hpp kl_divergence)
//   acf_error                     (models only) RMS difference of the ACFs over the lags (0, T0], T0 = the
//                                 data ACF's first lag with rho <= 0 (or its largest lag)
//   residence_time_ratio          (models only) residence_time.<model> / residence_time.data
//   diverged                      (models only) members with status != 0 (excluded)
//
// Common grids:
//   PDF  -evaluate_grid_points points over the union of every series' range, padded by 5 bandwidths of the
//        widest kernel (the KDE's truncation), so no KDE mass falls off the grid. Each series keeps its
//        own bandwidth (Silverman's rule unless -evaluate_bandwidth).
//   ACF  each series' ACF is computed on its own sample spacing up to -evaluate_max_lag (time units); the
//        acf_error of a model compares the two ACFs on the coarser of the two spacings, taking the finer
//        ACF by linear interpolation in lag (exact sampling when the spacings divide, e.g. 0.01 vs 0.1).
//        Note that tau_int and the hysteresis transitions of a coarsely saved series see only its samples.
//
// Writes DIR/metrics.json and DIR/evaluate.h5 for tools/plot_evaluate.py:
//   /pdf/grid [G]; /pdf/<model> [G] (KDE, attribute bandwidth) for data and every model;
//   /acf/<model>/lag, /acf/<model>/rho (attribute tau_int); /residence_times/<model>;
//   root attributes: the contract's ones + data, models (data first), variable, threshold, wells (if any),
//   train_fraction, all_data.
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/files.hpp"

namespace msrom {
class Options;
}

namespace msrom::analysis {

struct EvaluateConfig {
  std::string data, rollouts, output_dir = "evaluate";
  std::string model;                                           // name of -rollouts (empty: its attribute)
  std::vector<std::pair<std::string, std::string>> baselines;  // (model name, rollouts file)
  std::string dataset = "/state";                              // the data's dataset
  double train_fraction = 0.8;                                 // leading fraction of each member that trains
  bool all_data = false;                                       // evaluate on the whole data series
  long variable = 0, grid_points = 2048;
  double threshold = 0.7, max_lag_time = 200.0, bandwidth = 0;
  std::vector<double> wells;                                   // interval boundaries (increasing)
};

// Reads -data, -rollouts and -output (only when read_paths), -rollouts_baselines name=file,... and
// -evaluate_*. InputError naming the option for a malformed value.
EvaluateConfig read_evaluate_options(const Options& opts, bool read_paths = true);

// Rank 0 reads and computes (writing DIR/metrics.json and DIR/evaluate.h5); the metrics are returned on
// every rank. Bad input (missing file, wrong shape, variables that do not match, all members diverged)
// throws InputError naming the option and file on every rank.
Metrics evaluate(const EvaluateConfig& cfg);

// The metrics as a table: one row a metric, one column each for data and the models (`models`, or, when
// empty, every model with a kl.<model> metric in name order).
std::string evaluate_table(const Metrics& m, const std::vector<std::string>& models = {});

}  // namespace msrom::analysis
