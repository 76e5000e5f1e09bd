#pragma once
// The learnable Gaussian filter of the multiscale model: the encoder's zeta = G_s y (filter, then keep every
// s-th point), the macro decoder's transposed filter, and the sub-filter residual y - G_1 y that feeds the
// eta encoder (docs/vi.md).
//
// Kernel: width w = 2 p + 1 with p = round(2 std_0) fixed at construction ("width 2*2*std+1"), learnable
// std sigma, normalised to sum 1:
//
//   g_r = e_r / sum_q e_q,   e_r = exp(-d_r^2 / (2 sigma^2)),   d_r = r - p,   r = 0..w-1.
//
// Strided circular filter of a field x on n points (n divisible by the stride s), m = n / s outputs:
//
//   (G_s x)_j = sum_r g_r x[(s j + r - p) mod n],   j = 0..m-1          (forward)
//   (G_s^T z)_i = sum_{j, r : (s j + r - p) mod n = i} g_r z_j          (transpose, the exact adjoint)
//
// Derivatives. For a cotangent dZ of Z = G_s X, dg_r = sum_{j, b} dZ(j, b) X((s j + r - p) mod n, b); for
// Y = G_s^T Z with cotangent dY the same sum with the roles swapped, dg_r = sum dY((s j + r - p) mod n, b)
// Z(j, b). Then, with <g d^2> = sum_q g_q d_q^2,
//
//   dg_r / dsigma = g_r (d_r^2 - <g d^2>) / sigma^3,     dLoss/dsigma = sum_r dg_r dg_r/dsigma.
//
// The input cotangents are the other map: dX = G_s^T dZ, dZ = G_s dY.
//
// Fields are single-channel columns, batches are columns (as nn::Mlp). The one parameter is the flat vector
// params() = [log sigma], for Adam: Adam moves a parameter by about its learning rate per step whatever the
// gradient's size, so sigma itself (50 grid points for KdV) would move by ~1 in 1000 steps at lr 1e-3, while
// log sigma changes sigma by a factor e^{0.001} per step (docs/vi.md). log_std_gradient = sigma std_gradient.
// A filter of a constant field is that constant (the kernel sums to 1).
#include <Eigen/Core>

#include <cmath>

namespace msrom::nn {

class GaussianFilter {
 public:
  GaussianFilter() = default;
  // std0 > 0 (InputError otherwise): the initial std, in grid points; it fixes the width.
  explicit GaussianFilter(double std0);

  int half_width() const { return p_; }
  int width() const { return 2 * p_ + 1; }
  double std() const { return std::exp(params_[0]); }
  Eigen::Index num_params() const { return 1; }
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }

  // g (width() entries) for the current std.
  const Eigen::VectorXd& kernel() const;
  // dg/dsigma for the current std.
  Eigen::VectorXd kernel_std_derivative() const;
  // dLoss/dsigma from the kernel's cotangent dg (dLoss/dg_r): sum_r dg_r g_r (d_r^2 - <g d^2>) / sigma^3,
  // without a temporary (also used by the 2-D filter, whose kernel is the outer product of this one).
  double std_gradient_of_kernel(const Eigen::Ref<const Eigen::VectorXd>& dg) const;

  // Z = G_s X: X is n x B, Z must be (n / s) x B (std::invalid_argument otherwise).
  void apply(const Eigen::Ref<const Eigen::MatrixXd>& X, int stride, Eigen::Ref<Eigen::MatrixXd> Z) const;
  // X = G_s^T Z (OVERWRITTEN): Z is m x B, X must be (s m) x B.
  void apply_transpose(const Eigen::Ref<const Eigen::MatrixXd>& Z, int stride, Eigen::Ref<Eigen::MatrixXd> X) const;
  // d <dZ, G_s X> / dsigma, for X (n x B) and dZ ((n / s) x B). The transposed map's derivative is
  // d <dY, G_s^T Z> / dsigma = std_gradient(dY, Z, s).
  double std_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& dZ,
                      int stride) const;
  // The same with respect to the parameter, log sigma: sigma std_gradient.
  double log_std_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& dZ,
                          int stride) const {
    return std() * std_gradient(X, dZ, stride);
  }

 private:
  int p_ = 0;
  Eigen::VectorXd params_ = Eigen::VectorXd::Zero(1);  // log sigma
  // Caches (not for concurrent use of one filter): the kernel of cached_std_, and a padded column.
  mutable Eigen::VectorXd kernel_, pad_, dg_;
  mutable double cached_std_ = 0;
  const double* padded(const double* x, Eigen::Index n) const;
};

}  // namespace msrom::nn
