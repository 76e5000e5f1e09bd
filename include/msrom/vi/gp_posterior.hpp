#pragma once
// The Gaussian-process posterior interpolant of amortized reparametrization (method doc section 3; Course &
// Nair 2023): inside a window, the encoder's node values (means mu_i and log-variances log s2_i at the
// snapshot times) are turned into smooth functions m(t), log S(t) with ANALYTIC time derivatives.
//
// Time is the window's normalised time u in [0, 1] (the caller maps t -> u and scales derivatives by du/dt).
// Kernel: RBF on a learned warp,
//
//   phi(u) = u + NN(u)          (an nn::Mlp 1 -> hidden -> 1; its last layer starts at 0, so phi = id)
//   k(u, u') = exp(-(phi(u) - phi(u'))^2 / (2 l^2)),   l = exp(log_lengthscale)
//
// Kernel interpolant of node values V (B nodes x P value columns, e.g. P = [mu | log s2]) at query times v:
//
//   A = K + nu I  (K_ij = k(u_i, u_j), nugget nu),   alpha = A^{-1} V  (Cholesky, Eigen LLT),
//   M(v) = k(v, u) alpha,      dM/dv = k'(v, u) alpha,
//   k'(v, u_i) = d k(v, u_i) / dv = -(phi(v) - phi(u_i)) / l^2 k(v, u_i) phi'(v).
//
// At the nodes M = V - nu alpha: the interpolant reproduces the node values up to the nugget's smoothing.
//
// Back-propagation, for cotangents G_M = dL/dM and G_D = dL/d(dM/dv) (Q x P):
//
//   d alpha = k(v,u)^T G_M + k'(v,u)^T G_D,   dV = A^{-1} d alpha,   dA = -dV alpha^T,   d nu = tr(dA),
//   dk(v,u) = G_M alpha^T,   dk'(v,u) = G_D alpha^T,
//
// then through the kernel entries to phi(u_i), phi(v), phi'(v) and log l (with r = phi - phi', c = 1/l^2,
// E = exp(-c r^2 / 2)):
//
//   dE/dphi = -c r E = -dE/dphi',   dE/dlog l = c r^2 E,
//   D = -c r E phi'(v):  dD/dr = -c phi'(v) E (1 - c r^2),  dD/dphi'(v) = -c r E,
//                        dD/dlog l = -r phi'(v) c E (c r^2 - 2),
//
// and through the warp: a forward-mode (tangent) pass of the Mlp gives phi and phi' together, and its
// reverse pass (which needs the activation's second derivative for phi') gives the warp parameters'
// gradient. The warp reuses nn::Mlp (its parameters and layout); only this dual pass is written here,
// because nn::Mlp's own backward has no tangent.
//
// Parameters (flat, for Adam): [log_lengthscale, warp Mlp params]. The nugget is fixed (a configuration
// value); backward() can also return d/d log nu (used by the tests).
#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "msrom/nn/mlp.hpp"

namespace msrom::vi {

struct GpConfig {
  double lengthscale = 0.05;  // initial l, in normalised window time (a window of 64 snapshots: ~3 spacings)
  double nugget = 1e-2;
  std::vector<int> warp_hidden{32, 32};
  nn::Activation warp_activation = nn::Activation::tanh;  // tanh, swish, leaky_relu or identity
};

// What forward() keeps for backward(); valid until the next forward() into it.
class GpTape {
 public:
  // M (Q x P) and dM/dv (Q x P) of the last forward().
  const Eigen::MatrixXd& mean() const { return M_; }
  const Eigen::MatrixXd& derivative() const { return dM_; }
  const Eigen::VectorXd& phi() const { return phi_; }    // warp at [u; v]
  const Eigen::VectorXd& dphi() const { return dphi_; }  // phi' at [u; v]

 private:
  friend class GpPosterior;
  Eigen::Index B_ = 0, Q_ = 0;
  Eigen::VectorXd phi_, dphi_;
  Eigen::MatrixXd K_, Kq_, Dq_, alpha_, M_, dM_;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  // warp dual pass: per layer the input a_l, its tangent t_l (n_l x N); per hidden layer phi', phi'' of the
  // pre-activation and the pre-activation tangent.
  std::vector<Eigen::MatrixXd> a_, t_, s1_, s2_, zt_;
  // backward scratch
  mutable Eigen::MatrixXd dalpha_, dA_, dKq_, dDq_, gz_, gzt_, ga_, gt_;
  mutable Eigen::VectorXd gphi_, gdphi_;
};

class GpPosterior {
 public:
  GpPosterior() = default;
  // InputError for a non-positive lengthscale or nugget or an activation without a second derivative.
  GpPosterior(const GpConfig& config, std::uint64_t seed);

  Eigen::Index num_params() const { return 1 + warp_.num_params(); }
  void get_params(Eigen::Ref<Eigen::VectorXd> theta) const;
  void set_params(const Eigen::Ref<const Eigen::VectorXd>& theta);
  double lengthscale() const;
  double& log_lengthscale() { return log_l_; }
  double nugget() const { return nugget_; }
  void set_nugget(double nu) { nugget_ = nu; }
  nn::Mlp& warp() { return warp_; }
  const nn::Mlp& warp() const { return warp_; }

  // phi(x) and phi'(x) for times x (both as long as x).
  void warp_values(const Eigen::Ref<const Eigen::VectorXd>& x, Eigen::Ref<Eigen::VectorXd> phi,
                   Eigen::Ref<Eigen::VectorXd> dphi) const;

  // Nodes u (B), queries v (Q), node values V (B x P): tape.mean() = M(v), tape.derivative() = dM/dv.
  // RuntimeError if K + nu I is not positive definite.
  void forward(const Eigen::Ref<const Eigen::VectorXd>& u, const Eigen::Ref<const Eigen::VectorXd>& v,
               const Eigen::Ref<const Eigen::MatrixXd>& V, GpTape& tape) const;
  // Cotangents G_M, G_D (Q x P) -> dV (B x P, OVERWRITTEN; must be sized), grad += dL/dparams (num_params()
  // entries), *dlog_nugget = dL/dlog nu unless null.
  void backward(const GpTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& GM,
                const Eigen::Ref<const Eigen::MatrixXd>& GD, Eigen::Ref<Eigen::MatrixXd> dV,
                Eigen::Ref<Eigen::VectorXd> grad, double* dlog_nugget = nullptr) const;

 private:
  double log_l_ = 0, nugget_ = 1e-2;
  nn::Mlp warp_;
  void warp_forward(const Eigen::Ref<const Eigen::VectorXd>& x, GpTape& tape) const;
};

}  // namespace msrom::vi
