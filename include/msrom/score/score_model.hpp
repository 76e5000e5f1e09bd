#pragma once
// The learned score of Method A: s(x) = grad log p(x) of the invariant density of the slow variables,
// as an MLP eps_hat in normalised coordinates u = (x - mean) / std:
//
//   s_u(u) = -eps_hat(u) / sigma_n            (normalised coordinates, what the Langevin model uses)
//   s_x(x) = s_u((x - mean) / std) / std      (physical coordinates, chain rule)
//
// Two estimators behind one interface (-score_method):
//   kgmm  cluster statistics of noised data (kgmm.hpp), then eps_hat fitted to (c_k -> E[z | k]) with a
//         count-weighted MSE
//   dsm   denoising score matching at the same noise level: eps_hat fitted to (x + sigma z -> z) directly
//         over noised copies of the training samples
// model.h5 layout (docs/architecture.md): /normalization/{mean,std}; /score/{centroids [K,d], values [K,d],
// divergence [K], counts [K]} (attribute sigma; kgmm only) and /score/mlp.
#include <mpi.h>

#include <Eigen/Dense>
#include <string>

#include "msrom/core/files.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/score/kgmm.hpp"

namespace msrom {
class Options;
namespace h5 {
class File;
class OutputFile;
}  // namespace h5
}  // namespace msrom

namespace msrom::score {

struct ScoreModel {
  Eigen::VectorXd mean, std;  // normalisation (per dimension)
  double sigma = 0.05;        // noise level the score belongs to
  // > 0: the score's input is [sin 2 pi f t, cos 2 pi f t, x...] (the clock-augmented state of a periodically
  // forced system, method doc section 3); a ROM evolves x only and takes the clock from the true time.
  double clock_frequency = 0;
  std::string method = "kgmm";
  nn::Mlp eps_hat;            // d -> d
  KgmmResult clusters;        // kgmm only (centroids and their statistics, normalised coordinates)

  int dim() const { return static_cast<int>(mean.size()); }
  // Scores at the columns of U (normalised coordinates).
  Eigen::MatrixXd score_normalized(const Eigen::MatrixXd& U) const;
  void save(h5::OutputFile& out) const;
  static ScoreModel load(const h5::File& file);
};

struct LearnScoreConfig {
  std::string data, dataset = "/state", output = "model.h5", method = "kgmm";
  double train_fraction = 0.8;
  KgmmOptions kgmm;
  std::vector<int> hidden{100, 50};
  std::string activation = "swish";
  int epochs = 2000, batch = 32;
  double lr = 1e-3;
  std::int64_t dsm_samples = 50000;  // noised (x~, z) pairs for dsm
  double clock_frequency = 0;        // > 0: learn on [sin 2 pi f t, cos 2 pi f t, x] (/time gives t)
  // The clock rows' size in the normalised state, relative to unit variance. The data fill a cylinder around
  // the x axis whose circumference grows with it; the k-means partition spreads its K clusters over that
  // surface, so a smaller clock leaves more of them for x, where the score has its structure (the slow,
  // weak forcing makes the score vary gently with the phase). Stored in model.h5 through the clock rows' std.
  double clock_scale = 1.0;
  // "odd": the invariant density is symmetric under u -> -u of the whole learned state (clock rows included,
  // i.e. together with a half-period shift), so the score is odd; the training samples are augmented with
  // their mirror images (interleaved, so the global sample order and the result do not depend on the ranks).
  std::string symmetry = "none";
  // Weights of the centroids in the eps_hat fit: "counts" (samples per cluster: inverse variance of E[z|k])
  // or "uniform" (every centroid alike, so the sparse barrier regions, which set the wells' relative mass
  // through exp(int s), are fitted as closely as the wells).
  std::string fit_weights = "counts";
  std::string lr_schedule = "cosine";  // lr decays to 0 over the fit (a finer final fit), or "constant"
  int dsm_epochs = 40;
  std::uint64_t seed = 1;
  long grid_points = 2048;
};
LearnScoreConfig read_learn_score_options(const Options& opts, bool read_paths = true);

// Reads the data, splits train/validation (first train_fraction of every member's time series trains),
// normalises, estimates the score, writes model.h5 and returns the metrics (on every rank): among them, in
// 1-D, kl.score_density = KL(validation data PDF || density implied by the learned score).
Metrics learn_score(const LearnScoreConfig& cfg, MPI_Comm comm);

// A data set split for learning: the first train_fraction of every member's series trains. Each rank
// holds a contiguous block of the training samples (physical units), rank 0 also the validation part of
// the first variable.
struct TrainingData {
  Eigen::MatrixXd train;           // d x n_local
  std::vector<char> series_start;  // per local column: a new series (member) starts here
  std::vector<double> valid0;      // rank 0: first variable of every member's validation part
  std::int64_t n_train = 0, n_valid = 0, members = 1, nt = 0, nt_train = 0;
  double sample_dt = 1;            // from /time (1 if absent)
};
// clock_frequency > 0 prepends the rows sin(2 pi f t), cos(2 pi f t), t from /time.
TrainingData read_training_data(const std::string& data, const std::string& dataset, double train_fraction,
                                std::int64_t min_samples, MPI_Comm comm, double clock_frequency = 0);

// The density implied by a 1-D score on a grid: p ~ exp(int s), normalised by the trapezoid rule.
Eigen::VectorXd implied_density_1d(const ScoreModel& model, const std::vector<double>& grid_u);

}  // namespace msrom::score
