#include "msrom/score/score_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "msrom/analysis/statistics.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/adam.hpp"

namespace msrom::score {

// ---------------------------------------------------------------------------------------------- model
Eigen::MatrixXd ScoreModel::score_normalized(const Eigen::MatrixXd& U) const { return -eps_hat.forward(U) / sigma; }

void ScoreModel::save(h5::OutputFile& out) const {
  const auto d = static_cast<hsize_t>(dim());
  out.write("/normalization/mean", {d}, mean.data());
  out.write("/normalization/std", {d}, std.data());
  eps_hat.save(out, "/score/mlp");
  out.attribute("/score/mlp", "sigma", sigma);
  out.attribute("/score/mlp", "method", method);
  out.attribute("/score/mlp", "clock_frequency", clock_frequency);
  if (method == "kgmm") {
    const auto k = static_cast<hsize_t>(clusters.centroids.cols());
    // Row-major [K, d] on disk: the column-major d x K matrices have exactly that memory layout.
    out.write("/score/centroids", {k, d}, clusters.centroids.data());
    out.write("/score/values", {k, d}, clusters.score.data());
    out.write("/score/divergence", {k}, clusters.divergence.data());
    out.write("/score/counts", {k}, clusters.counts.data());
    out.attribute("/score/values", "sigma", sigma);
    out.attribute("/score/values", "passes", static_cast<std::int64_t>(clusters.passes));
  }
}

ScoreModel ScoreModel::load(const h5::File& f) {
  ScoreModel m;
  const auto mean = f.read("/normalization/mean"), sd = f.read("/normalization/std");
  if (mean.empty() || mean.size() != sd.size())
    throw InputError("'" + f.path() + "': /normalization/mean and /std must have the same positive length");
  m.mean = Eigen::Map<const Eigen::VectorXd>(mean.data(), static_cast<Eigen::Index>(mean.size()));
  m.std = Eigen::Map<const Eigen::VectorXd>(sd.data(), static_cast<Eigen::Index>(sd.size()));
  // Finite as well: a NaN or infinite normalisation reached the ensemble's statistics (UB in a float-to-integer
  // cast; tests/fuzz).
  if (!m.mean.allFinite()) throw InputError("'" + f.path() + "': /normalization/mean must be finite");
  if (!(m.std.array() > 0).all() || !m.std.allFinite())
    throw InputError("'" + f.path() + "': /normalization/std must be finite and > 0");
  m.eps_hat = nn::Mlp::load(f, "/score/mlp");
  m.sigma = f.read_double_attribute("/score/mlp", "sigma");
  if (!(m.sigma > 0) || !std::isfinite(m.sigma)) throw InputError("'" + f.path() + "': /score/mlp sigma must be finite and > 0");
  m.method = f.read_string_attribute("/score/mlp", "method");
  m.clock_frequency = f.has_attribute("/score/mlp", "clock_frequency") ? f.read_double_attribute("/score/mlp", "clock_frequency") : 0.0;
  if (!(m.clock_frequency >= 0) || !std::isfinite(m.clock_frequency))
    throw InputError("'" + f.path() + "': /score/mlp clock_frequency must be finite and >= 0");
  if (m.clock_frequency > 0 && m.dim() < 3)
    throw InputError("'" + f.path() + "': a clock-augmented score needs [sin, cos, x...]: 3 or more dimensions");
  if (m.eps_hat.input_dim() != m.dim() || m.eps_hat.output_dim() != m.dim())
    throw InputError("'" + f.path() + "': /score/mlp does not map R^" + std::to_string(m.dim()) + " to itself");
  if (m.method == "kgmm" && f.exists("/score/centroids")) {
    // [K, d] row-major on disk = d x K column-major in memory.
    const auto cshape = f.shape("/score/centroids");
    if (cshape.size() != 2 || cshape[1] != static_cast<hsize_t>(m.dim()))
      throw InputError("'" + f.path() + "': /score/centroids is not [K, d]");
    const auto k = static_cast<Eigen::Index>(cshape[0]);
    auto matrix = [&](const char* name) {
      const auto v = f.read(name);
      if (static_cast<Eigen::Index>(v.size()) != k * m.dim()) throw InputError("'" + f.path() + "': " + name + " is not [K, d]");
      for (double x : v)
        if (!std::isfinite(x)) throw InputError("'" + f.path() + "': " + name + " has non-finite values");
      return Eigen::MatrixXd(Eigen::Map<const Eigen::MatrixXd>(v.data(), m.dim(), k));
    };
    auto vector = [&](const char* name) {
      const auto v = f.read(name);
      if (static_cast<Eigen::Index>(v.size()) != k) throw InputError("'" + f.path() + "': " + name + " is not [K]");
      for (double x : v)
        if (!std::isfinite(x)) throw InputError("'" + f.path() + "': " + name + " has non-finite values");
      return Eigen::VectorXd(Eigen::Map<const Eigen::VectorXd>(v.data(), k));
    };
    m.clusters.centroids = matrix("/score/centroids");
    m.clusters.score = matrix("/score/values");
    m.clusters.noise_mean = -m.clusters.score * m.sigma;
    m.clusters.divergence = vector("/score/divergence");
    m.clusters.counts = vector("/score/counts");
  }
  return m;
}

Eigen::VectorXd implied_density_1d(const ScoreModel& model, const std::vector<double>& grid) {
  const auto g = static_cast<Eigen::Index>(grid.size());
  const Eigen::MatrixXd u = Eigen::Map<const Eigen::MatrixXd>(grid.data(), 1, g);
  const Eigen::MatrixXd s = model.score_normalized(u);
  Eigen::VectorXd logp(g);
  logp(0) = 0;
  for (Eigen::Index i = 1; i < g; ++i) logp(i) = logp(i - 1) + 0.5 * (s(0, i - 1) + s(0, i)) * (grid[i] - grid[i - 1]);
  Eigen::VectorXd p = (logp.array() - logp.maxCoeff()).exp();
  double mass = 0;
  for (Eigen::Index i = 1; i < g; ++i) mass += 0.5 * (p(i - 1) + p(i)) * (grid[i] - grid[i - 1]);
  return p / mass;
}

// ---------------------------------------------------------------------------------------------- options
LearnScoreConfig read_learn_score_options(const Options& o, bool read_paths) {
  LearnScoreConfig c;
  if (read_paths) {
    c.data = o.string("data", "", "input HDF5 file");
    c.output = o.string("output", c.output, "output model file");
    check_output_path("-output", c.output);
  }
  c.dataset = o.string("dataset", c.dataset, "dataset: [members, time, dims] or [samples, dims]");
  c.seed = static_cast<std::uint64_t>(o.integer("seed", 1, "random seed (noise, initialisation, batches)", 0));
  c.method = o.choice("score_method", c.method, {"kgmm", "dsm"}, "score estimator");
  c.train_fraction = o.real("score_train_fraction", c.train_fraction, "leading fraction of each series that trains",
                            0.0, 1.0, true);
  c.kgmm.sigma = o.positive("score_sigma", c.kgmm.sigma, "noise level sigma_n (normalised units)");
  c.kgmm.clusters = static_cast<int>(o.integer("score_clusters", c.kgmm.clusters, "KGMM clusters K", 2, 1 << 24));
  c.kgmm.partition_samples = o.integer("score_partition_samples", c.kgmm.partition_samples,
                                       "noised samples that build the k-means partition", 2);
  c.kgmm.lloyd_iterations = static_cast<int>(o.integer("score_lloyd_iterations", c.kgmm.lloyd_iterations,
                                                       "Lloyd iterations of the partition", 1, 100000));
  c.kgmm.tolerance = o.positive("score_tolerance", c.kgmm.tolerance, "KGMM stop: relative squared change of E[z|k]");
  c.kgmm.min_passes = static_cast<int>(o.integer("score_min_passes", c.kgmm.min_passes, "KGMM minimum noise passes", 1, 100000));
  c.kgmm.max_passes = static_cast<int>(o.integer("score_max_passes", c.kgmm.max_passes, "KGMM maximum noise passes", 1, 100000));
  std::vector<double> hidden = o.reals("score_hidden", {100, 50}, "hidden layer widths of eps_hat");
  c.hidden.clear();
  for (double h : hidden) {
    // Bounded before the cast: -score_hidden 1e12 was UB (float-to-int overflow; tests/fuzz).
    if (!(h >= 1 && h <= 1e6) || h != std::floor(h))
      throw InputError("-score_hidden: widths must be integers in 1..1000000");
    c.hidden.push_back(static_cast<int>(h));
  }
  c.activation = o.choice("score_activation", c.activation, {"swish", "tanh", "leaky_relu"}, "hidden activation");
  c.epochs = static_cast<int>(o.integer("score_epochs", c.epochs, "epochs of the eps_hat fit (kgmm)", 1, 100000000));
  c.batch = static_cast<int>(o.integer("score_batch", c.batch, "minibatch size", 1, 1 << 20));
  c.lr = o.positive("score_lr", c.lr, "Adam learning rate");
  c.dsm_samples = o.integer("score_dsm_samples", c.dsm_samples, "noised pairs (x~, z) for dsm", 16);
  c.dsm_epochs = static_cast<int>(o.integer("score_dsm_epochs", c.dsm_epochs, "epochs of the dsm fit", 1, 100000000));
  c.grid_points = o.integer("score_grid_points", c.grid_points, "grid of the 1-D density check", 16);
  c.clock_frequency = o.real("score_clock_frequency", 0.0, "f > 0: learn on [sin 2 pi f t, cos 2 pi f t, x]", 0.0);
  c.clock_scale = o.positive("score_clock_scale", c.clock_scale,
                             "size of the clock rows after normalisation (smaller: more clusters resolve x)");
  c.symmetry = o.choice("score_symmetry", c.symmetry, {"none", "odd"},
                        "odd: the density is symmetric under u -> -u (clock rows too: a half-period shift); "
                        "train on the data and their mirror images");
  c.fit_weights = o.choice("score_fit_weights", c.fit_weights, {"counts", "uniform"},
                           "centroid weights in the eps_hat fit (kgmm): samples per cluster, or all alike");
  c.lr_schedule = o.choice("score_lr_schedule", c.lr_schedule, {"constant", "cosine"},
                           "learning rate over the fit: constant, or cosine decay to 0");
  c.kgmm.seed = c.seed;
  return c;
}

// ---------------------------------------------------------------------------------------------- learning
TrainingData read_training_data(const std::string& data, const std::string& dataset, double train_fraction,
                                std::int64_t min_samples, MPI_Comm comm, double clock_frequency) {
  const auto f = h5::File::open(data, "-data");
  const auto shape = f.shape(dataset);
  TrainingData s;
  hsize_t d = 1;
  if (shape.size() == 3) {
    s.members = static_cast<std::int64_t>(shape[0]);
    s.nt = static_cast<std::int64_t>(shape[1]);
    d = shape[2];
  } else if (shape.size() == 2) {
    s.nt = static_cast<std::int64_t>(shape[0]);
    d = shape[1];
  } else {
    throw InputError("-dataset: " + dataset + " in '" + data +
                     "' must be [members, time, dims] or [samples, dims]");
  }
  if (d < 1 || d > 16) throw InputError("-dataset: " + dataset + " has " + std::to_string(d) + " dims (1..16)");
  s.nt_train = static_cast<std::int64_t>(std::floor(train_fraction * static_cast<double>(s.nt)));
  s.n_train = s.members * s.nt_train;
  s.n_valid = s.members * (s.nt - s.nt_train);
  if (s.n_train < min_samples)
    throw InputError("-data: '" + data + "' has " + std::to_string(s.n_train) + " training samples, fewer than -score_clusters");
  const auto tshape = f.exists("/time") ? f.shape("/time") : h5::Shape{};
  if (f.exists("/time") && tshape.size() != 1) throw InputError("-data: '" + data + "': /time is not 1-D");
  if (!tshape.empty() && tshape[0] >= 2) {
    const auto t = f.read_slab("/time", {0}, {2});
    s.sample_dt = t[1] - t[0];
    if (!(s.sample_dt > 0)) throw InputError("-data: '" + data + "': /time is not increasing");
  }
  const auto mine = block_range(s.n_train, size(comm), rank(comm));
  s.train.resize(static_cast<Eigen::Index>(d), mine.count());
  s.series_start.assign(static_cast<std::size_t>(mine.count()), 0);
  for (std::int64_t g = mine.begin; g < mine.end; ++g)
    s.series_start[g - mine.begin] = (g == mine.begin || g % s.nt_train == 0) ? 1 : 0;
  // A rank's global block may span members: read one slab per member.
  std::int64_t g = mine.begin;
  while (g < mine.end) {
    const std::int64_t m = g / s.nt_train, t = g % s.nt_train, len = std::min(mine.end - g, s.nt_train - t);
    std::vector<double> v = shape.size() == 3
                                ? f.read_slab(dataset, {hsize_t(m), hsize_t(t), 0}, {1, hsize_t(len), d})
                                : f.read_slab(dataset, {hsize_t(t), 0}, {hsize_t(len), d});
    std::copy(v.begin(), v.end(), s.train.data() + (g - mine.begin) * static_cast<std::int64_t>(d));
    g += len;
  }
  if (!s.train.allFinite()) throw InputError("-data: '" + data + "': non-finite values in " + dataset);
  if (rank(comm) == 0 && s.n_valid > 0) {
    for (std::int64_t m = 0; m < s.members; ++m) {
      const hsize_t len = static_cast<hsize_t>(s.nt - s.nt_train);
      std::vector<double> v = shape.size() == 3
                                  ? f.read_slab(dataset, {hsize_t(m), hsize_t(s.nt_train), 0}, {1, len, d})
                                  : f.read_slab(dataset, {hsize_t(s.nt_train), 0}, {len, d});
      for (hsize_t i = 0; i < len; ++i) s.valid0.push_back(v[i * d]);
    }
  }
  if (clock_frequency > 0) {
    if (!f.exists("/time")) throw InputError("-score_clock_frequency: '" + data + "' has no /time");
    const auto t = f.read("/time");
    if (static_cast<std::int64_t>(t.size()) != s.nt) throw InputError("-data: '" + data + "': /time and " + dataset + " differ in length");
    Eigen::MatrixXd aug(s.train.rows() + 2, s.train.cols());
    const double w = 2 * M_PI * clock_frequency;
    for (Eigen::Index i = 0; i < s.train.cols(); ++i) {
      const double ti = t[static_cast<std::size_t>((mine.begin + i) % s.nt_train)];
      aug(0, i) = std::sin(w * ti);
      aug(1, i) = std::cos(w * ti);
    }
    aug.bottomRows(s.train.rows()) = s.train;
    s.train = std::move(aug);
  }
  return s;
}

Metrics learn_score(const LearnScoreConfig& cfg, MPI_Comm comm) {
  // 1. Data: split, normalisation from the training part (all-reduced moments).
  TrainingData s =
      read_training_data(cfg.data, cfg.dataset, cfg.train_fraction, cfg.kgmm.clusters, comm, cfg.clock_frequency);
  if (cfg.symmetry == "odd") {
    // Sample i becomes global samples 2g, 2g + 1 = u, -u: each rank's block stays contiguous in the global
    // order, which is then the same for every rank count.
    Eigen::MatrixXd both(s.train.rows(), 2 * s.train.cols());
    for (Eigen::Index i = 0; i < s.train.cols(); ++i) {
      both.col(2 * i) = s.train.col(i);
      both.col(2 * i + 1) = -s.train.col(i);
    }
    s.train = std::move(both);
    s.n_train *= 2;
  }
  const int d = static_cast<int>(s.train.rows());
  Eigen::VectorXd sum = s.train.rowwise().sum();
  MPI_Allreduce(MPI_IN_PLACE, sum.data(), d, MPI_DOUBLE, MPI_SUM, comm);
  ScoreModel model;
  model.mean = sum / static_cast<double>(s.n_train);
  Eigen::VectorXd sq = (s.train.colwise() - model.mean).array().square().rowwise().sum();
  MPI_Allreduce(MPI_IN_PLACE, sq.data(), d, MPI_DOUBLE, MPI_SUM, comm);
  model.std = (sq / static_cast<double>(s.n_train)).cwiseSqrt();
  if (!(model.std.array() > 0).all()) throw InputError("-data: '" + cfg.data + "': a variable is constant");
  if (!model.mean.allFinite() || !model.std.allFinite())
    throw InputError("-data: '" + cfg.data + "': values too large to normalise (their moments overflow)");
  if (cfg.clock_frequency > 0) model.std.head(2) /= cfg.clock_scale;
  const Eigen::MatrixXd u = (s.train.colwise() - model.mean).array().colwise() / model.std.array();
  // NaN here reached k-means, whose nearest-centroid search then indexed with -1 (tests/fuzz).
  if (!u.allFinite()) throw InputError("-data: '" + cfg.data + "': values too large to normalise");
  model.sigma = cfg.kgmm.sigma;
  model.method = cfg.method;
  model.clock_frequency = cfg.clock_frequency;

  std::vector<int> widths{d};
  widths.insert(widths.end(), cfg.hidden.begin(), cfg.hidden.end());
  widths.push_back(d);
  model.eps_hat = nn::Mlp(widths, nn::activation_from_string(cfg.activation), cfg.seed);
  nn::FitOptions fit;
  fit.batch = cfg.batch;
  fit.lr = cfg.lr;
  fit.seed = cfg.seed;
  if (cfg.lr_schedule == "cosine") fit.schedule = nn::Schedule::cosine(0);
  Metrics metrics;
  const double t0 = MPI_Wtime();

  // 2. The estimator.
  if (cfg.method == "kgmm") {
    model.clusters = kgmm(u, cfg.kgmm, comm);
    // Clusters that never received a sample carry no information: drop them.
    std::vector<Eigen::Index> keep;
    for (Eigen::Index k = 0; k < model.clusters.counts.size(); ++k)
      if (model.clusters.counts(k) > 0) keep.push_back(k);
    auto& c = model.clusters;
    const auto pick = [&](const Eigen::MatrixXd& m) { return Eigen::MatrixXd(m(Eigen::all, keep)); };
    c.centroids = pick(c.centroids);
    c.score = pick(c.score);
    c.noise_mean = pick(c.noise_mean);
    c.divergence = Eigen::VectorXd(c.divergence(keep));
    c.counts = Eigen::VectorXd(c.counts(keep));
    metrics.set("kgmm_passes", c.passes);
    metrics.set("kgmm_clusters", static_cast<double>(keep.size()));
    metrics.set("kgmm_seconds", MPI_Wtime() - t0);
    fit.epochs = cfg.epochs;
    const double t1 = MPI_Wtime();
    // K centroids are a tiny data set: every rank fits it whole (identical, deterministic) rather than
    // paying a reduction per minibatch.
    const Eigen::VectorXd w = cfg.fit_weights == "uniform" ? Eigen::VectorXd::Ones(c.counts.size()) : c.counts;
    const auto r = nn::fit_weighted_mse(model.eps_hat, c.centroids, c.noise_mean, w, fit, MPI_COMM_SELF);
    metrics.set("fit_seconds", MPI_Wtime() - t1);
    // RMS difference of the fitted score and the centroid scores, with the fit's weights (normalised units).
    metrics.set("score_fit_rms", std::sqrt(r.final_loss) / model.sigma);
  } else {
    // Denoising score matching: pairs (u + sigma z, z) over a global subsample, on every rank.
    const std::int64_t n = std::min(cfg.dsm_samples, s.n_train), stride = s.n_train / n;
    const auto mine = block_range(s.n_train, size(comm), rank(comm));
    const Philox rng(cfg.seed, 1, Purpose::score_noise);
    std::vector<double> local;
    for (std::int64_t i = 0; i < u.cols(); ++i) {
      const std::int64_t g = mine.begin + i;
      if (g % stride || g / stride >= n) continue;
      std::vector<double> z(static_cast<std::size_t>(d));
      rng.normals(static_cast<std::uint64_t>(g), z.data(), z.size());
      for (int j = 0; j < d; ++j) local.push_back(u(j, i) + cfg.kgmm.sigma * z[j]);
      for (int j = 0; j < d; ++j) local.push_back(z[j]);
    }
    // Gather in rank order = global order.
    int cnt = static_cast<int>(local.size());
    std::vector<int> counts(static_cast<std::size_t>(size(comm))), displs(counts.size(), 0);
    MPI_Allgather(&cnt, 1, MPI_INT, counts.data(), 1, MPI_INT, comm);
    for (std::size_t r = 1; r < counts.size(); ++r) displs[r] = displs[r - 1] + counts[r - 1];
    std::vector<double> all(static_cast<std::size_t>(displs.back() + counts.back()));
    MPI_Allgatherv(local.data(), cnt, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, comm);
    const Eigen::Index np = static_cast<Eigen::Index>(all.size()) / (2 * d);
    const Eigen::Map<const Eigen::MatrixXd> pairs(all.data(), 2 * d, np);
    fit.epochs = cfg.dsm_epochs;
    const auto r = nn::fit_weighted_mse(model.eps_hat, pairs.topRows(d), pairs.bottomRows(d),
                                        Eigen::VectorXd::Ones(np), fit, comm);
    metrics.set("dsm_pairs", static_cast<double>(np));
    metrics.set("dsm_loss", r.final_loss);
    metrics.set("fit_seconds", MPI_Wtime() - t0);
  }
  metrics.set("score_seconds", MPI_Wtime() - t0);

  // 3. Check in 1-D: the density the score implies against the validation data's PDF.
  double kl = std::nan("");
  if (d == 1 && cfg.clock_frequency == 0 && rank(comm) == 0 && s.valid0.size() > 16) {
    std::vector<double> v(s.valid0.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = (s.valid0[i] - model.mean(0)) / model.std(0);
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    // A diagnostic: validation samples without a PDF (no spread, a range beyond the grid) leave it NaN.
    try {
      const auto p = analysis::pdf(v.data(), v.size(), static_cast<std::size_t>(cfg.grid_points), *lo - 0.5, *hi + 0.5);
      const Eigen::VectorXd q = implied_density_1d(model, p.grid);
      kl = analysis::kl_divergence(p.kde, std::vector<double>(q.data(), q.data() + q.size()), p.grid[1] - p.grid[0]);
    } catch (const std::invalid_argument&) {
      kl = std::nan("");
    }
  }
  MPI_Bcast(&kl, 1, MPI_DOUBLE, 0, comm);
  if (d == 1 && cfg.clock_frequency == 0) metrics.set("kl.score_density", kl);

  // 4. model.h5.
  h5::OutputFile out(cfg.output, comm);
  out.write_root_attributes(cfg.seed);
  model.save(out);
  out.attribute("/", "data", cfg.data);
  out.attribute("/", "dataset", cfg.dataset);
  out.attribute("/score/mlp", "symmetry", cfg.symmetry);
  out.attribute("/normalization/mean", "train_fraction", cfg.train_fraction);
  out.attribute("/normalization/mean", "train_samples_per_member", s.nt_train);
  out.attribute("/normalization/mean", "validation_samples_per_member", s.nt - s.nt_train);
  out.commit();
  return metrics;
}

}  // namespace msrom::score
