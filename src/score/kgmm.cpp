#include "msrom/score/kgmm.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "msrom/core/comm.hpp"
#include "msrom/core/random.hpp"
#include "msrom/score/kmeans.hpp"

namespace msrom::score {

namespace {
// Noise of global sample g in pass p: d Gaussians, blocks of 4 per sample.
inline void noise(const Philox& rng, std::uint64_t pass, std::int64_t g, int d, double* z) {
  const std::uint64_t blocks = static_cast<std::uint64_t>((d + 3) / 4);
  double b[4];
  for (int j = 0; j < d; j += 4) {
    rng.normal4(pass, static_cast<std::uint64_t>(g) * blocks + static_cast<std::uint64_t>(j / 4), b);
    for (int i = 0; i < 4 && j + i < d; ++i) z[j + i] = b[i];
  }
}
}  // namespace

KgmmResult kgmm(const Eigen::MatrixXd& x, const KgmmOptions& o, MPI_Comm comm) {
  const int d = static_cast<int>(x.rows());
  const std::int64_t nloc = x.cols();
  std::int64_t n = 0, offset = 0;
  MPI_Allreduce(&nloc, &n, 1, MPI_INT64_T, MPI_SUM, comm);
  MPI_Exscan(&nloc, &offset, 1, MPI_INT64_T, MPI_SUM, comm);
  if (rank(comm) == 0) offset = 0;
  if (!(o.sigma > 0)) throw std::invalid_argument("kgmm: sigma must be > 0");
  if (n < o.clusters) throw std::invalid_argument("kgmm: fewer samples than clusters");
  const Philox rng(o.seed, 0, Purpose::score_noise);
  std::vector<double> z(static_cast<std::size_t>(d)), xt(static_cast<std::size_t>(d));

  // 1. The partition: k-means on a noised global subsample (every stride-th sample; pass 0's noise).
  const std::int64_t stride = std::max<std::int64_t>(1, n / std::max<std::int64_t>(o.partition_samples, o.clusters));
  std::vector<double> sub;
  for (std::int64_t i = 0; i < nloc; ++i) {
    const std::int64_t g = offset + i;
    if (g % stride) continue;
    noise(rng, 0, g, d, z.data());
    for (int j = 0; j < d; ++j) sub.push_back(x(j, i) + o.sigma * z[j]);
  }
  const Eigen::Map<const Eigen::MatrixXd> subm(sub.data(), d, static_cast<Eigen::Index>(sub.size() / d));
  const auto km = lloyd(subm, kmeans_plusplus(subm, o.clusters, o.seed, comm), o.lloyd_iterations, 1e-12, comm);
  const NearestCentroid nearest(km.centroids);

  // 2. Passes of fresh noise over all the data, accumulating per cluster: sum z, sum |z|^2, sum x~, count.
  const int k = o.clusters, width = 2 * d + 2;  // [z (d), x~ (d), |z|^2, count] per cluster
  Eigen::MatrixXd total = Eigen::MatrixXd::Zero(width, k), pass_sum(width, k);
  Eigen::MatrixXd previous = Eigen::MatrixXd::Zero(d, k);
  KgmmResult r;
  for (int p = 1; p <= o.max_passes; ++p) {
    pass_sum.setZero();
    for (std::int64_t i = 0; i < nloc; ++i) {
      noise(rng, static_cast<std::uint64_t>(p), offset + i, d, z.data());
      double z2 = 0;
      for (int j = 0; j < d; ++j) xt[j] = x(j, i) + o.sigma * z[j], z2 += z[j] * z[j];
      double* col = pass_sum.col(nearest(xt.data())).data();
      for (int j = 0; j < d; ++j) col[j] += z[j], col[d + j] += xt[j];
      col[2 * d] += z2;
      col[2 * d + 1] += 1;
    }
    MPI_Allreduce(MPI_IN_PLACE, pass_sum.data(), width * k, MPI_DOUBLE, MPI_SUM, comm);
    total += pass_sum;
    Eigen::MatrixXd mean(d, k);
    for (int c = 0; c < k; ++c) {
      const double cnt = total(2 * d + 1, c);
      mean.col(c) = cnt > 0 ? Eigen::VectorXd(total.col(c).head(d) / cnt) : Eigen::VectorXd::Zero(d);
    }
    const double ref = previous.squaredNorm();
    r.last_change = ref > 0 ? (mean - previous).squaredNorm() / ref : 1.0;
    previous = mean;
    r.passes = p;
    if (p >= o.min_passes && r.last_change < o.tolerance) break;
  }

  // 3. Score and divergence at the centroids (Tweedie).
  r.noise_mean = previous;
  r.centroids.resize(d, k);
  r.score.resize(d, k);
  r.divergence.resize(k);
  r.counts.resize(k);
  for (int c = 0; c < k; ++c) {
    const double cnt = total(2 * d + 1, c);
    r.counts(c) = cnt;
    r.centroids.col(c) = cnt > 0 ? Eigen::VectorXd(total.col(c).segment(d, d) / cnt) : km.centroids.col(c);
    r.score.col(c) = -r.noise_mean.col(c) / o.sigma;
    r.divergence(c) = cnt > 0 ? (total(2 * d, c) / cnt - d) / (o.sigma * o.sigma) - r.score.col(c).squaredNorm() : 0.0;
  }
  return r;
}

}  // namespace msrom::score
