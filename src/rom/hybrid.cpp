#include "msrom/rom/hybrid.hpp"

#include <cmath>

#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/node/node.hpp"

namespace msrom::rom {

std::string read_forcing_closure(const Options& o) {
  return o.choice("forcing_closure", "white", {"white", "gain", "none"},
                  "hybrid ROM: closure of the NODE forcing's missing long-run variance: white noise, the fitted gain, "
                  "or none (rom/hybrid.hpp)");
}

int node_substeps(double dt, double dt_f, const std::string& option) {
  const double ratio = dt / dt_f;
  const double k = std::round(ratio);
  if (!(k >= 1) || std::abs(ratio - k) > 1e-9 * k || k > 1e6) {
    char buf[160];
    std::snprintf(buf, sizeof buf, ": %g is not a whole multiple of the NODE's step %g (the dt it was trained at)",
                  dt, dt_f);
    throw InputError(option + buf);
  }
  return static_cast<int>(k);
}

HybridRom::HybridRom(LangevinModel langevin, node::ForcingModel forcing)
    : m_(std::move(langevin)), f_(std::move(forcing)), d_(m_.dim()) {
  if (m_.clock_rows() > 0) throw InputError("-model: the hybrid ROM supports autonomous models only");
  if (f_.dim() != d_)
    throw InputError("-model: " + f_.group + " forces " + std::to_string(f_.dim()) + " variables, the model has " +
                     std::to_string(d_));
  if (f_.series != "residual") throw InputError("-model: " + f_.group + " is not a residual forcing");
  if (f_.initial_states.size() == 0)
    throw InputError("-model: " + f_.group + " has no initial_states (re-run msrom learn-forcing)");
  if (!f_.phi_source.empty()) m_.use(f_.phi_source);
  mean_ = m_.state_mean();
  std_ = m_.state_std();
  f_.default_fit();  // a model built in code may have no fit: unfitted
  amplitude_ = f_.std.cwiseProduct(f_.gain);
  noise_ = Eigen::MatrixXd::Zero(dim(), dim());
  for (int j = 0; j < d_; ++j) noise_(j, j) = std::sqrt(f_.white(j));
  white_ = (f_.white.array() > 0).any();
}

void HybridRom::prepare(std::int64_t begin, std::int64_t count, double dt) {
  substeps_ = node_substeps(dt, f_.dt, "-ts_dt");
  dt_ = dt;
  begin_ = begin;
  std::vector<int> node(static_cast<std::size_t>(count));
  for (std::int64_t c = 0; c < count; ++c) node[static_cast<std::size_t>(c)] = node_of(begin + c);
  stepper_.assign(std::move(node), f_.members());
}

void HybridRom::initial_state(std::int64_t member, const Philox& rng, double* u) const {
  rng.normals(0, u, static_cast<std::size_t>(d_));
  const auto bank = f_.initial_states.cols();
  const auto j = static_cast<Eigen::Index>((member / f_.members()) % bank);
  for (int i = 0; i < f_.state_dim(); ++i) u[d_ + i] = f_.initial_states(i, j);
}

void HybridRom::drift(double t, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F) {
  // Slow rows: Phi s(u) + mean_r + g std_r (r_hat - mu_k).
  m_.drift(t, U.topRows(d_), F.topRows(d_), ws_);
  for (Eigen::Index c = 0; c < U.cols(); ++c) {
    const int k = node_of(begin_ + c);
    for (int j = 0; j < d_; ++j) F(j, c) += f_.mean(j) + amplitude_(j) * (U(d_ + j, c) - f_.node_mean(j, k));
  }
  // NODE rows: the RK4 increment over dt, divided by dt.
  const int n = f_.state_dim();
  v_ = U.bottomRows(n);
  stepper_.step(f_.nets, v_, f_.dt, substeps_);
  F.bottomRows(n) = (v_ - U.bottomRows(n)) / dt_;
}

}  // namespace msrom::rom
