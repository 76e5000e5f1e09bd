#include "msrom/rom/langevin.hpp"

#include <cmath>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/score/kmeans.hpp"

namespace msrom::rom {

Eigen::MatrixXd noise_factor(const Eigen::MatrixXd& phi) {
  const Eigen::MatrixXd sym = 0.5 * (phi + phi.transpose());
  Eigen::LLT<Eigen::MatrixXd> llt(sym);
  if (llt.info() != Eigen::Success || !(sym.diagonal().array() > 0).all())
    throw InputError("langevin: sym(Phi) is not positive definite, so Sigma = chol(sym(Phi)) does not exist");
  return llt.matrixL();
}

void LangevinModel::drift(double t, const Eigen::Ref<const Eigen::MatrixXd>& U, Eigen::Ref<Eigen::MatrixXd> F,
                          nn::Workspace& ws) const {
  // s = -eps_hat / sigma_n, then F = Phi s. The members go through the network in blocks of kBlock
  // columns, so that every layer's activations (width x kBlock doubles) stay in cache: a 1e4-member batch
  // at width 100 is 8 MB per layer, and memory-bound.
  constexpr Eigen::Index kBlock = 256;
  const int c = clock_rows(), d = dim();
  if (c == 0) {
    for (Eigen::Index c0 = 0; c0 < U.cols(); c0 += kBlock) {
      const Eigen::Index nc = std::min(kBlock, U.cols() - c0);
      score.eps_hat.forward(U.middleCols(c0, nc), F.middleCols(c0, nc), ws);
    }
  } else {
    // Input [clock; u] in the score's normalisation; the clock rows are the same for every member.
    const double w = 2 * M_PI * score.clock_frequency;
    const double c0v = (std::sin(w * t) - score.mean(0)) / score.std(0), c1v = (std::cos(w * t) - score.mean(1)) / score.std(1);
    Eigen::MatrixXd& in = scratch_in_;
    Eigen::MatrixXd& out = scratch_out_;
    in.resize(c + d, kBlock);
    out.resize(c + d, kBlock);
    for (Eigen::Index b0 = 0; b0 < U.cols(); b0 += kBlock) {
      const Eigen::Index nc = std::min(kBlock, U.cols() - b0);
      in.leftCols(nc).row(0).setConstant(c0v);
      in.leftCols(nc).row(1).setConstant(c1v);
      in.block(c, 0, d, nc) = U.middleCols(b0, nc);
      score.eps_hat.forward(in.leftCols(nc), out.leftCols(nc), ws);
      F.middleCols(b0, nc) = out.block(c, 0, d, nc);
    }
  }
  if (d == 1) {
    F *= -phi(0, 0) / score.sigma;
    if (has_phase_current()) {
      const auto at = phase_index(2 * M_PI * score.clock_frequency * t);
      for (Eigen::Index j = 0; j < U.cols(); ++j) F(0, j) += current_at(U(0, j), at);
    }
  } else {
    scratch_out_ = F;
    F.noalias() = (-1.0 / score.sigma) * phi * scratch_out_;
  }
}

void LangevinModel::build_phase_current(int phases, int points) {
  current_.resize(0, 0);
  if (clock_rows() == 0 || dim() != 1) return;
  if (phases < 8 || points < 16) throw std::invalid_argument("build_phase_current: grid too small");
  // u range: the centroids' (normalised) x coordinates plus a margin, or +-6 without centroids.
  double lo = -6, hi = 6;
  const auto& c = score.clusters.centroids;
  if (c.cols() > 0) {
    lo = c.row(c.rows() - 1).minCoeff() - 0.5;
    hi = c.row(c.rows() - 1).maxCoeff() + 0.5;
  }
  const Eigen::Index n = points;
  current_u0_ = lo;
  current_du_ = (hi - lo) / static_cast<double>(n - 1);
  // p(u | phase) on the grid: integrate the score (trapezoid), exponentiate, normalise.
  Eigen::MatrixXd p(n, phases);
  Eigen::MatrixXd in(3, n), out(3, n);
  nn::Workspace ws;
  for (int k = 0; k < phases; ++k) {
    const double ph = 2 * M_PI * k / phases;
    in.row(0).setConstant((std::sin(ph) - score.mean(0)) / score.std(0));
    in.row(1).setConstant((std::cos(ph) - score.mean(1)) / score.std(1));
    for (Eigen::Index i = 0; i < n; ++i) in(2, i) = lo + current_du_ * static_cast<double>(i);
    score.eps_hat.forward(in, out, ws);
    const Eigen::VectorXd s = -out.row(2).transpose() / score.sigma;
    Eigen::VectorXd lp(n);
    lp(0) = 0;
    for (Eigen::Index i = 1; i < n; ++i) lp(i) = lp(i - 1) + 0.5 * (s(i) + s(i - 1)) * current_du_;
    Eigen::VectorXd q = (lp.array() - lp.maxCoeff()).exp();
    const double mass = (q.sum() - 0.5 * (q(0) + q(n - 1))) * current_du_;
    p.col(k) = q / mass;
  }
  // J = -omega int dp/dphase du, from whichever end has less mass (J vanishes at both ends: the
  // integral over all u of dp/dphase is d(1)/dphase = 0), then c = J / p where p is not negligible.
  const double w = 2 * M_PI * score.clock_frequency, dph = 2 * M_PI / phases;
  current_.setZero(n, phases);
  for (int k = 0; k < phases; ++k) {
    const Eigen::VectorXd dp = (p.col((k + 1) % phases) - p.col((k + phases - 1) % phases)) / (2 * dph);
    Eigen::VectorXd left(n), right(n), mass(n);
    left(0) = 0;
    mass(0) = 0;
    for (Eigen::Index i = 1; i < n; ++i) {
      left(i) = left(i - 1) + 0.5 * (dp(i) + dp(i - 1)) * current_du_;
      mass(i) = mass(i - 1) + 0.5 * (p(i, k) + p(i - 1, k)) * current_du_;
    }
    right(n - 1) = 0;
    for (Eigen::Index i = n - 2; i >= 0; --i) right(i) = right(i + 1) + 0.5 * (dp(i) + dp(i + 1)) * current_du_;
    const double pmax = p.col(k).maxCoeff();
    for (Eigen::Index i = 0; i < n; ++i) {
      const double J = mass(i) < 0.5 ? -w * left(i) : w * right(i);
      if (p(i, k) > 1e-9 * pmax) current_(i, k) = J / p(i, k);
    }
  }
}

LangevinModel::PhaseIndex LangevinModel::phase_index(double phase) const {
  const Eigen::Index np = current_.cols();
  double ph = std::fmod(phase, 2 * M_PI) / (2 * M_PI) * static_cast<double>(np);
  if (ph < 0) ph += static_cast<double>(np);
  const Eigen::Index k0 = std::min(static_cast<Eigen::Index>(ph), np - 1);
  return {k0, (k0 + 1) % np, ph - static_cast<double>(k0)};
}

double LangevinModel::current_at(double u, const PhaseIndex& at) const {
  const double x = (u - current_u0_) / current_du_;
  if (!(x >= 0 && x < static_cast<double>(current_.rows() - 1))) return 0;  // outside the table, or NaN
  const Eigen::Index i0 = static_cast<Eigen::Index>(x);
  const double b = x - static_cast<double>(i0);
  return (1 - at.a) * ((1 - b) * current_(i0, at.k0) + b * current_(i0 + 1, at.k0)) +
         at.a * ((1 - b) * current_(i0, at.k1) + b * current_(i0 + 1, at.k1));
}

double LangevinModel::phase_current(double u, double phase) const {
  return has_phase_current() ? current_at(u, phase_index(phase)) : 0.0;
}

void LangevinModel::use(const std::string& which) {
  if (which == "generator") phi = phi_generator;
  else if (which == "acf") phi = phi_acf;
  else throw InputError("-langevin_phi: must be generator or acf (got '" + which + "')");
  if (phi.size() == 0) throw InputError("-langevin_phi: the model has no Phi_" + which + " (run learn-drift)");
  sigma = noise_factor(phi);
  source = which;
}

LangevinModel LangevinModel::load(const h5::File& f) {
  LangevinModel m;
  m.score = score::ScoreModel::load(f);
  const int d = m.dim();
  if (!f.exists("/langevin/Phi"))
    throw InputError("-model: '" + f.path() + "' has no /langevin/Phi (run msrom learn-drift on it first)");
  auto read_matrix = [&](const std::string& name) {
    const auto v = f.read(name);
    if (static_cast<int>(v.size()) != d * d) throw InputError("-model: '" + f.path() + "': " + name + " is not d x d");
    for (double x : v)
      if (!std::isfinite(x)) throw InputError("-model: '" + f.path() + "': " + name + " has non-finite values");
    // Stored [d, d] row-major; Phi is read back transposed into column-major.
    return Eigen::MatrixXd(Eigen::Map<const Eigen::Matrix<double, -1, -1, Eigen::RowMajor>>(v.data(), d, d));
  };
  m.phi_generator = read_matrix("/langevin/Phi_generator");
  m.phi_acf = read_matrix("/langevin/Phi_acf");
  m.use(f.read_string_attribute("/langevin/Phi", "source"));
  m.generator_lag = f.read_double_attribute("/langevin/Phi_generator", "lag");
  return m;
}

Eigen::MatrixXd phi_from_generator(const score::ScoreModel& model, const Eigen::MatrixXd& u,
                                   const std::vector<char>& series_start, long lag, double sample_dt, MPI_Comm comm,
                                   int evolved, bool identity_v) {
  const int d = static_cast<int>(u.rows());
  const auto& centroids = model.clusters.centroids;
  if (centroids.cols() == 0) throw InputError("learn-drift: the model has no KGMM centroids (use -score_method kgmm)");
  const score::NearestCentroid nearest(centroids);
  const Eigen::MatrixXd s_c = model.score_normalized(centroids);  // smooth score at every centroid
  std::vector<int> label(static_cast<std::size_t>(u.cols()));
  for (Eigen::Index i = 0; i < u.cols(); ++i) label[i] = nearest(u.col(i).data());
  // Sums over pairs (t, t + lag) inside one series: [M * N D | V * N | N].
  Eigen::MatrixXd m = Eigen::MatrixXd::Zero(d, d), v = Eigen::MatrixXd::Zero(d, d);
  double pairs = 0;
  Eigen::Index since_start = 0;
  for (Eigen::Index i = 0; i < u.cols(); ++i) {
    since_start = series_start[i] ? 0 : since_start + 1;
    if (since_start < lag) continue;  // t = i - lag must be in the same series
    const int a = label[i - lag], b = label[i];
    m.noalias() += (centroids.col(b) - centroids.col(a)) * centroids.col(a).transpose();
    v.noalias() += s_c.col(a) * centroids.col(a).transpose();
    pairs += 1;
  }
  MPI_Allreduce(MPI_IN_PLACE, m.data(), d * d, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, v.data(), d * d, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(MPI_IN_PLACE, &pairs, 1, MPI_DOUBLE, MPI_SUM, comm);
  if (pairs < 1) throw InputError("-langevin_generator_lag: longer than the data series");
  m /= pairs * static_cast<double>(lag) * sample_dt;
  v /= pairs;
  const int e = evolved > 0 && evolved < d ? evolved : d;
  if (identity_v) return -m.bottomRightCorner(e, e);
  return m.bottomRightCorner(e, e) * v.bottomRightCorner(e, e).inverse();
}

}  // namespace msrom::rom
