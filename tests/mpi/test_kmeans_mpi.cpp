// k-means over ranks: the samples split in blocks over 1, 2 or 4 ranks give the single-rank centroids
// (to 1e-12; the all-reduced sums add in another order) and identical counts.
#include <catch2/catch.hpp>

#include <random>

#include "msrom/core/comm.hpp"
#include "msrom/score/kmeans.hpp"

using namespace msrom;

TEST_CASE("Parallel k-means equals the single-rank result", "[Parallel]") {
  const int d = GENERATE(1, 3);
  CAPTURE(d, size());
  const int n = 20000, k = 64;
  std::mt19937_64 g(17);
  std::normal_distribution<double> z;
  Eigen::MatrixXd all(d, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) all(j, i) = z(g) + (i % 2 ? 2.0 : -2.0);
  const auto mine = block_range(n, size(), rank());
  const Eigen::MatrixXd shard = all.middleCols(mine.begin, mine.count());

  const Eigen::MatrixXd init = score::kmeans_plusplus(shard, k, 5, MPI_COMM_WORLD);
  const Eigen::MatrixXd init_serial = score::kmeans_plusplus(all, k, 5, MPI_COMM_SELF);
  CHECK((init - init_serial).cwiseAbs().maxCoeff() == 0);
  const auto par = score::lloyd(shard, init, 15, 0.0, MPI_COMM_WORLD);
  const auto ser = score::lloyd(all, init_serial, 15, 0.0, MPI_COMM_SELF);
  CHECK((par.centroids - ser.centroids).cwiseAbs().maxCoeff() < 1e-12);
  CHECK(par.counts == ser.counts);
  CHECK(par.inertia == Approx(ser.inertia).epsilon(1e-12));
}
