#include "msrom/rom/roms.hpp"

#include <cmath>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"

namespace msrom::rom {

AnalyticRom::AnalyticRom(std::string kind, double phi) : kind_(std::move(kind)), phi_(phi) {
  sigma_ = Eigen::MatrixXd::Constant(1, 1, std::sqrt(phi));
}

void AnalyticRom::drift(double, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) {
  if (kind_ == "ou") {
    F = -phi_ * U;
  } else {
    F = phi_ * (2.0 * U.array() - U.array().cube()).matrix();
  }
}

std::unique_ptr<Rom> make_rom(const std::string& model, const Options& o) {
  const double phi = o.positive("ensemble_phi", 1.0, "Phi of the analytic models (ou, double_well)");
  const std::string which = o.choice("langevin_phi", "", {"", "generator", "acf"},
                                     "Phi of a model file to use (default: the one the file names)");
  if (model == "ou" || model == "double_well") return std::make_unique<AnalyticRom>(model, phi);
  if (model.empty()) throw InputError("-model: no model given (a model.h5, or ou / double_well)");
  auto m = LangevinModel::load(h5::File::open(model, "-model"));
  if (!which.empty()) m.use(which);
  return std::make_unique<LangevinRom>(std::move(m));
}

}  // namespace msrom::rom
