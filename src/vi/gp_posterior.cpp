// The GP posterior interpolant with a warped RBF kernel (include/msrom/vi/gp_posterior.hpp).
#include "msrom/vi/gp_posterior.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

constexpr double kLeakySlope = 0.01;  // nn::Mlp's

// sigma(z), sigma'(z), sigma''(z), in place: z <- sigma(z).
void activate2(nn::Activation act, MatrixXd& z, MatrixXd& s1, MatrixXd& s2) {
  s1.resize(z.rows(), z.cols());
  s2.resize(z.rows(), z.cols());
  auto x = z.array();
  switch (act) {
    case nn::Activation::tanh:
      x = x.tanh();
      s1.array() = 1.0 - x.square();
      s2.array() = -2.0 * x * s1.array();
      break;
    case nn::Activation::swish: {
      // sg = sigmoid(z): phi = z sg, phi' = sg + z sg (1 - sg), phi'' = sg (1 - sg) (2 + z (1 - 2 sg))
      const Eigen::ArrayXXd sg = 1.0 / (1.0 + (-x).exp());
      s1.array() = sg + x * sg * (1.0 - sg);
      s2.array() = sg * (1.0 - sg) * (2.0 + x * (1.0 - 2.0 * sg));
      x = x * sg;
      break;
    }
    case nn::Activation::leaky_relu:
      s1.array() = (x > 0.0).cast<double>() * (1.0 - kLeakySlope) + kLeakySlope;
      s2.setZero();
      x = (x > 0.0).select(x, kLeakySlope * x);
      break;
    case nn::Activation::identity:
      s1.setOnes();
      s2.setZero();
      break;
  }
}

}  // namespace

GpPosterior::GpPosterior(const GpConfig& config, std::uint64_t seed) {
  if (!(config.lengthscale > 0) || !std::isfinite(config.lengthscale))
    throw InputError("vi::GpPosterior: the lengthscale must be positive, not " + std::to_string(config.lengthscale));
  if (!(config.nugget > 0) || !std::isfinite(config.nugget))
    throw InputError("vi::GpPosterior: the nugget must be positive, not " + std::to_string(config.nugget));
  log_l_ = std::log(config.lengthscale);
  nugget_ = config.nugget;
  std::vector<int> widths{1};
  widths.insert(widths.end(), config.warp_hidden.begin(), config.warp_hidden.end());
  widths.push_back(1);
  warp_ = nn::Mlp(widths, config.warp_activation, seed);
  // phi = identity at the start: the last layer's weight (and bias) are 0.
  const int L = warp_.num_layers();
  warp_.weight(L - 1).setZero();
  warp_.bias(L - 1).setZero();
}

void GpPosterior::get_params(Eigen::Ref<VectorXd> theta) const {
  if (theta.size() != num_params()) throw std::invalid_argument("vi::GpPosterior::get_params: wrong size");
  theta[0] = log_l_;
  theta.tail(warp_.num_params()) = warp_.params();
}

void GpPosterior::set_params(const Eigen::Ref<const VectorXd>& theta) {
  if (theta.size() != num_params()) throw std::invalid_argument("vi::GpPosterior::set_params: wrong size");
  log_l_ = theta[0];
  warp_.params() = theta.tail(warp_.num_params());
}

double GpPosterior::lengthscale() const {
  return std::exp(log_l_);
}

// Dual (value + tangent) pass of the warp network at the times x: phi = x + y, phi' = 1 + y'.
void GpPosterior::warp_forward(const Eigen::Ref<const VectorXd>& x, GpTape& tape) const {
  const int L = warp_.num_layers();
  const Index N = x.size();
  tape.a_.resize(L);
  tape.t_.resize(L);
  tape.s1_.resize(L - 1);
  tape.s2_.resize(L - 1);
  tape.zt_.resize(L - 1);
  tape.a_[0] = x.transpose();
  tape.t_[0].setOnes(1, N);
  MatrixXd z, zt;
  for (int l = 0; l < L; ++l) {
    z.noalias() = warp_.weight(l) * tape.a_[l];
    z.colwise() += warp_.bias(l);
    zt.noalias() = warp_.weight(l) * tape.t_[l];
    if (l + 1 < L) {
      activate2(warp_.activation(), z, tape.s1_[l], tape.s2_[l]);
      tape.a_[l + 1] = z;
      tape.zt_[l] = zt;
      tape.t_[l + 1] = tape.s1_[l].cwiseProduct(zt);
    } else {
      tape.phi_ = x + z.row(0).transpose();
      tape.dphi_ = (1.0 + zt.row(0).transpose().array()).matrix();
    }
  }
}

void GpPosterior::warp_values(const Eigen::Ref<const VectorXd>& x, Eigen::Ref<VectorXd> phi,
                              Eigen::Ref<VectorXd> dphi) const {
  GpTape tape;
  warp_forward(x, tape);
  phi = tape.phi_;
  dphi = tape.dphi_;
}

void GpPosterior::forward(const Eigen::Ref<const VectorXd>& u, const Eigen::Ref<const VectorXd>& v,
                          const Eigen::Ref<const MatrixXd>& V, GpTape& tape) const {
  const Index B = u.size(), Q = v.size();
  if (B < 1 || V.rows() != B)
    throw std::invalid_argument("vi::GpPosterior::forward: " + std::to_string(B) + " nodes but " +
                                std::to_string(V.rows()) + " rows of node values");
  tape.B_ = B;
  tape.Q_ = Q;
  VectorXd x(B + Q);
  x << u, v;
  warp_forward(x, tape);
  const auto pu = tape.phi_.head(B);
  const auto pv = tape.phi_.tail(Q);
  const auto dpv = tape.dphi_.tail(Q);
  const double c = std::exp(-2 * log_l_);

  tape.K_.resize(B, B);
  for (Index j = 0; j < B; ++j)
    for (Index i = 0; i < B; ++i) {
      const double r = pu[i] - pu[j];
      tape.K_(i, j) = std::exp(-0.5 * c * r * r);
    }
  MatrixXd A = tape.K_;
  A.diagonal().array() += nugget_;
  tape.llt_.compute(A);
  if (tape.llt_.info() != Eigen::Success)
    throw RuntimeError("vi::GpPosterior: K + nugget I is not positive definite (nugget " + std::to_string(nugget_) +
                       ")");
  tape.alpha_ = tape.llt_.solve(V);

  tape.Kq_.resize(Q, B);
  tape.Dq_.resize(Q, B);
  for (Index i = 0; i < B; ++i)
    for (Index q = 0; q < Q; ++q) {
      const double r = pv[q] - pu[i];
      const double E = std::exp(-0.5 * c * r * r);
      tape.Kq_(q, i) = E;
      tape.Dq_(q, i) = -c * r * E * dpv[q];
    }
  tape.M_.noalias() = tape.Kq_ * tape.alpha_;
  tape.dM_.noalias() = tape.Dq_ * tape.alpha_;
}

void GpPosterior::backward(const GpTape& tape, const Eigen::Ref<const MatrixXd>& GM,
                           const Eigen::Ref<const MatrixXd>& GD, Eigen::Ref<MatrixXd> dV, Eigen::Ref<VectorXd> grad,
                           double* dlog_nugget) const {
  const Index B = tape.B_, Q = tape.Q_, P = tape.alpha_.cols();
  if (GM.rows() != Q || GM.cols() != P || GD.rows() != Q || GD.cols() != P || dV.rows() != B || dV.cols() != P ||
      grad.size() != num_params())
    throw std::invalid_argument("vi::GpPosterior::backward: shapes do not match the forward pass");
  const double c = std::exp(-2 * log_l_);
  const auto pu = tape.phi_.head(B);
  const auto pv = tape.phi_.tail(Q);
  const auto dpv = tape.dphi_.tail(Q);

  tape.dalpha_.noalias() = tape.Kq_.transpose() * GM;
  tape.dalpha_.noalias() += tape.Dq_.transpose() * GD;
  dV = tape.llt_.solve(tape.dalpha_);
  tape.dA_.noalias() = -dV * tape.alpha_.transpose();
  if (dlog_nugget) *dlog_nugget = nugget_ * tape.dA_.trace();
  tape.dKq_.noalias() = GM * tape.alpha_.transpose();
  tape.dDq_.noalias() = GD * tape.alpha_.transpose();

  tape.gphi_.setZero(B + Q);
  tape.gdphi_.setZero(B + Q);
  double glogl = 0;
  for (Index j = 0; j < B; ++j)
    for (Index i = 0; i < B; ++i) {
      const double r = pu[i] - pu[j], E = tape.K_(i, j), g = tape.dA_(i, j);
      tape.gphi_[i] -= g * c * r * E;
      tape.gphi_[j] += g * c * r * E;
      glogl += g * c * r * r * E;
    }
  for (Index i = 0; i < B; ++i)
    for (Index q = 0; q < Q; ++q) {
      const double r = pv[q] - pu[i], E = tape.Kq_(q, i), gk = tape.dKq_(q, i), gd = tape.dDq_(q, i);
      const double dDdr = -c * dpv[q] * E * (1 - c * r * r);
      const double dr = -gk * c * r * E + gd * dDdr;  // dL/dr of both entries
      tape.gphi_[B + q] += dr;
      tape.gphi_[i] -= dr;
      tape.gdphi_[B + q] += gd * (-c * r * E);
      glogl += gk * c * r * r * E - gd * r * dpv[q] * c * E * (c * r * r - 2);
    }
  grad[0] += glogl;

  // Reverse of the warp's dual pass; cotangents of y = phi - x and y' = phi' - 1.
  const int L = warp_.num_layers();
  auto gw = grad.tail(warp_.num_params());
  tape.gz_ = tape.gphi_.transpose();
  tape.gzt_ = tape.gdphi_.transpose();
  for (int l = L - 1; l >= 0; --l) {
    Eigen::Map<MatrixXd> gW(gw.data() + warp_.weight_offset(l), warp_.widths()[l + 1], warp_.widths()[l]);
    gW.noalias() += tape.gz_ * tape.a_[l].transpose();
    gW.noalias() += tape.gzt_ * tape.t_[l].transpose();
    gw.segment(warp_.bias_offset(l), warp_.widths()[l + 1]) += tape.gz_.rowwise().sum();
    if (l > 0) {
      tape.ga_.noalias() = warp_.weight(l).transpose() * tape.gz_;
      tape.gt_.noalias() = warp_.weight(l).transpose() * tape.gzt_;
      // a_l = sigma(z_{l-1}), t_l = sigma'(z_{l-1}) zt_{l-1}
      tape.gz_ =
          tape.ga_.cwiseProduct(tape.s1_[l - 1]) + tape.gt_.cwiseProduct(tape.s2_[l - 1]).cwiseProduct(tape.zt_[l - 1]);
      tape.gzt_ = tape.gt_.cwiseProduct(tape.s1_[l - 1]);
    }
  }
}

}  // namespace msrom::vi
