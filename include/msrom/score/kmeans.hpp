#pragma once
// MPI-parallel k-means for KGMM (method doc section 2): the partition of noised samples whose clusters
// carry the conditional noise means E[z | k] that give the score by Tweedie's formula.
//
//   seeding   k-means++ (D^2 sampling): each round draws one global sample with probability D^2(x)/sum D^2
//             from a Philox stream, so the draw depends on the data and the seed, not on the rank count
//   Lloyd     assign every sample to its nearest centroid, then centroid = mean of its samples;
//             the per-cluster sums and counts are all-reduced, the samples never move
//   assign    not brute force: in 1-D a binary search among the sorted centroids' midpoints, in 2-4-D a
//             k-d tree over the centroids; ties go to the lowest centroid index, as brute force would
//
// Samples are the columns of a d x n matrix (a rank's shard); centroids are d x K, identical on every rank.
#include <mpi.h>

#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace msrom::score {

// Nearest-centroid search structure, built once per Lloyd iteration.
class NearestCentroid {
 public:
  explicit NearestCentroid(const Eigen::MatrixXd& centroids);
  // Index of the centroid nearest to x (length d); squared distance in *dist2 if given. `hint` (a likely
  // answer, e.g. the previous Lloyd iteration's label) only speeds up the k-d search: its distance bounds
  // the search from the start. The answer does not depend on it.
  int operator()(const double* x, double* dist2 = nullptr, int hint = -1) const;

 private:
  struct Node {
    int begin, end;      // range of order_ (leaf) or of the subtree
    int dim = -1;        // split dimension (-1: leaf)
    double split = 0;
    int left = -1, right = -1;
  };
  const Eigen::MatrixXd& c_;
  int d_, k_;
  std::vector<int> order_;        // 1-D: centroid indices sorted by value; k-d: tree order
  std::vector<double> mid_;       // 1-D: midpoints between consecutive sorted centroids
  std::vector<Node> nodes_;
  int build(int begin, int end);
  void search(int node, const double* x, int& best, double& best_d2) const;
  double dist2(const double* x, int k) const;
};

// Brute force nearest centroid (the reference the fast path must equal).
int nearest_brute_force(const Eigen::MatrixXd& centroids, const double* x, double* dist2 = nullptr);

// k-means++ seeding over the samples of all ranks (collective). Returns d x K, identical on all ranks.
Eigen::MatrixXd kmeans_plusplus(const Eigen::MatrixXd& samples, int k, std::uint64_t seed, MPI_Comm comm);

struct KMeansResult {
  Eigen::MatrixXd centroids;        // d x K
  std::vector<std::int64_t> counts; // global samples per cluster
  double inertia = 0;               // global sum of squared distances to the assigned centroid
  int iterations = 0;
};

// Lloyd iterations from `init` (collective). Stops after max_iter iterations or when the largest squared
// centroid shift is <= tol (tol = 0: run all max_iter). An empty cluster keeps its previous centroid.
KMeansResult lloyd(const Eigen::MatrixXd& samples, Eigen::MatrixXd init, int max_iter, double tol, MPI_Comm comm);

}  // namespace msrom::score
