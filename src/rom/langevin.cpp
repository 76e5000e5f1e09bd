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
  } else {
    scratch_out_ = F;
    F.noalias() = (-1.0 / score.sigma) * phi * scratch_out_;
  }
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
                                   const std::vector<char>& series_start, long lag, double sample_dt, MPI_Comm comm) {
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
  return m * v.inverse();
}

}  // namespace msrom::rom
