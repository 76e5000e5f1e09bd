#pragma once
// The neural ODE of Method A, section 4: du/dt = NN(u) on delay vectors of the (z-scored) residual forcing.
//
// Delay vectors. A series r (d x n, consecutive samples as columns) and lag tau (samples) give at time t
//
//   u_t = [r_t; r_{t - tau}; ...; r_{t - (m-1) tau}]        (m d entries; row block k = lag k tau)
//
// defined for t >= (m-1) tau. They are never stored: DelaySeries gathers the columns a batch needs.
//
// Training windows. A window starts at time t, from the data's u_t, and integrates K RK4 steps of size h
// (the sample spacing): prediction k (k = 1..K) is compared with the data's u_{t+k}. The loss of a batch
// of B windows is
//
//   J = (1 / (B n W)) sum_b sum_{k=1..K} w_k |u_pred,k - u_{t_b + k}|^2,   w_k = exp(-k / (decay K)),
//   W = sum_k w_k,   n = m d
//
// i.e. the weights sit on the squared errors and prediction k meets data k (the authors' code compared
// shifted samples and squared a weighted sum; method doc section 4.3).
//
// Gradients: discretise-then-optimise, by reverse-mode through the RK4 stages and steps. With
// k1 = f(u), k2 = f(u + h/2 k1), k3 = f(u + h/2 k2), k4 = f(u + h k3), u' = u + h/6 (k1 + 2 k2 + 2 k3 + k4)
// and the cotangent g' = dJ/du':
//
//   dk4 = h/6 g'                 g4 = J_f(x4)^T dk4
//   dk3 = h/3 g' + h g4          g3 = J_f(x3)^T dk3
//   dk2 = h/3 g' + h/2 g3        g2 = J_f(x2)^T dk2
//   dk1 = h/6 g' + h/2 g2        g1 = J_f(x1)^T dk1
//   g = g' + g1 + g2 + g3 + g4   (plus the loss term of u itself)
//
// and every J_f^T also accumulates dJ/dparams (nn::Mlp::backward). All windows of a block go through one
// matrix product per layer and stage (the batch is the columns). The forward pass keeps one Tape per stage
// (4 K tapes); nothing is allocated once the trainer has seen a block this large.
//
// Data parallelism (train): a batch is cut into FIXED blocks of windows (nn::ReproducibleSum), so the trained
// parameters are bitwise identical for any number of ranks. Ensembles (train_ensemble): members are spread
// over rank groups (MPI_Comm_split), each group trains its members data-parallel.
#include <mpi.h>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <vector>

#include "msrom/nn/adam.hpp"
#include "msrom/nn/mlp.hpp"

namespace msrom::node {

// A view of delay vectors of a series (see top of file). The series must outlive the view.
struct DelaySeries {
  const Eigen::MatrixXd* r = nullptr;  // d x n
  int m = 1;
  Eigen::Index tau = 1;

  int dim() const { return m * static_cast<int>(r->rows()); }
  Eigen::Index first() const { return Eigen::Index{m - 1} * tau; }  // the first t with a full vector
  // u_t into out (dim() entries).
  void gather(Eigen::Index t, double* out) const;
};

// All delay vectors of r: (m d) x (n - (m-1) tau), column j is u_{j + (m-1) tau}. InputError if the series
// is too short, m < 1 or tau < 1.
Eigen::MatrixXd delay_embed(const Eigen::Ref<const Eigen::MatrixXd>& r, int m, Eigen::Index tau);

// The lag rule of the method: tau_opt = the first lag k >= 1 with rho(k) < threshold; tau = max(1,
// round(factor tau_opt)) samples. InputError if rho never drops below the threshold.
Eigen::Index embedding_lag(const std::vector<double>& rho, double threshold = 0.2, double factor = 0.25);

// First lag k >= 1 with rho(k) <= 0 (rho.size() if none).
std::size_t first_zero(const std::vector<double>& rho);

// Loss and gradient of one block of windows (top of file). Reusable; allocation-free after the first
// block of a given size.
class NodeTrainer {
 public:
  // h: the RK4 step (= the data's sample spacing); steps: K; decay: w_k = exp(-k / (decay K)).
  NodeTrainer(double h, int steps, double decay = 1.0);

  int steps() const { return steps_; }
  double h() const { return h_; }
  const std::vector<double>& weights() const { return w_; }  // w_1..w_K

  // For the windows starting at times `starts` (each with starts[b] >= data.first() and starts[b] + K
  // inside the series): returns sum_b sum_k w_k |e|^2 * scale, and ADDS its gradient (times scale) to grad
  // (net.num_params() entries). scale = 1 / (B_total n W) gives J of a batch of B_total windows.
  double loss_and_gradient(const nn::Mlp& net, const DelaySeries& data, const Eigen::Index* starts, Eigen::Index B,
                           double scale, Eigen::Ref<Eigen::VectorXd> grad);
  // The same loss without the gradient (inference kernels, no tapes).
  double loss(const nn::Mlp& net, const DelaySeries& data, const Eigen::Index* starts, Eigen::Index B,
              double scale);

 private:
  double h_;
  int steps_;
  std::vector<double> w_;
  std::vector<nn::Tape> tapes_;        // 4 per step
  Eigen::MatrixXd u_, x_, err_, g_, dy_, acc_;
  std::vector<Eigen::MatrixXd> gx_;    // 4 stage input cotangents
  Eigen::MatrixXd target_;
  nn::Workspace ws_;
  void gather(const DelaySeries& data, const Eigen::Index* starts, Eigen::Index B, Eigen::Index offset,
              Eigen::MatrixXd& out) const;
};

// One RK4 step of du/dt = net(u) for the columns of U (in place), with the inference kernels; k1..k4 and x
// are scratch (n x B, resized if needed).
void rk4_step(const nn::Mlp& net, Eigen::Ref<Eigen::MatrixXd> U, double h, Eigen::MatrixXd scratch[5],
              nn::Workspace& ws);

struct TrainOptions {
  int steps = 60;          // RK4 steps per window (K)
  int batch = 100;         // windows per Adam step
  int iterations = 1000;   // Adam steps
  double lr = 1e-2;
  nn::Schedule schedule;   // in Adam steps; cosine with total = 0 spans the run
  double decay = 1.0;      // w_k = exp(-k / (decay K))
  int block = 25;          // windows per reduction block (the result depends on it, not on the ranks)
  std::uint64_t seed = 1;  // window draws (the network's initialisation has its own seed)
  std::function<void(int, double)> on_step;  // (step, batch loss), every rank
};

struct TrainResult {
  std::vector<double> loss;  // per Adam step, the batch's J before the step
};

// The window start times of a set of series: `segments` lists [begin, end) column ranges of data.r (one per
// member), and every t with begin + (m-1) tau <= t and t + steps < end qualifies, in ascending order.
std::vector<Eigen::Index> window_starts(const DelaySeries& data, const std::vector<std::pair<Eigen::Index, Eigen::Index>>& segments,
                                        int steps);

// Adam on J over random batches of windows: step s draws batch indices into `starts` uniformly with
// Philox(seed, 2^40, training) at counter s. Collective over comm (data-parallel over the blocks); the
// parameters are bitwise identical on every rank and for every rank count.
TrainResult train(nn::Mlp& net, const DelaySeries& data, const std::vector<Eigen::Index>& starts, double h,
                  const TrainOptions& options, MPI_Comm comm);

// An ensemble: member i is `nets[i]` (already initialised with its own seed) trained with seed
// options.seed + i. Members go to rank groups round-robin (group g = rank * groups / size, groups = min(size,
// members)); afterwards every rank of comm holds every trained member. The result does not depend on the
// number of ranks. losses[i]: member i's per-step losses.
void train_ensemble(std::vector<nn::Mlp>& nets, const DelaySeries& data, const std::vector<Eigen::Index>& starts,
                    double h, const TrainOptions& options, MPI_Comm comm,
                    std::vector<std::vector<double>>* losses = nullptr);

// An ensemble of NODEs advanced together: column c of a state matrix V runs network node_of_column[c]; the
// columns of one network go through it as one batch (the inference kernels give every column the same result
// whatever the batch, so the outcome does not depend on how members are spread over ranks).
class EnsembleStepper {
 public:
  // node_of_column[c] in [0, networks).
  void assign(std::vector<int> node_of_column, int networks);
  // `substeps` RK4 steps of size h for every column of V (V has as many columns as assigned).
  void step(const std::vector<nn::Mlp>& nets, Eigen::Ref<Eigen::MatrixXd> V, double h, int substeps = 1);

 private:
  std::vector<std::vector<Eigen::Index>> cols_;  // per network
  Eigen::MatrixXd v_, scratch_[5];
  nn::Workspace ws_;
};

// Free runs for the ACF check: from the delay vectors at times `t0` (columns), `steps` RK4 steps of h;
// returns component `row` of the state (default 0: r_hat_t of the first variable) after every step, one column
// per trajectory (steps x B).
Eigen::MatrixXd free_run(const nn::Mlp& net, const DelaySeries& data, const std::vector<Eigen::Index>& t0, double h,
                         Eigen::Index steps, Eigen::Index row = 0);

}  // namespace msrom::node
