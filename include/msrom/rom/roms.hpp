#pragma once
// The reduced-order models the ensemble engine runs (rom/ensemble.hpp), chosen by -model:
//
//   FILE.h5      the learned Langevin model: drift Phi s(u) with the MLP score, noise Sigma (model.h5
//                from learn-score + learn-drift)
//   ou           analytic Ornstein-Uhlenbeck: s(u) = -u, Phi = -ensemble_phi: stationary N(0, 1); the EM
//                chain's own stationary variance is 1 / (1 - Phi dt / 2), its ACF (1 - Phi dt)^k exactly
//   double_well  analytic s(u) = 2u - u^3 (p ~ exp(u^2 - u^4/4)), Phi = -ensemble_phi
//   homogenised  the bistable system's homogenised SDE (the eps -> 0 limit, physical units):
//                dx = (x - x^3) dt + sqrt(2 D) dW,  D = sigma^2 int_0^inf C_y2(s) ds
//                with C_y2 the autocovariance of the unit-speed Lorenz-63 y2 (eps cancels), computed at
//                construction from a Lorenz-63 run (homogenised_D), sigma = -system_sigma
#include <memory>
#include <string>

#include "msrom/rom/ensemble.hpp"
#include "msrom/rom/langevin.hpp"

namespace msrom::rom {

class LangevinRom final : public Rom {
 public:
  explicit LangevinRom(LangevinModel m) : m_(std::move(m)), mean_(m_.state_mean()), std_(m_.state_std()) {}
  std::string name() const override { return "langevin"; }
  int dim() const override { return m_.dim(); }
  void drift(double t, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) override {
    m_.drift(t, U, F, ws_);
  }
  const Eigen::MatrixXd& noise_factor() const override { return m_.sigma; }
  const Eigen::VectorXd& mean() const override { return mean_; }
  const Eigen::VectorXd& std() const override { return std_; }
  const LangevinModel& model() const { return m_; }

 private:
  LangevinModel m_;
  Eigen::VectorXd mean_, std_;  // of the evolved state (without the clock)
  nn::Workspace ws_;
};

class AnalyticRom final : public Rom {
 public:
  // kind ou, double_well: Phi = phi; homogenised: phi is the diffusion D.
  AnalyticRom(std::string kind, double phi);
  std::string name() const override { return kind_; }
  int dim() const override { return 1; }
  void drift(double, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) override;
  const Eigen::MatrixXd& noise_factor() const override { return sigma_; }
  const Eigen::VectorXd& mean() const override { return zero_; }
  const Eigen::VectorXd& std() const override { return one_; }

 private:
  std::string kind_;
  double phi_;
  Eigen::MatrixXd sigma_;
  Eigen::VectorXd zero_ = Eigen::VectorXd::Zero(1), one_ = Eigen::VectorXd::Ones(1);
};

// -model FILE | ou | double_well (with -ensemble_phi for the analytic ones, -langevin_phi to choose
// generator|acf for a file); reads its options at once so -help lists them.
std::unique_ptr<Rom> make_rom(const std::string& model, const Options& opts);

// D = sigma^2 int_0^max_lag C_y2(s) ds of the unit-speed Lorenz-63 driver (s, rho, b), from a run of length
// `time` (RK4, dt 1e-3, y2 sampled every 0.01).
double homogenised_diffusion(double sigma, double s, double rho, double b, double time = 2e4, double max_lag = 10);

}  // namespace msrom::rom
