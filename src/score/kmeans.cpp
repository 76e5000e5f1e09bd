#include "msrom/score/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "msrom/core/comm.hpp"
#include "msrom/core/random.hpp"

namespace msrom::score {

namespace {
constexpr int kLeafSize = 8;
}

// ---------------------------------------------------------------------------------- nearest centroid
int nearest_brute_force(const Eigen::MatrixXd& c, const double* x, double* dist2) {
  int best = -1;
  double bd = std::numeric_limits<double>::infinity();
  for (int k = 0; k < c.cols(); ++k) {
    double s = 0;
    for (int j = 0; j < c.rows(); ++j) {
      const double t = x[j] - c(j, k);
      s += t * t;
    }
    if (s < bd || (best < 0 && s == bd)) bd = s, best = k;  // == : a point so far that every distance is inf
  }
  if (dist2) *dist2 = bd;
  return best;
}

NearestCentroid::NearestCentroid(const Eigen::MatrixXd& centroids)
    : c_(centroids), d_(static_cast<int>(centroids.rows())), k_(static_cast<int>(centroids.cols())) {
  if (k_ < 1) throw std::invalid_argument("k-means: no centroids");
  order_.resize(static_cast<std::size_t>(k_));
  std::iota(order_.begin(), order_.end(), 0);
  if (d_ == 1) {
    // Sorted by value, ties by index so the lowest index comes first.
    std::sort(order_.begin(), order_.end(), [&](int a, int b) { return c_(0, a) < c_(0, b) || (c_(0, a) == c_(0, b) && a < b); });
    mid_.resize(static_cast<std::size_t>(k_ - 1));
    for (int i = 0; i + 1 < k_; ++i) mid_[i] = 0.5 * (c_(0, order_[i]) + c_(0, order_[i + 1]));
  } else {
    nodes_.reserve(static_cast<std::size_t>(2 * k_ / kLeafSize + 2));
    build(0, k_);
  }
}

double NearestCentroid::dist2(const double* x, int k) const {
  double s = 0;
  const double* ck = c_.data() + static_cast<std::ptrdiff_t>(k) * d_;
  for (int j = 0; j < d_; ++j) {
    const double t = x[j] - ck[j];
    s += t * t;
  }
  return s;
}

int NearestCentroid::build(int begin, int end) {
  const int id = static_cast<int>(nodes_.size());
  nodes_.push_back({begin, end});
  if (end - begin <= kLeafSize) return id;
  // Split on the dimension of largest spread, at the median.
  int dim = 0;
  double spread = -1;
  for (int j = 0; j < d_; ++j) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int i = begin; i < end; ++i) lo = std::min(lo, c_(j, order_[i])), hi = std::max(hi, c_(j, order_[i]));
    if (hi - lo > spread) spread = hi - lo, dim = j;
  }
  const int mid = (begin + end) / 2;
  std::nth_element(order_.begin() + begin, order_.begin() + mid, order_.begin() + end,
                   [&](int a, int b) { return c_(dim, a) < c_(dim, b); });
  nodes_[id].dim = dim;
  nodes_[id].split = c_(dim, order_[mid]);
  const int l = build(begin, mid), r = build(mid, end);
  nodes_[id].left = l;
  nodes_[id].right = r;
  return id;
}

void NearestCentroid::search(int node, const double* x, int& best, double& best_d2) const {
  const Node& n = nodes_[node];
  if (n.dim < 0) {
    for (int i = n.begin; i < n.end; ++i) {
      const int k = order_[i];
      const double s = dist2(x, k);
      if (s < best_d2 || (s == best_d2 && (best < 0 || k < best))) best_d2 = s, best = k;
    }
    return;
  }
  // Left holds values <= split, right values >= split (the median itself is on the right).
  const double diff = x[n.dim] - n.split;
  const int near = diff < 0 ? n.left : n.right, far = diff < 0 ? n.right : n.left;
  search(near, x, best, best_d2);
  if (diff * diff <= best_d2) search(far, x, best, best_d2);  // <=: an equally near, lower index may hide there
}

int NearestCentroid::operator()(const double* x, double* d2, int hint) const {
  int best = -1;
  double bd = std::numeric_limits<double>::infinity();
  if (hint >= 0 && hint < k_ && d_ > 1) best = hint, bd = dist2(x, hint);
  if (d_ == 1) {
    // Position among the midpoints, then the exact distances of the two neighbours decide (ties: index).
    const int pos = static_cast<int>(std::upper_bound(mid_.begin(), mid_.end(), x[0]) - mid_.begin());
    for (int i = std::max(0, pos - 1); i <= std::min(k_ - 1, pos + 1); ++i) {
      const int k = order_[i];
      const double t = x[0] - c_(0, k), s = t * t;
      if (s < bd || (s == bd && (best < 0 || k < best))) bd = s, best = k;
    }
  } else {
    search(0, x, best, bd);
  }
  // Only a NaN coordinate leaves no answer; callers index with it, so never return -1 (tests/fuzz: NaN samples
  // from an overflowing normalisation wrote out of bounds in lloyd()).
  if (best < 0) throw std::invalid_argument("nearest centroid: the point has a NaN coordinate");
  if (d2) *d2 = bd;
  return best;
}

// ---------------------------------------------------------------------------------- k-means++
Eigen::MatrixXd kmeans_plusplus(const Eigen::MatrixXd& x, int k, std::uint64_t seed, MPI_Comm comm) {
  const int d = static_cast<int>(x.rows());
  const std::int64_t nloc = x.cols();
  std::int64_t n = 0;
  MPI_Allreduce(&nloc, &n, 1, MPI_INT64_T, MPI_SUM, comm);
  if (n < k) throw std::invalid_argument("k-means++: fewer samples than clusters");
  const int nranks = size(comm), me = rank(comm);
  std::vector<std::int64_t> counts(static_cast<std::size_t>(nranks));
  MPI_Allgather(&nloc, 1, MPI_INT64_T, counts.data(), 1, MPI_INT64_T, comm);
  std::int64_t offset = 0;
  for (int r = 0; r < me; ++r) offset += counts[r];

  Philox rng(seed, 0, Purpose::clustering);
  Eigen::MatrixXd c(d, k);
  // Fetches global sample g into column j of c (its owner broadcasts it).
  auto fetch = [&](std::int64_t g, int j) {
    int owner = 0;
    std::int64_t start = 0;
    while (g >= start + counts[owner]) start += counts[owner++];
    if (owner == me) c.col(j) = x.col(g - start);
    MPI_Bcast(c.col(j).data(), d, MPI_DOUBLE, owner, comm);
  };
  fetch(std::min<std::int64_t>(n - 1, static_cast<std::int64_t>(rng.uniform(0, 0) * static_cast<double>(n))), 0);
  std::vector<double> d2(static_cast<std::size_t>(nloc), std::numeric_limits<double>::infinity());
  std::vector<double> all(static_cast<std::size_t>(nranks));
  for (int j = 1; j < k; ++j) {
    double local = 0;
    for (std::int64_t i = 0; i < nloc; ++i) {
      const double s = (x.col(i) - c.col(j - 1)).squaredNorm();
      d2[i] = std::min(d2[i], s);
      local += d2[i];
    }
    MPI_Allgather(&local, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, comm);
    double total = 0;
    for (double a : all) total += a;
    // Target mass; the rank whose cumulative mass crosses it picks its sample.
    double target = rng.uniform(static_cast<std::uint64_t>(j), 0) * total, before = 0;
    int owner = nranks - 1;
    for (int r = 0; r < nranks; ++r) {
      if (target < before + all[r]) {
        owner = r;
        break;
      }
      before += all[r];
    }
    std::int64_t pick = 0;
    if (me == owner) {
      double cum = before;
      pick = nloc - 1;
      for (std::int64_t i = 0; i < nloc; ++i) {
        cum += d2[i];
        if (target < cum) {
          pick = i;
          break;
        }
      }
      c.col(j) = x.col(pick);
    }
    MPI_Bcast(c.col(j).data(), d, MPI_DOUBLE, owner, comm);
  }
  return c;
}

// ---------------------------------------------------------------------------------- Lloyd
KMeansResult lloyd(const Eigen::MatrixXd& x, Eigen::MatrixXd c, int max_iter, double tol, MPI_Comm comm) {
  const int d = static_cast<int>(x.rows()), k = static_cast<int>(c.cols());
  const std::int64_t nloc = x.cols();
  Eigen::MatrixXd sums(d, k);
  std::vector<std::int64_t> cnt(static_cast<std::size_t>(k));
  std::vector<int> label(static_cast<std::size_t>(nloc), -1);  // previous assignment: the k-d search's hint
  KMeansResult r;
  r.counts.assign(static_cast<std::size_t>(k), 0);
  for (int it = 0; it < max_iter; ++it) {
    sums.setZero();
    std::fill(cnt.begin(), cnt.end(), 0);
    {
      const NearestCentroid nearest(c);
      for (std::int64_t i = 0; i < nloc; ++i) {
        const int a = label[i] = nearest(x.col(i).data(), nullptr, label[i]);
        sums.col(a) += x.col(i);
        ++cnt[a];
      }
    }
    MPI_Allreduce(MPI_IN_PLACE, sums.data(), d * k, MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, cnt.data(), k, MPI_INT64_T, MPI_SUM, comm);
    double shift = 0;
    for (int j = 0; j < k; ++j) {
      if (cnt[j] == 0) continue;
      const Eigen::VectorXd next = sums.col(j) / static_cast<double>(cnt[j]);
      shift = std::max(shift, (next - c.col(j)).squaredNorm());
      c.col(j) = next;
    }
    r.iterations = it + 1;
    if (tol > 0 && shift <= tol) break;
  }
  // Final assignment: counts and inertia of the returned centroids.
  const NearestCentroid nearest(c);
  std::fill(cnt.begin(), cnt.end(), 0);
  double inertia = 0;
  for (std::int64_t i = 0; i < nloc; ++i) {
    double s = 0;
    ++cnt[nearest(x.col(i).data(), &s, label[i])];
    inertia += s;
  }
  MPI_Allreduce(MPI_IN_PLACE, cnt.data(), k, MPI_INT64_T, MPI_SUM, comm);
  MPI_Allreduce(&inertia, &r.inertia, 1, MPI_DOUBLE, MPI_SUM, comm);
  r.counts = cnt;
  r.centroids = std::move(c);
  return r;
}

}  // namespace msrom::score
