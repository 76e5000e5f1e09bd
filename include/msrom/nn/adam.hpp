#pragma once
// Training: the Adam optimiser with learning-rate schedules, gradient reductions over MPI ranks, and
// fit_weighted_mse, the data-parallel minibatch fit the KGMM score uses.
//
// Adam (Kingma & Ba), step t = 1, 2, ... on gradient g:
//   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
//   p <- p - lr_t (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// with b1 = 0.9, b2 = 0.999, eps = 1e-8 by default (PyTorch's and the paper's; eps sits outside the root,
// as in PyTorch). lr_t = schedule(lr, t - 1): the first step uses the base rate.
//
// Reproducibility across rank counts. MPI_Allreduce may sum in a different order for 1, 2 or 4 ranks, and
// even one batched gradient splits its sum over samples differently when the batch is split over ranks, so
// the trained weights would differ in the last bits, and training amplifies that. ReproducibleSum fixes the
// order instead: samples are grouped into FIXED GLOBAL BLOCKS (the block size depends on the data, never on
// the rank count); each block's partial gradient is computed by one rank over exactly the same samples, in
// the same order, with the same code as on any other rank count, and the partials are gathered and added
// in ascending block order on every rank. The result is bitwise identical for any number of ranks, and every
// rank holds the same sum, so the same Adam step keeps the parameters identical without a broadcast.
#include <mpi.h>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "msrom/nn/mlp.hpp"

namespace msrom::nn {

// Learning rate as a function of the number of completed steps t = 0, 1, ...
struct Schedule {
  enum class Kind { constant, step_decay, cosine };
  Kind kind = Kind::constant;
  double factor = 1.0;        // step_decay: lr * factor^floor(t / every)
  std::int64_t every = 1;     // step_decay
  std::int64_t total = 0;     // cosine: lr_min + (lr - lr_min) (1 + cos(pi min(t, total) / total)) / 2
  double lr_min = 0.0;        // cosine

  static Schedule constant() { return {}; }
  static Schedule step_decay(double factor, std::int64_t every) { return {Kind::step_decay, factor, every, 0, 0.0}; }
  // total = 0 means "the whole run" where the run length is known (fit_weighted_mse); Adam rejects it.
  static Schedule cosine(std::int64_t total, double lr_min = 0.0) { return {Kind::cosine, 1.0, 1, total, lr_min}; }

  double lr(double base, std::int64_t t) const;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  Schedule schedule;
};

class Adam {
 public:
  // n = number of parameters. InputError for invalid rates/betas/schedule.
  explicit Adam(Eigen::Index n, AdamOptions options = {});

  // One step: params -= ... (see top of file). No allocation.
  void step(Eigen::Ref<Eigen::VectorXd> params, const Eigen::Ref<const Eigen::VectorXd>& grad);
  // The learning rate the next step will use.
  double learning_rate() const { return options_.schedule.lr(options_.lr, t_); }

  // State for checkpoints: first and second moments and the number of steps taken.
  const Eigen::VectorXd& m() const { return m_; }
  const Eigen::VectorXd& v() const { return v_; }
  std::int64_t t() const { return t_; }
  void set_state(const Eigen::VectorXd& m, const Eigen::VectorXd& v, std::int64_t t);
  void reset();
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
  Eigen::VectorXd m_, v_;
  std::int64_t t_ = 0;
};

// In place: v <- sum over the ranks of comm (MPI_Allreduce). Callers divide by the GLOBAL sample count (or
// weight) themselves, so that ranks holding fewer samples count less. The summation order is MPI's: results
// can differ in the last bits between rank counts; use ReproducibleSum when that matters.
void allreduce_sum(Eigen::Ref<Eigen::VectorXd> v, MPI_Comm comm);

// Sum of per-block partial vectors in ascending global block order, identical on every rank and for every
// rank count (see top of file). Each block must be contributed by exactly one rank (RuntimeError otherwise).
//
//   ReproducibleSum rs(n, comm);
//   rs.clear();
//   for (block b this rank owns) { auto p = rs.add(b); ...fill p... }  // p is zeroed; valid until next add
//   rs.reduce(total);                                                  // collective
//
// Buffers are kept between sums (no allocation once grown). One rank skips MPI but adds in the same order.
class ReproducibleSum {
 public:
  ReproducibleSum(Eigen::Index length, MPI_Comm comm);
  Eigen::Index length() const { return length_; }
  void clear() { ids_.clear(); }
  Eigen::Map<Eigen::VectorXd> add(std::int64_t block);
  void reduce(Eigen::Ref<Eigen::VectorXd> total);

 private:
  Eigen::Index length_;
  MPI_Comm comm_;
  int nranks_;
  std::vector<std::int64_t> ids_;
  std::vector<double> local_, gathered_;  // records [id, values...] of length_ + 1 doubles
  std::vector<int> counts_, displs_;
  std::vector<std::pair<std::int64_t, std::int64_t>> order_;  // (block id, record index)
};

struct FitOptions {
  int epochs = 1000;
  int batch = 32;
  double lr = 1e-3;
  Schedule schedule;       // in Adam steps; cosine with total = 0 spans the whole run
  std::uint64_t seed = 0;  // minibatch order (the network's initialisation has its own seed)
  // Samples per reduction block (fixed global blocks, see top of file). 0: ceil(n / 8), at least 16 — up to
  // 8 ranks share the work, and few blocks keep the per-block passes batched. The result depends on this
  // value, never on the rank count.
  std::int64_t block = 0;
  // Called on every rank after each epoch with (epoch, that epoch's loss), e.g. for progress output.
  std::function<void(int, double)> on_epoch;
};

struct FitResult {
  std::vector<double> epoch_loss;  // per epoch: sum_i w_i |f(x_i) - y_i|^2 / sum_i w_i over the epoch's batches
  double final_loss = 0;           // the same objective over all data with the final parameters
  std::int64_t steps = 0;
};

// Minimises  J = sum_i w_i |f(x_i) - y_i|^2 / sum_i w_i  with Adam over minibatches.
//
//  * X (in x n), Y (out x n), w (n, >= 0, not all 0) are the WHOLE data set, identical on every rank; a rank
//    reads only the samples of its shard: the contiguous run of reduction blocks block_range(nblocks, nranks,
//    rank) gives it.
//  * Each epoch is a Philox permutation of the global index set (key (seed, 2^40, training), counter = epoch),
//    cut into batches of `batch` (the last may be smaller), so batches are the same for any rank count.
//  * A batch's gradient is the unbiased estimate of dJ: (n / |batch|) sum_{i in batch} w_i de_i / sum_j w_j.
//    Each rank computes the partials of its blocks' batch members; ReproducibleSum adds them in block order.
// The network's parameters after the fit are bitwise identical on every rank and for every rank count.
// Collective over comm. InputError for invalid options.
FitResult fit_weighted_mse(Mlp& net, const Eigen::Ref<const Eigen::MatrixXd>& X,
                           const Eigen::Ref<const Eigen::MatrixXd>& Y, const Eigen::Ref<const Eigen::VectorXd>& w,
                           const FitOptions& options, MPI_Comm comm);

// sum_i w_i |f(x_i) - y_i|^2 / sum_i w_i over all columns (serial, no communication).
double weighted_mse(const Mlp& net, const Eigen::Ref<const Eigen::MatrixXd>& X,
                    const Eigen::Ref<const Eigen::MatrixXd>& Y, const Eigen::Ref<const Eigen::VectorXd>& w);

}  // namespace msrom::nn
