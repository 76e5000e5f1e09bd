#pragma once
// The hybrid ROM of Method A (method doc section 4.4): the Langevin drift with the white noise replaced by the
// learned chaotic forcing, a neural ODE integrated alongside. In normalised coordinates, state [u (d rows);
// v (m d rows, the NODE's delay vector, r_hat = its first d rows)]:
//
//   u_{n+1} = u_n + dt Phi s(u_n) + dt (mean_r + g std_r (r_hat_n - mu_k)) + sqrt(2 dt D_w) xi_n
//   v_{n+1} = RK4 of dv/dt = NN_k(v) over dt, in dt / dt_f substeps of the NODE's own step dt_f
//
// since the residual was r = (u_{n+1} - u_n)/dt - Phi s(u_n) = mean_r + std_r r_hat. At dt = dt_f the
// forcing term is the paper's sqrt(2 dt) sigma_L r_hat_n (sigma_L = g std_r sqrt(dt_f / 2), mean_r ~ 0); written
// with std_r it stays right when dt is a multiple of dt_f, because r is a forcing with a finite correlation
// time, whose increment scales with dt (not sqrt(dt) like white noise).
//
// The closure (-forcing_closure; node/learn_forcing.hpp step 6). A NODE trained on short windows gets the
// forcing's fast decay right and the slow tail of its ACF wrong, so its long-run variance S_node falls short of
// what the white noise it replaces supplied (diffusion D of the Langevin model): the slow variable would cross
// barriers exponentially too rarely. mu_k is NODE k's free-run mean (a bias would tilt the wells).
//   white (default)  g = 1, centred on mu_k, plus white noise of the missing diffusion D_w = D - D_node
//                    (D_node = std_r^2 S_node dt_f / 2): the short-term forcing is the residual's own, and
//                    the long-run diffusion is D;
//   gain             g = sqrt(D / D_node), centred, D_w = 0: the paper's single fitted sigma_L = g std_r
//                    sqrt(dt_f / 2); the same long-run diffusion, but every step's forcing is g times too big;
//   none             g = 1, mu = 0, D_w = 0: a data step is reproduced exactly from its true delay vector.
//
// Ensembles: member g runs NODE k = g mod K of the K trained ones, from the data delay vector (g / K) mod
// bank of /forcing/initial_states, and u_0 ~ N(0, 1) from its initial-condition stream. The engine's Euler
// update u + dt F is exact for the NODE rows: F holds the RK4 increment over dt, divided by dt.
#include <memory>

#include "msrom/node/forcing_model.hpp"
#include "msrom/node/node.hpp"
#include "msrom/rom/ensemble.hpp"
#include "msrom/rom/langevin.hpp"

namespace msrom::rom {

class HybridRom final : public Rom {
 public:
  // The Langevin model must use the Phi the residual was taken against (forcing.phi_source; use() is called).
  HybridRom(LangevinModel langevin, node::ForcingModel forcing);
  std::string name() const override { return "hybrid"; }
  int dim() const override { return d_ + f_.state_dim(); }
  int observed_dim() const override { return d_; }
  bool white_noise() const override { return white_; }
  void prepare(std::int64_t begin, std::int64_t count, double dt) override;
  void initial_state(std::int64_t member, const Philox& rng, double* u) const override;
  void drift(double t, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) override;
  const Eigen::MatrixXd& noise_factor() const override { return noise_; }
  const Eigen::VectorXd& mean() const override { return mean_; }
  const Eigen::VectorXd& std() const override { return std_; }
  const LangevinModel& langevin() const { return m_; }
  const node::ForcingModel& forcing() const { return f_; }
  // NODE of member g.
  int node_of(std::int64_t member) const { return static_cast<int>(member % f_.members()); }

 private:
  LangevinModel m_;
  node::ForcingModel f_;
  int d_;
  Eigen::VectorXd mean_, std_, amplitude_;  // amplitude_ = g std_r
  Eigen::MatrixXd noise_;  // sqrt(D_w) on the slow rows' diagonal
  bool white_ = false;
  double dt_ = 0;
  std::int64_t begin_ = 0;
  int substeps_ = 1;
  node::EnsembleStepper stepper_;
  Eigen::MatrixXd v_;
  nn::Workspace ws_;
};

// -forcing_closure: white (default), gain or none.
std::string read_forcing_closure(const Options& o);

// The number of RK4 substeps of size dt_f in a step dt; InputError naming `option` unless dt is a whole
// multiple of dt_f (to 1e-9 relative).
int node_substeps(double dt, double dt_f, const std::string& option);

}  // namespace msrom::rom
