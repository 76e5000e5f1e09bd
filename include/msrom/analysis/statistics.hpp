#pragma once
// Statistics of scalar time series: the quantities by which msrom judges a reduced-order model against
// the data (method doc section 5). Pure functions on contiguous samples; no I/O, no MPI.
//
//   moments         mean, std, skewness, kurtosis (Pearson, m4/m2^2: 3 for a Gaussian)
//   pdf             histogram and Gaussian KDE on a common grid (binned KDE: linear binning onto the grid,
//                   then a discrete convolution with the kernel; O(n + G*W), not O(n*G))
//   acf             normalised autocorrelation rho(k) = C(k)/C(0), by FFT (zero-padded, biased estimator)
//   integrated time tau_int = dt * (1/2 + sum_{k=1}^{K-1} rho(k)), K = first lag with rho(K) <= 0 (or max)
//   transitions     hysteresis (enter the other well past |x| > threshold) and windowed (method doc 5)
//   kl_divergence   KL(p || q) of two densities on one grid, trapezoid rule, floor on q
#include <cstddef>
#include <vector>

namespace msrom::analysis {

struct Moments {
  double mean = 0, std = 0, skewness = 0, kurtosis = 0;
  std::size_t count = 0;
};
// Samples x[i * stride], i < n. Population std (divide by n); skewness and kurtosis are NaN when std == 0.
Moments moments(const double* x, std::size_t n, std::size_t stride = 1);

struct Pdf {
  std::vector<double> grid;       // G equispaced points, bin centres
  std::vector<double> histogram;  // density (integrates to 1 on the grid)
  std::vector<double> kde;        // Gaussian KDE, same grid
  double bandwidth = 0;           // the KDE bandwidth used
};
// Grid [lo, hi] with G points; lo/hi default (lo >= hi) to min/max of the data padded by 3 bandwidths.
// bandwidth <= 0 selects Silverman's rule, 0.9 min(std, IQR/1.34) n^(-1/5). Histogram bin j is
// [grid[j] - dx/2, grid[j] + dx/2); samples off the grid are not counted.
Pdf pdf(const double* x, std::size_t n, std::size_t grid_points, double lo = 0, double hi = 0,
        double bandwidth = 0);

// rho(0..max_lag) (max_lag < n). rho(0) = 1.
std::vector<double> acf(const double* x, std::size_t n, std::size_t max_lag);
// sum_{i=0}^{n-1-k} (x_i - mean)(x_{i+k} - mean), k = 0..max_lag, about a GIVEN mean (by FFT, as acf).
// Pooling members of one stationary process about their common mean avoids the bias of subtracting each
// short member's own mean (rho lowered by ~2 tau / T per lag).
std::vector<double> autocovariance_sums(const double* x, std::size_t n, std::size_t max_lag, double mean);
double integrated_time(const std::vector<double>& rho, double dt);

// Batch means: the long-run variance of a stationary series, lim_n n Var(mean of n samples) = var (1 + 2 sum_k
// rho(k)) (the spectral density at frequency zero, in samples; Green-Kubo: a sum of dt x_i over time T has
// variance T dt times it). Non-overlapping blocks of `block` samples; several series pool by add() (a tail
// shorter than a block is dropped). Unlike integrated_time it keeps negative lobes of the ACF, and its bias is
// O(sum_k k rho(k) / block): blocks must span many correlation times.
struct BatchMeans {
  std::size_t block = 1;
  double sum = 0, sum_sq = 0, blocks = 0;  // of the block means
  void add(const double* x, std::size_t n, std::size_t stride = 1);
  double long_run_variance() const;  // NaN with fewer than two blocks
};

struct Transitions {
  std::vector<std::size_t> index;      // sample index of each transition (time = index * dt)
  std::vector<int> direction;          // +1: into the positive well, -1: into the negative well
  std::vector<double> residence_times; // durations between successive transitions (time units)
  double mean_residence_time = 0;      // mean of residence_times; 0 when fewer than two transitions
};
// Hysteresis: the state is the last well entered (x > threshold: +1, x < -threshold: -1); a transition is
// entering the other well. The index is the first sample beyond the threshold.
Transitions transitions_hysteresis(const double* x, std::size_t n, double dt, double threshold);
// Windowed (method doc 5): a zero crossing at sample i (sign change between i-1 and i) is a transition when
// the means of x over the past window [i - w, i) and future window [i, i + w) (w = window/dt samples) both
// exceed threshold in magnitude with opposite signs; crossings closer than min_separation (time units) to
// the previous accepted transition are dropped. Crossings without full windows are ignored.
// w = round(window/dt) >= 1; a sample equal to 0 counts as non-negative; direction is the sign of the future
// mean. Directions need not alternate: min_separation is what merges a noisy multiple crossing.
Transitions transitions_windowed(const double* x, std::size_t n, double dt, double threshold, double window,
                                 double min_separation);

double kl_divergence(const std::vector<double>& p, const std::vector<double>& q, double dx,
                     double floor = 1e-12);

}  // namespace msrom::analysis
