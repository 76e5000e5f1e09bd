#include "msrom/rom/roms.hpp"

#include <cmath>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/analysis/statistics.hpp"
#include "msrom/core/options.hpp"
#include "msrom/rom/hybrid.hpp"
#include "msrom/systems/lorenz_driver.hpp"

namespace msrom::rom {

AnalyticRom::AnalyticRom(std::string kind, double phi) : kind_(std::move(kind)), phi_(phi) {
  sigma_ = Eigen::MatrixXd::Constant(1, 1, std::sqrt(phi));
}

void AnalyticRom::drift(double, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) {
  if (kind_ == "ou") {
    F = -phi_ * U;
  } else if (kind_ == "homogenised") {
    F = (U.array() - U.array().cube()).matrix();
  } else {
    F = phi_ * (2.0 * U.array() - U.array().cube()).matrix();
  }
}

std::unique_ptr<Rom> make_rom(const std::string& model, const Options& o) {
  const double phi = o.positive("ensemble_phi", 1.0, "Phi of the analytic models (ou, double_well)");
  const std::string which = o.choice("langevin_phi", "", {"", "generator", "acf"},
                                     "Phi of a model file to use (default: the one the file names)");
  const bool current = o.flag("langevin_phase_current", true,
                              "clock-driven models: add the phase current, so the learned p(x | phase) is exact");
  const std::string forcing = o.choice("ensemble_forcing", "white", {"white", "node"},
                                       "forcing of a model file: white noise (Langevin ROM) or the NODE ensemble of "
                                       "/forcing (hybrid ROM)");
  const std::string closure = read_forcing_closure(o);
  if (model == "ou" || model == "double_well") return std::make_unique<AnalyticRom>(model, phi);
  if (model == "homogenised") {
    const auto d = systems::LorenzDriver::read(o);
    const double D = o.real("homogenised_D", 0.0, "diffusion D of the homogenised SDE (0: from a Lorenz-63 run)", 0.0);
    return std::make_unique<AnalyticRom>(model, D > 0 ? D : homogenised_diffusion(d.sigma, d.s, d.rho, d.b));
  }
  if (model.empty()) throw InputError("-model: no model given (a model.h5, or ou / double_well)");
  const auto file = h5::File::open(model, "-model");
  auto m = LangevinModel::load(file);
  if (forcing == "node") {
    if (!which.empty()) throw InputError("-langevin_phi: the hybrid ROM uses the Phi its forcing was learned against");
    auto f = node::ForcingModel::load(file, "/forcing");
    f.use_closure(closure);
    return std::make_unique<HybridRom>(std::move(m), std::move(f));
  }
  if (!which.empty()) m.use(which);
  if (current) m.build_phase_current();
  return std::make_unique<LangevinRom>(std::move(m));
}

double homogenised_diffusion(double sigma, double s, double rho, double b, double time, double max_lag) {
  // Unit-speed Lorenz-63 (eps = 1), RK4 at dt = 1e-3 after a transient; y2 every 10 steps.
  systems::LorenzDriver l;
  l.s = s, l.rho = rho, l.b = b, l.inv_eps2 = 1, l.s_eps2 = s;
  const double dt = 1e-3;
  double y[3] = {1, 1, 25}, k1[3], k2[3], k3[3], k4[3], w[3];
  auto step = [&] {
    l(y, rho, k1);
    for (int i = 0; i < 3; ++i) w[i] = y[i] + 0.5 * dt * k1[i];
    l(w, rho, k2);
    for (int i = 0; i < 3; ++i) w[i] = y[i] + 0.5 * dt * k2[i];
    l(w, rho, k3);
    for (int i = 0; i < 3; ++i) w[i] = y[i] + dt * k3[i];
    l(w, rho, k4);
    for (int i = 0; i < 3; ++i) y[i] += dt / 6 * (k1[i] + 2 * (k2[i] + k3[i]) + k4[i]);
  };
  for (int i = 0; i < 20000; ++i) step();
  const auto n = static_cast<std::size_t>(time / (10 * dt));
  std::vector<double> y2(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 10; ++k) step();
    y2[i] = y[1];
  }
  // The driver is symmetric (mean of y2 is 0); the autocovariance about the sample mean, trapezoid in lag.
  const auto lags = static_cast<std::size_t>(max_lag / (10 * dt));
  double mean = 0;
  for (double v : y2) mean += v / static_cast<double>(n);
  const auto c = analysis::autocovariance_sums(y2.data(), n, lags, mean);
  double integral = 0.5 * c[0];
  for (std::size_t k = 1; k < lags; ++k) integral += c[k];
  integral += 0.5 * c[lags];
  return sigma * sigma * integral * (10 * dt) / static_cast<double>(n);
}

}  // namespace msrom::rom
