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
  fm.gain = Eigen::VectorXd::Ones(fm.mean.size());
  if (f.exists(group + "/gain")) {
    const auto g = f.read(group + "/gain");
    if (g.size() != mean.size()) throw fail(group + "/gain has " + std::to_string(g.size()) + " entries, not d");
    fm.gain = Eigen::Map<const Eigen::VectorXd>(g.data(), static_cast<Eigen::Index>(g.size()));
    if (!fm.gain.allFinite() || !(fm.gain.array() > 0).all()) throw fail(group + "/gain holds non-finite or non-positive values");
  }
  fm.dt = f.read_double_attribute(group, "dt");
  const double m = f.read_double_attribute(group, "m"), tau = f.read_double_attribute(group, "tau_samples"),
               members = f.read_double_attribute(group, "members");
  if (!(fm.dt > 0) || !std::isfinite(fm.dt)) throw fail(group + " has a bad dt");
  if (!(m >= 1 && m <= 1e4) || !(tau >= 1 && tau <= 1e9) || !(members >= 1 && members <= 1e5))
    throw fail(group + " has a bad m, tau_samples or members attribute");
  fm.node_mean = Eigen::MatrixXd::Zero(fm.mean.size(), static_cast<Eigen::Index>(members));
  if (f.exists(group + "/node_mean")) {
    const auto shape = f.shape(group + "/node_mean");
    if (shape.size() != 2 || shape[0] != static_cast<hsize_t>(members) || shape[1] != mean.size())
      throw fail(group + "/node_mean has the wrong shape (members x d)");
    const auto v = f.read(group + "/node_mean");
    fm.node_mean = Eigen::Map<const Eigen::MatrixXd>(v.data(), fm.mean.size(), static_cast<Eigen::Index>(members));
    if (!fm.node_mean.allFinite()) throw fail(group + "/node_mean holds non-finite values");
  }
  fm.white = Eigen::VectorXd::Zero(fm.mean.size());
  if (f.exists(group + "/white_diffusion")) {
    const auto w = f.read(group + "/white_diffusion");
    if (w.size() != mean.size()) throw fail(group + "/white_diffusion has " + std::to_string(w.size()) + " entries, not d");
    fm.white = Eigen::Map<const Eigen::VectorXd>(w.data(), static_cast<Eigen::Index>(w.size()));
    if (!fm.white.allFinite() || (fm.white.array() < 0).any())
      throw fail(group + "/white_diffusion holds non-finite or negative values");
  }
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

void ForcingModel::default_fit() {
  const auto d = mean.size();
  if (gain.size() != d) gain = Eigen::VectorXd::Ones(d);
  if (node_mean.rows() != d || node_mean.cols() != members()) node_mean = Eigen::MatrixXd::Zero(d, members());
  if (white.size() != d) white = Eigen::VectorXd::Zero(d);
}

void ForcingModel::use_closure(const std::string& closure) {
  default_fit();
  if (closure == "white") {
    gain.setOnes();
  } else if (closure == "gain") {
    white.setZero();
  } else if (closure == "none") {
    gain.setOnes();
    node_mean.setZero();
    white.setZero();
  } else {
    throw InputError("-forcing_closure: '" + closure + "' is not white, gain or none");
  }
}

}  // namespace msrom::node
