#pragma once
// The evidence lower bound of amortized reparametrization (Course & Nair 2023; method doc section 3) for the
// multiscale model (vi::MsdeModel), one window of B consecutive snapshots y_1..y_B at times t_1..t_B, and
// its exact gradient with respect to every model parameter by back-propagation.
//
//   node values:   mu_i = encoder mean of y_i,   log s2_i = log softplus(rho_enc)          (D each)
//   posterior:     m(t), log S(t) = GP interpolants of (mu_i), (log s2_i) (vi::GpPosterior) on the window's
//                  normalised time u = (t - t_1) / T, T = t_B - t_1, so d/dt = (1/T) d/du
//   sample:        z_i = m(t_i) + sqrt(S(t_i)) .* eps_i,   eps_i ~ N(0, I_D)  (one reparametrised sample)
//
//   ELBO = sum_i log p(y_i | z_i)  -  beta * (w/2) sum_i || r_i ||^2_{Sigma^{-1}}
//
//   r_i = A_i .* (m_i - z_i) + dm/dt(t_i) - f_theta(z_i),   A_i = 1/2 (Sigma ./ S_i - dlogS/dt(t_i)),
//   Sigma = g.^2 (the prior's diffusion), w = T / (B - 1) (the drift-residual integral over the window by
//   its time stamps; windows that tile a trajectory add up to the trajectory's integral).
//
// beta is the KL-annealing factor (the drift-residual term IS the path-space KL between the posterior and
// the prior SDE, up to terms without parameters). log p(y | z) is the product-of-experts Gaussian of
// msde_model.hpp, -1/2 sum_p [ (y_p - mean_p)^2 / s2_p + log(2 pi s2_p) ].
//
// Gradient (reverse mode, see docs/vi.md for every step): likelihood -> decoders and z; residual ->
// drift MLPs, Sigma, and z, m, S, dm/dt, dlogS/dt; z -> m, S; then GP -> node values; node values ->
// encoder (filter, CNN, linear, variances). Everything in the flat layout of MsdeModel::get_params.
//
// MULTIPLE SHOOTING (optional, beyond the paper; docs/vi.md section 4): with horizon K > 0 the window's encoder
// means mu_i, i = 1, 1 + stride, ... <= B - K, are each integrated K snapshot intervals by the deterministic
// part of the prior, Heun's scheme (RK2) with `substeps` steps of h = w / substeps per interval, Z_0 = mu_i, and
// scored against the means they should reach:
//
//   shooting = (lambda stride/2) sum_{k=1..K} sum_i || Z_k(mu_i) - mu_{i+k} ||^2_{(k w Sigma)^-1}
//   ELBO     = sum_i log p(y_i | z_i)  -  beta * (drift_residual + shooting)
//
// (k w Sigma is the variance the prior SDE gives a k-interval transition.) The ELBO's own drift term sees the
// drift one time stamp at a time; this one sees its error accumulated along the window, the phase and shape
// drift of long rollouts. Its gradient flows into the drift and the encoder (through mu); Sigma enters as a
// constant (no gradient into the diffusion from this term).
//
// An Elbo object owns the tapes and buffers of one window; they only grow, so after the first window of a
// given size evaluations allocate (almost) nothing. Not for concurrent use; one per thread.
#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "msrom/nn/grid_layers.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/vi/gp_posterior.hpp"
#include "msrom/vi/msde_model.hpp"

namespace msrom::vi {

struct ElboTerms {
  double log_likelihood = 0;  // sum_i log p(y_i | z_i)
  double drift_residual = 0;  // (w/2) sum_i ||r_i||^2_{Sigma^-1}  (before beta)
  double shooting = 0;        // the multiple-shooting term (before beta; 0 when off)
  double elbo = 0;            // log_likelihood - beta (drift_residual + shooting)
};

struct ShootingOptions {
  int horizon = 0;      // K snapshot intervals (0: off; a window of B snapshots uses min(K, B - 1))
  int substeps = 1;     // Heun steps per snapshot interval
  int stride = 1;       // start from every stride-th snapshot of the window (the cost is K substeps B / stride
                        // drift evaluations forward and backward); the sum is scaled by stride, so it estimates
                        // the sum over every start
  double weight = 1.0;  // lambda
};

// eps (D x B): the standard Gaussians of one window, Philox(seed, 2^40 + 32, training) at counter `step`,
// column-major (component j = d + D i). Training uses step = iteration * windows_per_step + window slot.
void draw_eps(std::uint64_t seed, std::uint64_t step, Eigen::Ref<Eigen::MatrixXd> eps);

class Elbo {
 public:
  // The multiple-shooting term of every later evaluate() (off by default).
  void set_shooting(const ShootingOptions& s);
  const ShootingOptions& shooting() const { return shoot_; }

  // Y: n_y x B (B >= 2 snapshots of one window), t: B increasing times, eps: D x B. Value only.
  ElboTerms evaluate(const MsdeModel& model, const Eigen::Ref<const Eigen::MatrixXd>& Y,
                     const Eigen::Ref<const Eigen::VectorXd>& t, const Eigen::Ref<const Eigen::MatrixXd>& eps,
                     double beta);
  // The same, and grad += scale * dELBO/dtheta (model.num_params() entries, flat layout).
  ElboTerms evaluate(const MsdeModel& model, const Eigen::Ref<const Eigen::MatrixXd>& Y,
                     const Eigen::Ref<const Eigen::VectorXd>& t, const Eigen::Ref<const Eigen::MatrixXd>& eps,
                     double beta, Eigen::Ref<Eigen::VectorXd> grad, double scale = 1.0);

  // The posterior at the window's time stamps, from the last evaluate(): D x B each.
  const Eigen::MatrixXd& m() const { return m_; }
  const Eigen::MatrixXd& S() const { return S_; }
  const Eigen::MatrixXd& dm_dt() const { return dm_; }
  const Eigen::MatrixXd& dlogS_dt() const { return dlS_; }
  const Eigen::MatrixXd& z() const { return z_; }
  const Eigen::MatrixXd& encoder_mean() const { return mu_; }     // node means mu_i (D x B)
  const Eigen::MatrixXd& decoder_mean() const { return ymean_; }  // n_y x B
  const Eigen::MatrixXd& drift() const { return f_; }             // f_theta(z_i), D x B

 private:
  ElboTerms run(const MsdeModel& model, const Eigen::Ref<const Eigen::MatrixXd>& Y,
                const Eigen::Ref<const Eigen::VectorXd>& t, const Eigen::Ref<const Eigen::MatrixXd>& eps, double beta,
                Eigen::VectorXd* grad);

  double shooting_forward(const MsdeModel& model, const Eigen::Ref<const Eigen::VectorXd>& t, double w);
  void shooting_backward(const MsdeModel& model, double w, double beta, Eigen::VectorXd& G);
  void shooting_error(Eigen::Index k, const Eigen::MatrixXd& Z, Eigen::MatrixXd& E) const;  // Z_k - mu_{i + k}

  ShootingOptions shoot_;
  // forward state
  Eigen::MatrixXd mu_, Gy_, R_, V_, m_, lS_, S_, sq_, dm_, dlS_, z_, Dz_, De_, ymean_, f_, r_, A_;
  Eigen::VectorXd u_, a_, b_, s2_, cc_, Sigma_, g_;
  std::vector<nn::GridConvTape> enc_tapes_, dec_tapes_;
  EtaTape enc_eta_tape_, dec_eta_tape_;
  DriftTape drift_tape_;
  std::vector<DriftTape> shoot_tapes_;  // 2 per Heun step
  std::vector<Eigen::MatrixXd> shoot_z_;  // Z after each Heun step (Z_0 = mu's first B - K columns)
  Eigen::MatrixXd shoot_f1_, shoot_f2_, shoot_p_, shoot_g_, shoot_gp_, shoot_gf_;
  Eigen::VectorXd shoot_t_, shoot_tj_;  // the starts' times, and after j steps
  GpTape gp_tape_;
  // backward buffers
  Eigen::MatrixXd gy_, gh_, gtmp_, gz_, gm_, glS_, gdm_, gdlS_, gf_, GM_, GD_, dV_, gmu_;
  Eigen::VectorXd grad_local_;
  nn::Workspace ws_;
};

}  // namespace msrom::vi
