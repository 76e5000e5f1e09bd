// k-means: the fast nearest-centroid search equals brute force (ties included), Lloyd equals a literal
// reference implementation, and well-separated clusters are recovered.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <random>

#include "msrom/score/kmeans.hpp"

using namespace msrom::score;

namespace {
Eigen::MatrixXd gaussian(int d, int n, unsigned seed, double scale = 1.0) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> z;
  Eigen::MatrixXd m(d, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < d; ++j) m(j, i) = scale * z(g);
  return m;
}

// Lloyd written literally: brute-force assignment, mean update, empty clusters keep their centroid.
Eigen::MatrixXd reference_lloyd(const Eigen::MatrixXd& x, Eigen::MatrixXd c, int iters) {
  for (int it = 0; it < iters; ++it) {
    Eigen::MatrixXd s = Eigen::MatrixXd::Zero(c.rows(), c.cols());
    Eigen::VectorXd n = Eigen::VectorXd::Zero(c.cols());
    for (int i = 0; i < x.cols(); ++i) {
      const int a = nearest_brute_force(c, x.col(i).data());
      s.col(a) += x.col(i);
      n(a) += 1;
    }
    for (int k = 0; k < c.cols(); ++k)
      if (n(k) > 0) c.col(k) = s.col(k) / n(k);
  }
  return c;
}
}  // namespace

TEST_CASE("Nearest centroid equals brute force in 1 to 4 dimensions, ties included", "[kmeans]") {
  const int d = GENERATE(1, 2, 3, 4);
  const int k = GENERATE(1, 2, 7, 200);
  CAPTURE(d, k);
  Eigen::MatrixXd c = gaussian(d, k, 100 + d * 7 + k);
  if (k > 3) c.col(3) = c.col(1);  // a duplicated centroid: the lower index must win
  Eigen::MatrixXd q = gaussian(d, 3000, 5 + d, 1.5);
  // Queries exactly at centroids and (1-D) exactly at midpoints.
  for (int i = 0; i < std::min(k, 50); ++i) q.col(i) = c.col(i);
  if (d == 1 && k > 1) q(0, 60) = 0.5 * (c(0, 0) + c(0, 1));
  NearestCentroid fast(c);
  int mismatches = 0;
  for (int i = 0; i < q.cols(); ++i) {
    double d1 = 0, d2 = 0;
    const int a = fast(q.col(i).data(), &d1), b = nearest_brute_force(c, q.col(i).data(), &d2);
    mismatches += (a != b) || (d1 != d2);
    // A hint (right or wrong) must not change the answer.
    mismatches += fast(q.col(i).data(), nullptr, (i * 7) % k) != b;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("Lloyd equals the literal reference implementation", "[kmeans]") {
  const int d = GENERATE(1, 3);
  CAPTURE(d);
  const Eigen::MatrixXd x = gaussian(d, 4000, 11 + d);
  const Eigen::MatrixXd init = kmeans_plusplus(x, 25, 3, MPI_COMM_SELF);
  const auto r = lloyd(x, init, 10, 0.0, MPI_COMM_SELF);
  const Eigen::MatrixXd ref = reference_lloyd(x, init, 10);
  CHECK(r.iterations == 10);
  CHECK((r.centroids - ref).cwiseAbs().maxCoeff() < 1e-12);
  std::int64_t total = 0;
  for (auto n : r.counts) total += n;
  CHECK(total == 4000);
}

TEST_CASE("k-means recovers well-separated clusters", "[kmeans]") {
  // Four blobs of std 0.05 at the corners of a square of side 4: centroids within 5 std errors
  // (0.05/sqrt(500) ~ 2.2e-3) of the true centres.
  Eigen::MatrixXd centres(2, 4);
  centres << 0, 4, 0, 4, 0, 0, 4, 4;
  Eigen::MatrixXd x = gaussian(2, 2000, 99, 0.05);
  for (int i = 0; i < 2000; ++i) x.col(i) += centres.col(i % 4);
  const auto r = lloyd(x, kmeans_plusplus(x, 4, 1, MPI_COMM_SELF), 50, 1e-14, MPI_COMM_SELF);
  for (int k = 0; k < 4; ++k) {
    const int a = nearest_brute_force(r.centroids, centres.col(k).data());
    CAPTURE(k);
    CHECK((r.centroids.col(a) - centres.col(k)).norm() < 0.011);
    CHECK(r.counts[a] == 500);
  }
  CHECK(r.iterations < 50);
}

TEST_CASE("k-means++ picks distinct samples and is deterministic", "[kmeans]") {
  const Eigen::MatrixXd x = gaussian(3, 500, 7);
  const Eigen::MatrixXd a = kmeans_plusplus(x, 40, 9, MPI_COMM_SELF), b = kmeans_plusplus(x, 40, 9, MPI_COMM_SELF);
  CHECK(a == b);
  for (int i = 0; i < 40; ++i) {
    double d2 = 1;
    nearest_brute_force(x, a.col(i).data(), &d2);
    CHECK(d2 == 0);  // a sample
    for (int j = 0; j < i; ++j) CHECK((a.col(i) - a.col(j)).norm() > 0);
  }
  CHECK_THROWS(kmeans_plusplus(x, 501, 1, MPI_COMM_SELF));
}
