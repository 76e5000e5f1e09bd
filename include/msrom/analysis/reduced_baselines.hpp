#pragma once
// The reduced-order baselines of the multiscale-model table (Ilersich & Nair 2025, Table 1; issue 7):
// DMD and POD-SINDy, fitted on the training trajectories of a field data set and predicted from y_0.
//
// DMD (rank r, Tikhonov lambda), on snapshot pairs (y_n, y_{n+1}) of every training trajectory:
//   U_r     = the r leading eigenvectors of X X^T (POD modes of the uncentred snapshots X)
//   A_x = U_r^T X, A_y = U_r^T Y (the pairs' first and second members)
//   A       = A_y A_x^T (A_x A_x^T + lambda I)^{-1}            (r x r, the reduced linear map)
//   y_hat_n = U_r A^n U_r^T y_0
// lambda is absolute (in the data's units squared times snapshots); the paper's 0.01 is negligible for
// the 1-D cases. For data of an exactly linear map y_{n+1} = M y_n with rank(X) <= r and lambda = 0, the
// eigenvalues of A are those of M on the data's span, and the prediction is exact.
//
// POD-SINDy (POD dimension r, polynomial library of degree p, STLSQ threshold tau):
//   ybar = mean snapshot,  U_r = leading eigenvectors of the centred snapshots' covariance
//   a(t) = U_r^T (y(t) - ybar);  da/dt by 4th-order central differences inside each trajectory
//   Theta(a) = every monomial a^k with |k| <= p (1, a_1, ..., a_1^2, a_1 a_2, ..., in graded
//              lexicographic order: monomials() lists the exponents)
//   Xi = argmin ||Theta Xi - dA||, then STLSQ (Brunton et al. 2016): 10 rounds of zeroing |Xi| < tau and
//        refitting each column on its remaining terms
//   prediction: RK4 of da/dt = Xi^T Theta(a) with `substeps` steps per snapshot interval from
//               a_0 = U_r^T (y_0 - ybar);  y_hat = ybar + U_r a   (NaN after a blow-up)
#include <Eigen/Core>

#include <functional>
#include <vector>

namespace msrom::analysis {

// Snapshots as columns (n x nt), all trajectories on the same uniform time axis.
using FieldTrajectories = std::vector<Eigen::MatrixXd>;

// The r leading POD modes (eigenvectors of the snapshot covariance C = sum_k X_k X_k^T, largest eigenvalue
// first, the largest-magnitude entry of each positive), X_k = the first cols(train[k]) columns of train[k],
// minus `centre` when given. Dense eigensolver up to 1024 points; beyond, block subspace iteration (C never
// formed) to residuals ||C u - lambda u|| <= 1e-10 lambda_1, deterministic (2-D fields: 16384 points).
Eigen::MatrixXd pod_modes(const FieldTrajectories& train, const std::function<Eigen::Index(const Eigen::MatrixXd&)>& cols,
                          const Eigen::VectorXd* centre, int r);

class Dmd {
 public:
  Dmd() = default;
  // InputError for rank < 1 or above the number of snapshots/points, lambda < 0, or no snapshot pairs.
  Dmd(const FieldTrajectories& train, int rank, double tikhonov);
  const Eigen::MatrixXd& modes() const { return U_; }    // n x r
  const Eigen::MatrixXd& reduced() const { return A_; }  // r x r
  Eigen::VectorXcd eigenvalues() const;
  // y_hat (n x nt) from y0.
  Eigen::MatrixXd predict(const Eigen::VectorXd& y0, Eigen::Index nt) const;

 private:
  Eigen::MatrixXd U_, A_;
};

class PodSindy {
 public:
  PodSindy() = default;
  // dt: the snapshot interval. InputError for invalid sizes, trajectories shorter than 5 snapshots.
  PodSindy(const FieldTrajectories& train, double dt, int pod_dim, int degree, double threshold);
  // The exponents of every library term, in order (terms x r).
  const std::vector<std::vector<int>>& monomials() const { return monomials_; }
  const Eigen::MatrixXd& coefficients() const { return Xi_; }  // terms x r
  const Eigen::MatrixXd& modes() const { return U_; }         // n x r
  const Eigen::VectorXd& mean() const { return ybar_; }
  Eigen::VectorXd library(const Eigen::VectorXd& a) const;
  Eigen::VectorXd rhs(const Eigen::VectorXd& a) const;  // Xi^T Theta(a)
  Eigen::MatrixXd predict(const Eigen::VectorXd& y0, Eigen::Index nt, int substeps = 10) const;

  // The STLSQ solve on its own: Theta (samples x terms), dA (samples x r).
  static Eigen::MatrixXd stlsq(const Eigen::MatrixXd& Theta, const Eigen::MatrixXd& dA, double threshold,
                               int rounds = 10);
  static std::vector<std::vector<int>> make_monomials(int dim, int degree);

 private:
  Eigen::MatrixXd U_, Xi_;
  Eigen::VectorXd ybar_;
  double dt_ = 1;
  std::vector<std::vector<int>> monomials_;
};

}  // namespace msrom::analysis
