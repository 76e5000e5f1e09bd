// DMD and POD-SINDy baselines of the multiscale-model table (include/msrom/analysis/reduced_baselines.hpp).
#include "msrom/analysis/reduced_baselines.hpp"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <cmath>
#include <functional>
#include <string>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

namespace msrom::analysis {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
// Fields up to this many points get the dense eigensolver of their n x n covariance (O(n^3)); larger ones
// (2-D fields: 128^2 = 16384 points, where that takes hours) block subspace iteration.
constexpr Index kDenseModes = 1024;

// Makes the largest-magnitude entry of every column positive (a deterministic basis).
void fix_signs(MatrixXd& U) {
  for (Index j = 0; j < U.cols(); ++j) {
    Index i = 0;
    U.col(j).cwiseAbs().maxCoeff(&i);
    if (U(i, j) < 0) U.col(j) = -U.col(j);
  }
}

}  // namespace

// pod_modes, larger n: block subspace iteration on r + 8 vectors, C applied as sum_k X_k (X_k^T Q), with
// Rayleigh-Ritz every step, until every wanted Ritz pair has a residual <= 1e-10 lambda_1; the start block is
// Philox-drawn, so the result is deterministic.
MatrixXd pod_modes(const FieldTrajectories& train, const std::function<Index(const MatrixXd&)>& cols,
                   const VectorXd* centre, int r) {
  const Index n = train[0].rows();
  auto block = [&](const MatrixXd& u) -> MatrixXd {
    const Index m = cols(u);
    if (centre) return u.leftCols(m).colwise() - *centre;
    return u.leftCols(m);
  };
  if (n <= kDenseModes) {
    MatrixXd C = MatrixXd::Zero(n, n);
    for (const auto& u : train) C.selfadjointView<Eigen::Lower>().rankUpdate(block(u));
    C = C.selfadjointView<Eigen::Lower>();
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(C);
    MatrixXd U(n, r);
    for (int j = 0; j < r; ++j) U.col(j) = es.eigenvectors().col(n - 1 - j);
    fix_signs(U);
    return U;
  }
  const Index b = std::min<Index>(n, r + 8);
  auto apply = [&](const MatrixXd& Q) {
    MatrixXd W = MatrixXd::Zero(n, Q.cols());
    for (const auto& u : train) {
      const MatrixXd X = block(u);
      W.noalias() += X * (X.transpose() * Q);
    }
    return W;
  };
  MatrixXd Q(n, b);
  Philox(20261123, 0, Purpose::perturbation).normals(0, Q.data(), static_cast<std::size_t>(Q.size()));
  Q = Eigen::HouseholderQR<MatrixXd>(Q).householderQ() * MatrixXd::Identity(n, b);
  MatrixXd U(n, r);
  for (int it = 0;; ++it) {
    const MatrixXd W = apply(Q);
    const MatrixXd T = Q.transpose() * W;
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(0.5 * (T + T.transpose()));
    const MatrixXd V = es.eigenvectors().rowwise().reverse();  // largest first
    const VectorXd lambda = es.eigenvalues().reverse();
    U = Q * V.leftCols(r);
    const MatrixXd R = W * V.leftCols(r) - U * lambda.head(r).asDiagonal();
    const double worst = R.colwise().norm().maxCoeff();
    if (worst <= 1e-10 * std::max(lambda[0], 1e-300) || it == 500) {
      if (it == 500) throw RuntimeError("POD modes: subspace iteration did not converge in 500 steps");
      break;
    }
    Q = Eigen::HouseholderQR<MatrixXd>(W * V).householderQ() * MatrixXd::Identity(n, b);
  }
  fix_signs(U);
  return U;
}

Dmd::Dmd(const FieldTrajectories& train, int rank, double tikhonov) {
  if (train.empty()) throw InputError("DMD: no training trajectories");
  const Index n = train[0].rows();
  Index pairs = 0;
  for (const auto& u : train) {
    if (u.rows() != n) throw InputError("DMD: trajectories on different grids");
    pairs += std::max<Index>(0, u.cols() - 1);
  }
  if (pairs == 0) throw InputError("DMD: no snapshot pairs");
  if (rank < 1 || rank > n) throw InputError("-dmd_rank: must be in [1, " + std::to_string(n) + "] (got " + std::to_string(rank) + ")");
  if (!(tikhonov >= 0)) throw InputError("-dmd_tikhonov: must be >= 0");
  U_ = pod_modes(train, [](const MatrixXd& u) { return u.cols() - 1; }, nullptr, rank);
  MatrixXd Sxx = MatrixXd::Zero(rank, rank), Syx = MatrixXd::Zero(rank, rank);
  for (const auto& u : train) {
    if (u.cols() < 2) continue;
    const MatrixXd a = U_.transpose() * u;
    const Index m = a.cols() - 1;
    Sxx.noalias() += a.leftCols(m) * a.leftCols(m).transpose();
    Syx.noalias() += a.rightCols(m) * a.leftCols(m).transpose();
  }
  Sxx.diagonal().array() += tikhonov;
  // A = Syx Sxx^{-1}: solve Sxx^T A^T = Syx^T.
  A_ = Sxx.transpose().completeOrthogonalDecomposition().solve(Syx.transpose()).transpose();
}

Eigen::VectorXcd Dmd::eigenvalues() const {
  return Eigen::EigenSolver<MatrixXd>(A_, false).eigenvalues();
}

MatrixXd Dmd::predict(const VectorXd& y0, Index nt) const {
  MatrixXd Y(U_.rows(), nt);
  VectorXd a = U_.transpose() * y0;
  for (Index n = 0; n < nt; ++n) {
    if (n > 0) a = A_ * a;
    Y.col(n) = U_ * a;
  }
  return Y;
}

std::vector<std::vector<int>> PodSindy::make_monomials(int dim, int degree) {
  std::vector<std::vector<int>> out;
  std::vector<int> k(static_cast<std::size_t>(dim), 0);
  // Graded: degree 0, 1, ..., p; within a degree, lexicographic descending in (k_1, k_2, ...).
  for (int d = 0; d <= degree; ++d) {
    std::function<void(int, int)> rec = [&](int i, int left) {
      if (i == dim - 1) {
        k[static_cast<std::size_t>(i)] = left;
        out.push_back(k);
        return;
      }
      for (int e = left; e >= 0; --e) {
        k[static_cast<std::size_t>(i)] = e;
        rec(i + 1, left - e);
      }
    };
    if (dim == 0) break;
    rec(0, d);
  }
  return out;
}

VectorXd PodSindy::library(const VectorXd& a) const {
  VectorXd th(static_cast<Index>(monomials_.size()));
  for (std::size_t t = 0; t < monomials_.size(); ++t) {
    double v = 1;
    for (Index i = 0; i < a.size(); ++i)
      for (int e = 0; e < monomials_[t][static_cast<std::size_t>(i)]; ++e) v *= a[i];
    th[static_cast<Index>(t)] = v;
  }
  return th;
}

VectorXd PodSindy::rhs(const VectorXd& a) const {
  return Xi_.transpose() * library(a);
}

MatrixXd PodSindy::stlsq(const MatrixXd& Theta, const MatrixXd& dA, double threshold, int rounds) {
  MatrixXd Xi = Theta.completeOrthogonalDecomposition().solve(dA);
  for (int round = 0; round < rounds; ++round) {
    bool changed = false;
    for (Index j = 0; j < Xi.cols(); ++j) {
      std::vector<Index> keep;
      for (Index t = 0; t < Xi.rows(); ++t) {
        if (std::abs(Xi(t, j)) < threshold) {
          changed = changed || Xi(t, j) != 0;
          Xi(t, j) = 0;
        } else {
          keep.push_back(t);
        }
      }
      if (keep.empty()) continue;
      MatrixXd sub(Theta.rows(), static_cast<Index>(keep.size()));
      for (std::size_t q = 0; q < keep.size(); ++q) sub.col(static_cast<Index>(q)) = Theta.col(keep[q]);
      const VectorXd x = sub.completeOrthogonalDecomposition().solve(dA.col(j));
      for (std::size_t q = 0; q < keep.size(); ++q) Xi(keep[q], j) = x[static_cast<Index>(q)];
    }
    if (!changed && round > 0) break;
  }
  return Xi;
}

PodSindy::PodSindy(const FieldTrajectories& train, double dt, int pod_dim, int degree, double threshold) : dt_(dt) {
  if (train.empty()) throw InputError("POD-SINDy: no training trajectories");
  const Index n = train[0].rows();
  if (pod_dim < 1 || pod_dim > n)
    throw InputError("-sindy_pod_dim: must be in [1, " + std::to_string(n) + "] (got " + std::to_string(pod_dim) + ")");
  if (degree < 0 || degree > 5) throw InputError("-sindy_degree: must be in [0, 5]");
  if (!(threshold >= 0)) throw InputError("-sindy_threshold: must be >= 0");
  if (!(dt > 0)) throw InputError("POD-SINDy: the snapshot interval must be > 0");
  Index N = 0, samples = 0;
  ybar_ = VectorXd::Zero(n);
  for (const auto& u : train) {
    if (u.rows() != n || u.cols() < 5) throw InputError("POD-SINDy: trajectories need >= 5 snapshots on one grid");
    ybar_ += u.rowwise().sum();
    N += u.cols();
    samples += u.cols() - 4;
  }
  ybar_ /= double(N);
  U_ = pod_modes(train, [](const MatrixXd& u) { return u.cols(); }, &ybar_, pod_dim);
  monomials_ = make_monomials(pod_dim, degree);
  const Index T = static_cast<Index>(monomials_.size());
  MatrixXd Theta(samples, T), dA(samples, pod_dim);
  Index row = 0;
  for (const auto& u : train) {
    const MatrixXd a = U_.transpose() * (u.colwise() - ybar_);
    for (Index i = 2; i + 2 < a.cols(); ++i, ++row) {
      dA.row(row) = ((8.0 * (a.col(i + 1) - a.col(i - 1)) - (a.col(i + 2) - a.col(i - 2))) / (12.0 * dt)).transpose();
      Theta.row(row) = library(a.col(i)).transpose();
    }
  }
  Xi_ = stlsq(Theta, dA, threshold);
}

MatrixXd PodSindy::predict(const VectorXd& y0, Index nt, int substeps) const {
  MatrixXd Y(U_.rows(), nt);
  VectorXd a = U_.transpose() * (y0 - ybar_);
  const double h = dt_ / substeps;
  for (Index n = 0; n < nt; ++n) {
    if (n > 0) {
      for (int s = 0; s < substeps; ++s) {
        const VectorXd k1 = rhs(a), k2 = rhs(a + 0.5 * h * k1), k3 = rhs(a + 0.5 * h * k2), k4 = rhs(a + h * k3);
        a += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
      }
      if (!a.allFinite() || a.norm() > 1e100) {
        Y.rightCols(nt - n).setConstant(std::nan(""));
        return Y;
      }
    }
    Y.col(n) = ybar_ + U_ * a;
  }
  return Y;
}

}  // namespace msrom::analysis
