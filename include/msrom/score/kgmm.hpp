#pragma once
// KGMM: the score s(x) = grad log p_sigma(x) of the (slightly noised) invariant density, estimated at the
// centroids of a k-means partition of noised samples (method doc section 2; Giorgini et al. 2025).
//
//   x~ = x + sigma_n z,  z ~ N(0, I)                                  fresh noise every pass over the data
//   E[z | k]     accumulated per cluster k of the partition, over passes until it converges
//   s_k          = -E[z | k] / sigma_n                                 (Tweedie)
//   div_k        = (E[|z|^2 | k] - d) / sigma_n^2 - |s_k|^2
//   c_k          = E[x~ | k]                                           where s_k is taken to hold
//
// The noise of sample i in pass p is Philox(seed, score_noise) at counter (p, i, component): independent of
// the rank count, so the estimate is the same on any number of ranks up to the order of the all-reduced
// sums. The samples are z-scored by the caller (sigma_n is relative to unit variance).
#include <mpi.h>

#include <Eigen/Dense>
#include <cstdint>

namespace msrom::score {

struct KgmmOptions {
  double sigma = 0.05;                      // noise level sigma_n
  int clusters = 1000;                      // K
  std::int64_t partition_samples = 200000;  // noised samples (a global subsample) that build the partition
  int lloyd_iterations = 50;
  double tolerance = 0.02;                  // stop when |E_new - E_old|^2 / |E_old|^2 < tolerance
  int min_passes = 5, max_passes = 150;
  std::uint64_t seed = 1;
};

struct KgmmResult {
  Eigen::MatrixXd centroids;   // d x K: E[x~ | k]
  Eigen::MatrixXd score;       // d x K: s_k
  Eigen::MatrixXd noise_mean;  // d x K: E[z | k]
  Eigen::VectorXd divergence;  // K
  Eigen::VectorXd counts;      // K: samples accumulated over all passes
  int passes = 0;
  double last_change = 0;      // relative squared change of E[z | k] in the last pass
};

// `samples`: d x n_local, this rank's shard (global index = offset + column). Collective over comm.
KgmmResult kgmm(const Eigen::MatrixXd& samples, const KgmmOptions& opts, MPI_Comm comm);

}  // namespace msrom::score
