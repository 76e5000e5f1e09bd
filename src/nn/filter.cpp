// The learnable Gaussian filter (include/msrom/nn/filter.hpp): direct sums over the circularly padded
// column, each output one contiguous dot product.
#include "msrom/nn/filter.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
inline Index wrap(Index q, Index n) {
  const Index r = q % n;
  return r < 0 ? r + n : r;
}
void check(const char* who, Index n, Index m, int stride, Index bx, Index bz) {
  if (stride < 1 || n < 1 || n % stride != 0 || n / stride != m || bx != bz)
    throw std::invalid_argument(std::string("nn::GaussianFilter::") + who + ": " + std::to_string(n) +
                                " fine points, " + std::to_string(m) + " coarse, stride " + std::to_string(stride) +
                                " do not match");
}
}  // namespace

GaussianFilter::GaussianFilter(double std0) {
  if (!(std0 > 0) || !std::isfinite(std0) || std0 > 1e7)
    throw InputError("nn::GaussianFilter: the std must be positive and finite, not " + std::to_string(std0));
  p_ = static_cast<int>(std::lround(2 * std0));
  params_[0] = std::log(std0);
}

const VectorXd& GaussianFilter::kernel() const {
  const double sigma = std();
  if (kernel_.size() != width() || cached_std_ != sigma) {
    kernel_.resize(width());
    for (int r = 0; r < width(); ++r) {
      const double d = r - p_;
      kernel_[r] = std::exp(-d * d / (2 * sigma * sigma));
    }
    kernel_ /= kernel_.sum();
    cached_std_ = sigma;
  }
  return kernel_;
}

VectorXd GaussianFilter::kernel_std_derivative() const {
  const VectorXd& g = kernel();
  const double s3 = std() * std() * std();
  VectorXd d2(width());
  for (int r = 0; r < width(); ++r) d2[r] = double(r - p_) * double(r - p_);
  const double mean = g.dot(d2);
  return g.cwiseProduct((d2.array() - mean).matrix()) / s3;
}

const double* GaussianFilter::padded(const double* x, Index n) const {
  if (pad_.size() < n + 2 * p_) pad_.resize(n + 2 * p_);
  double* xp = pad_.data();
  for (Index q = 0; q < n + 2 * p_; ++q) xp[q] = x[wrap(q - p_, n)];
  return xp;
}

void GaussianFilter::apply(const Eigen::Ref<const MatrixXd>& X, int stride, Eigen::Ref<MatrixXd> Z) const {
  check("apply", X.rows(), Z.rows(), stride, X.cols(), Z.cols());
  const VectorXd& g = kernel();
  const Index n = X.rows(), m = Z.rows(), w = width();
  for (Index b = 0; b < X.cols(); ++b) {
    const double* xp = padded(X.col(b).data(), n);
    for (Index j = 0; j < m; ++j) Z(j, b) = g.dot(Eigen::Map<const VectorXd>(xp + stride * j, w));
  }
}

void GaussianFilter::apply_transpose(const Eigen::Ref<const MatrixXd>& Z, int stride, Eigen::Ref<MatrixXd> X) const {
  check("apply_transpose", X.rows(), Z.rows(), stride, X.cols(), Z.cols());
  const VectorXd& g = kernel();
  const Index n = X.rows(), m = Z.rows(), w = width();
  if (pad_.size() < n + 2 * p_) pad_.resize(n + 2 * p_);
  Eigen::Map<VectorXd> xp(pad_.data(), n + 2 * p_);
  for (Index b = 0; b < Z.cols(); ++b) {
    xp.setZero();
    for (Index j = 0; j < m; ++j) xp.segment(stride * j, w) += Z(j, b) * g;
    auto x = X.col(b);
    x = xp.segment(p_, n);
    for (Index q = 0; q < p_; ++q) x[wrap(q - p_, n)] += xp[q];
    for (Index q = n + p_; q < n + 2 * p_; ++q) x[wrap(q - p_, n)] += xp[q];
  }
}

double GaussianFilter::std_gradient(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& dZ,
                                    int stride) const {
  check("std_gradient", X.rows(), dZ.rows(), stride, X.cols(), dZ.cols());
  const Index n = X.rows(), m = dZ.rows(), w = width();
  dg_.setZero(w);
  for (Index b = 0; b < X.cols(); ++b) {
    const double* xp = padded(X.col(b).data(), n);
    for (Index j = 0; j < m; ++j) dg_ += dZ(j, b) * Eigen::Map<const VectorXd>(xp + stride * j, w);
  }
  return std_gradient_of_kernel(dg_);
}

double GaussianFilter::std_gradient_of_kernel(const Eigen::Ref<const VectorXd>& dg) const {
  const VectorXd& g = kernel();
  double gd2 = 0, dgg = 0, dggd2 = 0;
  for (Index r = 0; r < width(); ++r) {
    const double d2 = double(r - p_) * double(r - p_);
    gd2 += g[r] * d2;
    dgg += dg[r] * g[r];
    dggd2 += dg[r] * g[r] * d2;
  }
  const double sigma = std();
  return (dggd2 - gd2 * dgg) / (sigma * sigma * sigma);
}

}  // namespace msrom::nn
