// KGMM against analytic scores. KGMM estimates the score of the noised density p_sigma = p * N(0, sigma^2):
// for a standard normal p it is -x / (1 + sigma^2), divergence -1/(1 + sigma^2). Tweedie amplifies the
// sampling error of E[z | k] by 1/sigma: with count c per cluster the score's standard error is
// 1/(sigma sqrt(c)). The bounds below are 5 such errors plus the partition's own bias (cluster width).
#include <catch2/catch.hpp>

#include <mpi.h>

#include <random>

#include "msrom/score/kgmm.hpp"

using namespace msrom::score;

TEST_CASE("KGMM recovers the score of a standard normal", "[kgmm]") {
  const int n = 100000;
  std::mt19937_64 g(3);
  std::normal_distribution<double> z;
  Eigen::MatrixXd x(1, n);
  for (int i = 0; i < n; ++i) x(0, i) = z(g);
  KgmmOptions o;
  o.sigma = 0.2;
  o.clusters = 30;
  o.partition_samples = 20000;
  o.tolerance = 1e-4;
  o.max_passes = 20;
  const auto r = kgmm(x, o, MPI_COMM_SELF);
  CHECK(r.passes >= 5);
  CHECK(r.counts.sum() == Approx(double(n) * r.passes));
  const double s2 = 1 + o.sigma * o.sigma;
  double werr = 0, wsum = 0, max_z = 0, wse1 = 0;
  for (int k = 0; k < o.clusters; ++k) {
    const double c = r.centroids(0, k), cnt = r.counts(k);
    const double se = 1 / (o.sigma * std::sqrt(cnt));
    const double err = r.score(0, k) - (-c / s2);
    max_z = std::max(max_z, std::abs(err) / se);
    werr += cnt * err * err;
    wsum += cnt;
    // The data are the same in every pass (only the noise is fresh), so passes are not independent: the
    // error lies between the all-pass standard error and the single-pass one, 1/(sigma sqrt(cnt/passes)).
    wse1 += cnt * r.passes / (o.sigma * o.sigma * cnt);
  }
  const double rms = std::sqrt(werr / wsum), single_pass_rms = std::sqrt(wse1 / wsum);
  CAPTURE(rms, single_pass_rms, max_z, r.passes);
  CHECK(max_z < 5.0);             // every cluster within 5 all-pass standard errors
  CHECK(rms < single_pass_rms);   // p-weighted RMS error below the single-pass expectation (~0.09 here)
  // Divergence: -1/(1+sigma^2) everywhere; its estimator's noise is ~sqrt(2)/(sigma^2 sqrt(c)) (+ |s|^2 terms).
  double wdiv = 0;
  for (int k = 0; k < o.clusters; ++k) wdiv += r.counts(k) * r.divergence(k);
  CHECK(wdiv / wsum == Approx(-1 / s2).margin(0.05));
}
