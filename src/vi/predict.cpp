// Rollouts of the learned coarse SDE (include/msrom/vi/predict.hpp).
#include "msrom/vi/predict.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/analysis/fields.hpp"
#include "msrom/analysis/statistics.hpp"
#include "msrom/nn/conv.hpp"
#include "msrom/vi/distributed_rollout.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

void check_grid(const MsdeModel& model, const Trajectories& data, const std::string& option, const std::string& path) {
  auto shape = [](Index n, int rows) {
    return rows > 1 ? std::to_string(n / rows) + " x " + std::to_string(rows) : std::to_string(n) + " points";
  };
  const Index n = data.u.empty() ? 0 : data.u[0].rows() / data.fields();
  if (data.fields() != model.fields)
    throw InputError(option + ": '" + path + "' has " + std::to_string(data.fields()) + " field components, the model " +
                     std::to_string(model.fields));
  if (n != model.n_y / model.fields || data.fine_ny != model.config.fine_ny)
    throw InputError(option + ": '" + path + "' has fields of " + shape(n, data.fine_ny) + ", the model " +
                     shape(model.n_y / model.fields, model.config.fine_ny));
}

MatrixXd encode_mean(const MsdeModel& model, const Eigen::Ref<const MatrixXd>& Y) {
  const Index B = Y.cols();
  const int nz = model.n_zeta, ne = model.n_eta, ny = model.n_y;
  if (Y.rows() != ny) throw std::invalid_argument("vi::encode_mean: Y has the wrong number of rows");
  MatrixXd mu(model.latent_dim(), B);
  model.filter_fields(Y, model.stride, mu.topRows(nz));
  if (ne > 0) {
    MatrixXd Gy(ny, B);
    model.filter_fields(Y, 1, Gy);
    const MatrixXd R = Y - Gy;
    std::vector<nn::GridConvTape> tapes(model.encoder_convs.size());
    MatrixXd h;  // the CNN's input channels
    MsdeModel::to_channel_fastest(R, model.fields, ny / model.fields, h);
    for (std::size_t l = 0; l < model.encoder_convs.size(); ++l) h = model.encoder_convs[l].forward(h, tapes[l]);
    EtaTape t;
    model.eta_readout_forward(h, mu.bottomRows(model.eta_rows()), t);
  }
  return mu;
}

MatrixXd drift(const MsdeModel& model, const Eigen::Ref<const MatrixXd>& Z, double time) {
  MatrixXd f(model.latent_dim(), Z.cols());
  DriftTape t;
  model.drift_forward(Z, f, t, VectorXd::Constant(model.config.drift_time ? Z.cols() : 0, time));
  return f;
}

MatrixXd decode_mean(const MsdeModel& model, const Eigen::Ref<const MatrixXd>& Z) {
  const Index B = Z.cols();
  const int nz = model.n_zeta, ne = model.n_eta, ny = model.n_y;
  MatrixXd Dz(ny, B);
  model.decode_zeta(Z.topRows(nz), Dz);
  if (ne == 0) return Dz;
  EtaTape t;
  model.eta_decoder_forward(Z.bottomRows(model.eta_rows()), t);
  MatrixXd h = std::move(t.h);
  std::vector<nn::GridConvTape> tapes(model.decoder_convs.size());
  for (std::size_t l = 0; l < model.decoder_convs.size(); ++l) h = model.decoder_convs[l].forward(h, tapes[l]);
  const VectorXd a = model.decoder_rho_zeta.unaryExpr([](double x) { return softplus(x); });
  const VectorXd b = model.decoder_rho_eta.unaryExpr([](double x) { return softplus(x); });
  const VectorXd cc = (a.array() / (a.array() + b.array())).matrix();  // s2 / s2_eta = a / (a + b)
  MatrixXd De(ny, B);
  MsdeModel::to_channel_slowest(h, model.fields, ny / model.fields, De);
  return Dz + cc.asDiagonal() * De;
}

Integrator integrator_from_string(const std::string& name, const std::string& option) {
  if (name == "em") return Integrator::euler_maruyama;
  if (name == "heun") return Integrator::heun;
  throw InputError(option + ": '" + name + "' is not a scheme (em|heun)");
}

const char* to_string(Integrator i) { return i == Integrator::heun ? "heun" : "em"; }

void sde_solve(const std::function<void(double, const MatrixXd&, MatrixXd&)>& f, const VectorXd& g, MatrixXd& Z,
               double t0, double h, long steps, std::uint64_t seed, std::uint64_t member, std::uint64_t counter0,
               Integrator scheme, const std::function<void(long, const MatrixXd&)>& observe) {
  if (g.size() != Z.rows()) throw std::invalid_argument("vi::sde_solve: g and Z differ in dimension");
  const Philox rng(seed, member, Purpose::dynamics_noise);
  MatrixXd F(Z.rows(), Z.cols()), N(Z.rows(), Z.cols()), Zp, F1;
  const VectorXd gs = g * std::sqrt(h);
  for (long n = 0; n < steps; ++n) {
    const double tn = t0 + double(n) * h;
    f(tn, Z, F);
    rng.normals(counter0 + static_cast<std::uint64_t>(n), N.data(), static_cast<std::size_t>(N.size()));
    if (scheme == Integrator::heun) {
      N.array().colwise() *= gs.array();
      Zp = Z + h * F + N;
      F1.resize(Z.rows(), Z.cols());
      f(tn + h, Zp, F1);
      Z += (0.5 * h) * (F + F1) + N;
    } else {
      Z += h * F + gs.asDiagonal() * N;
    }
    if (observe) observe(n + 1, Z);
  }
}

Index rollout_samples(const MsdeModel& model, const Normalisation& norm, const VectorXd& y0, const VectorXd& t,
                      const RolloutOptions& o, std::uint64_t member, MPI_Comm comm,
                      const std::function<void(Index, const MatrixXd&)>& observe) {
  if (o.samples < 1 || o.substeps < 1) throw InputError("vi::rollout: samples and substeps must be >= 1");
  if (!(o.noise_scale >= 0)) throw InputError("vi::rollout: the noise scale must be >= 0");
  if (y0.size() != model.n_y)
    throw InputError("vi::rollout: the field has " + std::to_string(y0.size()) + " points, the model n_y = " +
                     std::to_string(model.n_y));
  const Index nt = t.size(), D = model.latent_dim(), M = o.samples;
  const VectorXd y0n = (y0.array() - norm.mean) / norm.scale;
  const VectorXd mu = encode_mean(model, y0n);
  MatrixXd Z = mu.replicate(1, M);
  const Philox rng(o.seed, member, Purpose::dynamics_noise);
  if (o.sample_initial) {
    MatrixXd xi(D, M);
    rng.normals(0, xi.data(), static_cast<std::size_t>(xi.size()));
    const VectorXd sd = model.per_component(model.encoder_rho).unaryExpr([](double x) { return std::sqrt(softplus(x)); });
    Z += sd.asDiagonal() * xi;
  }
  observe(0, decode_mean(model, Z));
  // The local model: the samples' coarse states on a DMDA over comm (bitwise the same for any size of comm);
  // the global one: one batch on this rank.
  std::unique_ptr<DistributedRollout> split;
  if (model.local) {
    split = std::make_unique<DistributedRollout>(model, model.coarse, static_cast<int>(M), comm);
    split->set_state(Z);
    split->scale_noise(o.noise_scale);
  } else if (size(comm) != 1) {
    throw InputError("vi::rollout: a global model's member runs on one rank");
  }
  const VectorXd g = o.noise_scale * model.diffusion();
  auto f = [&](double time, const MatrixXd& z, MatrixXd& out) { out = drift(model, z, time); };
  std::uint64_t counter = 1;
  for (Index n = 1; n < nt; ++n) {
    const double h = (t[n] - t[n - 1]) / o.substeps;
    if (split) {
      split->advance(t[n - 1], h, o.substeps, o.seed, member, counter, o.integrator);
      Z = split->gather();
    } else {
      sde_solve(f, g, Z, t[n - 1], h, o.substeps, o.seed, member, counter, o.integrator);
    }
    counter += static_cast<std::uint64_t>(o.substeps);
    if (!Z.allFinite()) return n;  // diverged
    observe(n, decode_mean(model, Z));
  }
  return nt;
}

MatrixXd rollout(const MsdeModel& model, const Normalisation& norm, const VectorXd& y0, const VectorXd& t,
                 const RolloutOptions& o, std::uint64_t member, MPI_Comm comm) {
  MatrixXd Yhat(model.n_y, t.size());
  const Index done = rollout_samples(model, norm, y0, t, o, member, comm, [&](Index n, const MatrixXd& Y) {
    Yhat.col(n) = (Y.rowwise().mean().array() * norm.scale + norm.mean).matrix();
  });
  if (done < t.size()) Yhat.rightCols(t.size() - done).setConstant(std::nan(""));  // diverged: NaN onwards
  return Yhat;
}

VectorXd relative_error(const Eigen::Ref<const MatrixXd>& Y, const Eigen::Ref<const MatrixXd>& Yhat) {
  VectorXd e(Y.cols());
  for (Index n = 0; n < Y.cols(); ++n) e[n] = (Y.col(n) - Yhat.col(n)).norm() / Y.col(n).norm();
  return e;
}

namespace {
// Sums of the statistics of a set of fields (columns of snapshots), reduced over ranks at the end.
struct StatSums {
  VectorXd spectrum, hist, acf;
  double snapshots = 0, values = 0, series = 0, constant = 0;
  double lo = 0, dx = 1;
  StatSums(Index n_y, int bins, int max_lag, double lo_, double dx_)
      : spectrum(VectorXd::Zero(n_y / 2 + 1)), hist(VectorXd::Zero(bins)), acf(VectorXd::Zero(max_lag + 1)), lo(lo_),
        dx(dx_) {}
  void add_snapshot(const double* u, Index n) {
    const auto e = analysis::power_spectrum(u, static_cast<std::size_t>(n));
    for (Index k = 0; k < spectrum.size(); ++k) spectrum[k] += e[static_cast<std::size_t>(k)];
    snapshots += 1;
    for (Index i = 0; i < n; ++i) {
      const double b = std::floor((u[i] - lo) / dx);
      if (b >= 0 && b < double(hist.size())) hist[static_cast<Index>(b)] += 1;
      values += 1;
    }
  }
  // Series of one point over time (length >= max_lag + 2 to count). A constant series (a sample that
  // settled on a fixed point, a pinned boundary value) has no ACF: it is counted, not used.
  void add_series(const double* x, Index len) {
    if (len < acf.size() + 1) return;
    // "Constant": a range below 1e-9 of the values' size, where the FFT's rounding (~1e-16 mean^2 per
    // term) can leave the variance estimate <= 0.
    const Eigen::Map<const VectorXd> v(x, len);
    const double vmax = v.maxCoeff(), vmin = v.minCoeff();
    if (!v.allFinite() || vmax - vmin <= 1e-9 * std::max(std::abs(vmax), std::abs(vmin))) {
      constant += 1;
      return;
    }
    std::vector<double> r;
    try {
      r = analysis::acf(x, static_cast<std::size_t>(len), static_cast<std::size_t>(acf.size() - 1));
    } catch (const std::exception&) {  // a variance still lost to rounding: as constant
      constant += 1;
      return;
    }
    for (Index k = 0; k < acf.size(); ++k) acf[k] += r[static_cast<std::size_t>(k)];
    series += 1;
  }
  void reduce(MPI_Comm comm) {
    MPI_Allreduce(MPI_IN_PLACE, spectrum.data(), static_cast<int>(spectrum.size()), MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, hist.data(), static_cast<int>(hist.size()), MPI_DOUBLE, MPI_SUM, comm);
    MPI_Allreduce(MPI_IN_PLACE, acf.data(), static_cast<int>(acf.size()), MPI_DOUBLE, MPI_SUM, comm);
    double c[4] = {snapshots, values, series, constant};
    MPI_Allreduce(MPI_IN_PLACE, c, 4, MPI_DOUBLE, MPI_SUM, comm);
    snapshots = c[0], values = c[1], series = c[2], constant = c[3];
  }
  FieldStatistics result() const {
    FieldStatistics f;
    for (Index k = 0; k < spectrum.size(); ++k) f.spectrum.push_back(snapshots > 0 ? spectrum[k] / snapshots : 0.0);
    for (Index b = 0; b < hist.size(); ++b) {
      f.pdf_grid.push_back(lo + (double(b) + 0.5) * dx);
      f.pdf.push_back(values > 0 ? hist[b] / (values * dx) : 0.0);
    }
    for (Index k = 0; k < acf.size(); ++k) f.acf.push_back(series > 0 ? acf[k] / series : 0.0);
    return f;
  }
};
}  // namespace

StatisticsComparison compare_statistics(const MsdeModel& model, const Normalisation& norm, const Trajectories& data,
                                        const RolloutOptions& o, int max_lag, int bins, int resolved, MPI_Comm comm) {
  const Index K = static_cast<Index>(data.u.size()), nt = data.time.size(), ny = model.n_y;
  if (K == 0 || nt < max_lag + 2 || bins < 2 || max_lag < 0 || resolved < 1 || resolved > ny / 2)
    throw InputError("vi::compare_statistics: need trajectories longer than max_lag + 1 snapshots, >= 2 bins and "
                     "1 <= resolved <= n_y / 2");
  if (model.dims() != 1)
    throw InputError("-evaluate_msde_statistics: the long-run statistics (a 1-D energy spectrum) are for 1-D fields; "
                     "this model's field is 2-D");
  double lo = data.u[0].minCoeff(), hi = data.u[0].maxCoeff();
  for (const auto& u : data.u) lo = std::min(lo, u.minCoeff()), hi = std::max(hi, u.maxCoeff());
  const double pad = 0.1 * (hi - lo > 0 ? hi - lo : 1.0);
  lo -= pad, hi += pad;
  const double dx = (hi - lo) / bins;
  StatSums truth(ny, bins, max_lag, lo, dx), pred(ny, bins, max_lag, lo, dx);
  const int per = o.ranks_per_member, nranks = size(comm);
  if (per < 1 || nranks % per != 0 || (per > 1 && !model.local))
    throw InputError("-predict_ranks_per_member: must divide the ranks (and a global model's member runs on one rank)");
  MPI_Comm group;
  MPI_Comm_split(comm, rank(comm) / per, rank(comm), &group);
  const bool writer = rank(group) == 0;
  const Range mine = block_range(K, nranks / per, rank(comm) / per);
  long diverged = 0;
  const Index M = o.samples;
  std::vector<double> series(static_cast<std::size_t>(M * ny * nt));  // [sample][point][time]
  for (Index k = mine.begin; k < mine.end; ++k) {
    const MatrixXd& U = data.u[k];
    Index done = 0;
    done = rollout_samples(model, norm, U.col(0), data.time, o, static_cast<std::uint64_t>(k), group,
                           [&](Index n, const MatrixXd& Y) {
                             const MatrixXd y = (Y.array() * norm.scale + norm.mean).matrix();
                             for (Index m = 0; m < M; ++m) {
                               if (writer) pred.add_snapshot(y.col(m).data(), ny);
                               for (Index i = 0; i < ny; ++i) series[static_cast<std::size_t>((m * ny + i) * nt + n)] = y(i, m);
                             }
                           });
    if (!writer) continue;
    if (done < nt) diverged += M;
    for (Index n = 0; n < nt; ++n) truth.add_snapshot(U.col(n).data(), ny);
    VectorXd row(nt);
    for (Index i = 0; i < ny; ++i) {
      row = U.row(i).transpose();
      truth.add_series(row.data(), nt);
      for (Index m = 0; m < M; ++m) pred.add_series(&series[static_cast<std::size_t>((m * ny + i) * nt)], done);
    }
  }
  MPI_Comm_free(&group);
  truth.reduce(comm);
  pred.reduce(comm);
  MPI_Allreduce(MPI_IN_PLACE, &diverged, 1, MPI_LONG, MPI_SUM, comm);
  StatisticsComparison out;
  out.data = truth.result();
  out.model = pred.result();
  out.diverged = diverged;
  out.resolved = resolved;
  out.constant_series = static_cast<long>(pred.constant);
  for (int k = 1; k <= resolved; ++k)
    out.spectrum_error = std::max(out.spectrum_error, std::abs(out.model.spectrum[k] - out.data.spectrum[k]) /
                                                          out.data.spectrum[k]);
  out.kl = analysis::kl_divergence(out.data.pdf, out.model.pdf, dx);
  for (int k = 0; k <= max_lag; ++k) out.acf_error = std::max(out.acf_error, std::abs(out.model.acf[k] - out.data.acf[k]));
  return out;
}

std::pair<double, double> mean_std(const Eigen::Ref<const MatrixXd>& a) {
  if (a.size() == 0) return {0.0, 0.0};
  const double m = a.mean();
  return {m, std::sqrt((a.array() - m).square().mean())};
}

SplitPrediction predict_split(const MsdeModel& model, const Normalisation& norm, const Trajectories& data,
                              const RolloutOptions& o, int keep, MPI_Comm comm) {
  const Index K = static_cast<Index>(data.u.size()), nt = data.time.size();
  SplitPrediction out;
  out.eps = MatrixXd::Zero(K, nt);
  keep = static_cast<int>(std::min<Index>(keep, K));
  std::vector<double> kept(static_cast<std::size_t>(keep) * model.n_y * nt, 0.0);
  // Groups of ranks_per_member ranks (a local model's member split over its group), trajectories spread over
  // the groups in contiguous blocks; the group's first rank writes.
  const int per = o.ranks_per_member, nranks = size(comm);
  if (per < 1 || nranks % per != 0)
    throw InputError("-predict_ranks_per_member: " + std::to_string(per) + " does not divide the " +
                     std::to_string(nranks) + " ranks");
  if (per > 1 && !model.local)
    throw InputError("-predict_ranks_per_member: the model's eta is global; only a local model "
                     "(-msde_eta_field local) can split a member over ranks");
  MPI_Comm group;
  MPI_Comm_split(comm, rank(comm) / per, rank(comm), &group);
  const bool writer = rank(group) == 0;
  const Range mine = block_range(K, nranks / per, rank(comm) / per);
  for (Index k = mine.begin; k < mine.end; ++k) {
    const MatrixXd Yhat = rollout(model, norm, data.u[k].col(0), data.time, o, static_cast<std::uint64_t>(k), group);
    if (!writer) continue;
    out.eps.row(k) = relative_error(data.u[k], Yhat).transpose();
    if (k < keep) Eigen::Map<MatrixXd>(kept.data() + k * model.n_y * nt, model.n_y, nt) = Yhat;
  }
  MPI_Comm_free(&group);
  // Every entry has exactly one writer: a sum over ranks is exact (x + 0 = x), so any rank count agrees.
  MPI_Allreduce(MPI_IN_PLACE, out.eps.data(), static_cast<int>(out.eps.size()), MPI_DOUBLE, MPI_SUM, comm);
  if (!kept.empty())
    MPI_Allreduce(MPI_IN_PLACE, kept.data(), static_cast<int>(kept.size()), MPI_DOUBLE, MPI_SUM, comm);
  for (int k = 0; k < keep; ++k)
    out.fields.emplace_back(Eigen::Map<const MatrixXd>(kept.data() + k * model.n_y * nt, model.n_y, nt));
  std::tie(out.mean, out.std) = mean_std(out.eps);
  return out;
}

MatrixXd reconstruction_error(const MsdeModel& model, const Normalisation& norm, const Trajectories& data,
                              MPI_Comm comm) {
  const Index K = static_cast<Index>(data.u.size()), nt = data.time.size();
  MatrixXd eps = MatrixXd::Zero(K, nt);
  constexpr Index kBatch = 32;  // snapshots per encoder/decoder pass (bounds the CNN's work arrays)
  const Range mine = block_range(K, size(comm), rank(comm));
  for (Index k = mine.begin; k < mine.end; ++k) {
    const MatrixXd& Y = data.u[k];
    for (Index n0 = 0; n0 < nt; n0 += kBatch) {
      const Index b = std::min(kBatch, nt - n0);
      const MatrixXd Yn = (Y.middleCols(n0, b).array() - norm.mean) / norm.scale;
      const MatrixXd R = decode_mean(model, encode_mean(model, Yn)).array() * norm.scale + norm.mean;
      eps.row(k).segment(n0, b) = relative_error(Y.middleCols(n0, b), R).transpose();
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, eps.data(), static_cast<int>(eps.size()), MPI_DOUBLE, MPI_SUM, comm);  // one writer
  return eps;
}

}  // namespace msrom::vi
