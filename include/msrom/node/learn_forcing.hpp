#pragma once
// `msrom learn-forcing`: the neural-ODE model of the fast forcing (method doc section 4), added to model.h5.
//
// 1. Residual at the data's full sampling resolution, in the model's normalised coordinates u:
//        r_n = (u_{n+1} - u_n) / dt - Phi s(u_n)
//    with the learned score MLP (which continues smoothly outside the clustered range; no analytic tail).
//    Pairs never cross a member's series; only the training part (first train_fraction) is used.
// 2. z-scored per component: r_hat = (r - mean_r) / std_r.
// 3. Delay vectors u_t = [r_hat_t, r_hat_{t - tau}, ..., r_hat_{t - (m-1) tau}] with tau = max(1, round(0.25
//    tau_opt)), tau_opt the first lag where the ACF of r_hat (first component, averaged over members) drops
//    below 0.2 (options).
// 4. An ensemble of NODEs du/dt = NN(u) (node/node.hpp), member i initialised with seed + i and drawing its
//    windows with seed + i, trained in parallel, one member per rank group, data-parallel inside a group.
// 5. Check: a free run of every NODE (from `check_trajectories` data delay vectors) gives the ACF of its first
//    component; acf_error.node is the largest |rho_NODE(k) - rho_residual(k)| up to the residual ACF's first
//    zero crossing, for the members' pooled ACF (acf_error_max.node: the worst single member).
// 6. sigma_L, the fitted amplitude of the coloured unit-variance forcing in the hybrid step
//        u_{n+1} = u_n + dt Phi s(u_n) + sqrt(2 dt) sigma_L r_hat_n,
//    which replaces the Langevin model's white noise sqrt(2 dt) sigma xi_n (sigma sigma^T = sym(Phi)). Over
//    times long against the forcing's memory the slow variable feels only the forcing's long-run variance
//    (Green-Kubo: a sum of r_hat_n over N steps has variance N S, S = var (1 + 2 sum_k rho(k)), in samples), so
//    the hybrid has the Langevin model's diffusion D = (sigma sigma^T)_jj, and with it the learned invariant
//    density, when 2 sigma_L^2 S = 2 D:  sigma_L = sqrt(D / S_node), S_node that of the NODE's free runs about
//    each NODE's own mean (the hybrid centres r_hat on it: a NODE's bias would tilt the wells). Stored as the
//    gain g = sigma_L sqrt(2 / dt) / std_r on the residual's amplitude (g = 1 reproduces a data step exactly),
//    and as the diffusion D_w = max(0, D - D_node), D_node = std_r^2 S_node dt / 2, that white noise must add to
//    the unscaled forcing for the same long-run diffusion (the hybrid ROM's closures: rom/hybrid.hpp).
//    The fit matters: a NODE trained on short windows gets the fast decay right and the slow tail of the ACF
//    wrong, and its S with it. S by batch means (analysis::BatchMeans) with blocks of -forcing_gain_block
//    (default: 4 x the residual ACF's first zero, at most half a free run). The residual's own D_res =
//    std_r^2 S_res dt / 2 is reported beside D (diffusion.residual, diffusion.langevin).
//    -forcing_refit redoes steps 5 and 6 (and rewrites the group) for the NODEs already in it, without training.
//    -forcing_continue trains the NODEs already in the group further, with this run's training options (window,
//    batch, iterations, lr, seed; m and tau are the group's), then redoes steps 5 and 6; the loss rows are
//    the stored ones followed by this run's, and the window attribute is this run's.
//
// model.h5, group /forcing (replaced if present):
//   /forcing/node/<i>              member i (nn::Mlp::save)
//   /forcing/normalization/{mean,std}  [d]  of the residual r
//   /forcing/sigma_L               [d]  sqrt(D / S_node)
//   /forcing/gain                  [d]  g = sigma_L sqrt(2 / dt) / std_r (rom/hybrid.hpp)
//   /forcing/white_diffusion       [d]  D_w
//   /forcing/node_mean             [members, d]  each NODE's free-run mean of r_hat
//   /forcing/long_run_variance/{residual,node}  [d]  S_res, S_node (samples); attribute block (time)
//   /forcing/residual_acf          [lags+1]  rho of r_hat (first component)
//   /forcing/loss                  [members, iterations]  batch loss per Adam step
//   /forcing/initial_states        [bank, m d]  data delay vectors spread over the training windows (the
//                                  hybrid ensemble's initial NODE states)
//   attributes of /forcing: m, tau (time), tau_samples, dt (sample spacing), members, window, acf_error,
//   series ("residual" | "state")
//
// The forecast baseline "NODE on delay-embedded x" is the same procedure on the slow variable itself
// (-forcing_series state): r = u (normalised coordinates), z-scored, into the group /baseline_node by default
// (-forcing_group). sigma_L is meaningless there and not written.
#include <mpi.h>

#include <string>
#include <vector>

#include "msrom/core/files.hpp"
#include "msrom/core/progress.hpp"
#include "msrom/node/node.hpp"

namespace msrom {
class Options;
}

namespace msrom::node {

struct LearnForcingConfig {
  std::string data, dataset = "/state", model;
  std::string series = "residual";  // residual: r of step 1; state: the slow variable u itself (baseline)
  std::string group;                // output group; "" = /forcing (residual) or /baseline_node (state)
  int bank = 256;                   // stored initial delay vectors
  double train_fraction = 0.8;
  int m = 10;
  double tau = 0;               // time units; 0: from the ACF rule below
  double acf_threshold = 0.2, tau_factor = 0.25, max_lag = 5.0;  // max_lag: time units of the residual ACF
  std::vector<int> hidden{256, 256};
  std::string activation = "swish";
  int members = 4;
  TrainOptions train;           // steps (window), batch, iterations, lr, decay, block, seed
  std::string lr_schedule = "cosine";
  int check_trajectories = 16;
  double check_time = 20;       // length of each free run (time units)
  double gain_block = 0;        // batch-means block (time units) of the amplitude fit; 0: automatic
  bool refit = false;           // check and fit the NODEs already in the group; no training
  bool resume = false;          // train the NODEs already in the group further (-forcing_continue), then check and fit
  std::uint64_t seed = 1;
  ProgressMode progress = ProgressMode::automatic;
};
LearnForcingConfig read_learn_forcing_options(const Options& opts, bool read_paths = true);

// Collective over comm; returns the metrics on every rank.
Metrics learn_forcing(const LearnForcingConfig& cfg, MPI_Comm comm);

}  // namespace msrom::node
