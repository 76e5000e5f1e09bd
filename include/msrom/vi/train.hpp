#pragma once
// Training the multiscale model by amortized reparametrization (method doc section 3; docs/vi.md): Adam on
// the negative ELBO of windows of B consecutive snapshots, shuffled across trajectories, data-parallel over
// MPI ranks with a bitwise rank-count-independent gradient.
//
// Step it = 0, 1, ... (W windows per step, slot w = 0..W-1):
//   window   = the n-th of all windows (trajectory k, first snapshot s, s + B <= nt_k) in trajectory order,
//              n = floor(U * n_windows), U = uniform (it, w) of Philox(seed, 2^40 + 33, training)
//              (WindowSampling::starts, the paper's). WindowSampling::snapshots instead: the n-th of all
//              snapshots of the trajectories that hold a window, n = floor(U * n_snapshots), and the window
//              that holds it at offset j = floor(U' B), U' = uniform (it, w) of Philox(seed, 2^40 + 34,
//              training), moved inside the trajectory: s = clamp(i - j, 0, nt_k - B). Every start is then
//              drawn with probability 1/N (N = the snapshots) except the two ends, (B + 1) / (2 N) each: a
//              trajectory's first and last snapshots are in about half as many windows as its middle
//              ones, where uniform starts put them in 1 of nt_k - B + 1 (the early, sharp states of a
//              short trajectory, e.g. the dam break's 101 snapshots with B = 64, are seen 38 times less
//              than the middle).
//   eps      = draw_eps(seed, it W + w)                                       (vi/elbo.hpp)
//   beta     = clip((it - warmup) / anneal, 0, 1)   (anneal <= 0: a step from 0 to 1 at warmup)
//   loss     = -(1 / (W B)) sum_w ELBO_w(beta)      (per snapshot; with the shooting term if on)
//   theta   <- Adam(theta, d loss / d theta),  lr 1e-3 * 0.9^floor(it / 2000) by default
//
// Data parallelism: the W windows of a step are the blocks of an nn::ReproducibleSum; rank r evaluates the
// slots block_range(W, size, r), the partial gradients (and the ELBO terms, appended) are added in slot
// order. Every rank takes the same Adam step, so the parameters stay identical on every rank and are
// bitwise the same for any number of ranks. Collective over comm.
#include <mpi.h>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "msrom/nn/adam.hpp"
#include "msrom/vi/elbo.hpp"
#include "msrom/vi/msde_model.hpp"

namespace msrom::vi {

// Trajectories of a field: u[k] is n_y x nt (snapshots as columns), all on the same time axis. A 2-D field
// [.., nx_data, ny_data] (row-major, the data's last axis fastest) is a column of n_y = nx_data ny_data
// points whose fastest axis is the layers' x: fine_ny = nx_data rows of ny_data points (nn/grid_layers.hpp).
// Several components (e.g. u and v) are stacked, component-slowest: u[k] = [u_1; ...; u_C] (MsdeModel::fields).
struct Trajectories {
  std::vector<Eigen::MatrixXd> u;
  Eigen::VectorXd time;
  int fine_ny = 1;  // 1: a 1-D field
  std::vector<std::string> components{"u"};  // the /fields/<name> datasets, in name order
  bool split_by_time = false;                // the split cut every member's time axis (see read_trajectories)
  double noise = 0;  // the observation noise's std (attribute "noise" of the first component; 0 if absent)
  int fields() const { return static_cast<int>(components.size()); }
};

// The members of one split (0 train, 1 validation, 2 test; -1 all) of a field data set written by
// `msrom simulate` (docs/pde.md: /fields/u [members, nt, nx] or [members, nt, nx, ny], /time [nt], /split
// [members]). Every dataset of /fields but the *_clean ones is a component (same shape; stacked in name
// order). A data set with the root attributes system_train_end = a and system_validation_end = b (one long
// trajectory, the cylinder wake) is split in time instead, for every member: train t <= a, validation
// a <= t <= b, test t >= b (the validation and test windows start from the previous split's last snapshot,
// their initial condition). Every rank reads the whole split. InputError naming the file for a missing or
// mis-shaped dataset or a split without members (or, split in time, with fewer than 2 snapshots).
Trajectories read_trajectories(const std::string& path, int split, const std::string& option = "-data");

// How a step's windows are drawn (see top of file).
enum class WindowSampling { starts, snapshots };

struct TrainOptions {
  int window = 64;           // B snapshots per window
  WindowSampling sampling = WindowSampling::starts;
  int windows_per_step = 1;  // W
  int iterations = 1000;
  double lr = 1e-3;
  nn::Schedule schedule = nn::Schedule::step_decay(0.9, 2000);
  int kl_warmup = 0;  // beta = clip((it - warmup) / anneal, 0, 1)
  int kl_anneal = 1600;
  std::uint64_t seed = 1;  // window draws and eps (the model's initialisation has its own seed)
  ShootingOptions shooting;  // the ELBO's multiple-shooting term (vi/elbo.hpp; off by default)
  // Called on every rank after each step with (it, report).
  struct Report {
    double loss = 0, log_likelihood = 0, drift_residual = 0, beta = 0, lr = 0;  // per snapshot, before the step
    double shooting = 0;  // per snapshot (0 when off); loss includes beta times it
  };
  std::function<void(int, const Report&)> on_step;
  // Continuing a run (checkpoints, the schedule's stages): the first step is `start` (the window draws,
  // eps, beta and learning rate are those of step `start` of an uninterrupted run), and with `adam` set
  // that optimiser (its moments and step count) is used and left in its final state instead of a fresh
  // one. `stop_after(it)`, called on every rank after step it (after on_step), ends the run early when it
  // returns true; it must return the same on every rank (e.g. decided by an allreduce).
  int start = 0;
  nn::Adam* adam = nullptr;
  std::function<bool(int)> stop_after;
};

struct TrainResult {
  std::vector<TrainOptions::Report> steps;  // the steps taken by this call (start, start + 1, ...)
  int next = 0;                             // the first step not taken (iterations, or earlier if stopped)
};

// Mean negative ELBO per snapshot (beta = 1) over the non-overlapping windows tiling every trajectory of
// `data` (at most max_windows, in trajectory order; eps = draw_eps(seed, 2^32 + window)): the validation
// loss. Windows are spread over the ranks as blocks of an nn::ReproducibleSum (bitwise rank-count
// independent). Collective over comm.
double validation_loss(const MsdeModel& model, const Trajectories& data, int window, int max_windows,
                       std::uint64_t seed, MPI_Comm comm);

double kl_beta(int it, int warmup, int anneal);

// The window (trajectory, first snapshot) of slot w at step it (see top of file).
std::pair<int, Eigen::Index> draw_window(const Trajectories& data, int window, std::uint64_t seed, std::uint64_t it,
                                         std::uint64_t slot, WindowSampling sampling = WindowSampling::starts);

// Trains `model` in place (see top of file). InputError for invalid options or trajectories shorter than a
// window or not matching the model's n_y.
TrainResult train(MsdeModel& model, const Trajectories& data, const TrainOptions& options, MPI_Comm comm);

}  // namespace msrom::vi
