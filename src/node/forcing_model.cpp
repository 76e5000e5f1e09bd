#include "msrom/node/forcing_model.hpp"

#include <cmath>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"

namespace msrom::node {

ForcingModel ForcingModel::load(const h5::File& f, const std::string& group, const std::string& option) {
  const auto fail = [&](const std::string& what) -> InputError {
    return InputError(option + ": '" + f.path() + "' " + what);
  };
  if (!f.exists(group))
    throw fail("has no " + group + (group == "/forcing" ? " (run msrom learn-forcing first)"
                                                        : " (run msrom learn-forcing -forcing_series state first)"));
  ForcingModel fm;
  fm.group = group;
  const auto mean = f.read(group + "/normalization/mean"), sd = f.read(group + "/normalization/std");
  if (mean.empty() || mean.size() != sd.size()) throw fail(group + "/normalization is inconsistent");
  fm.mean = Eigen::Map<const Eigen::VectorXd>(mean.data(), static_cast<Eigen::Index>(mean.size()));
  fm.std = Eigen::Map<const Eigen::VectorXd>(sd.data(), static_cast<Eigen::Index>(sd.size()));
  if (!fm.mean.allFinite() || !(fm.std.array() > 0).all() || !fm.std.allFinite())
    throw fail(group + "/normalization holds non-finite or non-positive values");
  fm.dt = f.read_double_attribute(group, "dt");
  const double m = f.read_double_attribute(group, "m"), tau = f.read_double_attribute(group, "tau_samples"),
               members = f.read_double_attribute(group, "members");
  if (!(fm.dt > 0) || !std::isfinite(fm.dt)) throw fail(group + " has a bad dt");
  if (!(m >= 1 && m <= 1e4) || !(tau >= 1 && tau <= 1e9) || !(members >= 1 && members <= 1e5))
    throw fail(group + " has a bad m, tau_samples or members attribute");
  fm.m = static_cast<int>(m);
  fm.tau = static_cast<Eigen::Index>(tau);
  if (f.has_attribute(group, "series")) fm.series = f.read_string_attribute(group, "series");
  if (f.has_attribute(group, "phi")) fm.phi_source = f.read_string_attribute(group, "phi");
  for (int i = 0; i < static_cast<int>(members); ++i) {
    fm.nets.push_back(nn::Mlp::load(f, group + "/node/" + std::to_string(i)));
    const auto& w = fm.nets.back().widths();
    if (w.front() != fm.state_dim() || w.back() != fm.state_dim())
      throw fail(group + "/node/" + std::to_string(i) + " does not map delay vectors of m d = " +
                 std::to_string(fm.state_dim()) + " entries");
  }
  if (f.exists(group + "/initial_states")) {
    const auto shape = f.shape(group + "/initial_states");
    if (shape.size() != 2 || shape[1] != static_cast<hsize_t>(fm.state_dim()) || shape[0] < 1)
      throw fail(group + "/initial_states has the wrong shape");
    const auto v = f.read(group + "/initial_states");
    fm.initial_states = Eigen::Map<const Eigen::MatrixXd>(v.data(), fm.state_dim(), static_cast<Eigen::Index>(shape[0]));
    if (!fm.initial_states.allFinite()) throw fail(group + "/initial_states holds non-finite values");
  }
  return fm;
}

}  // namespace msrom::node
