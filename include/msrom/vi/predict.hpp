#pragma once
// Prediction with the learned coarse SDE (method doc section 4; Ilersich & Nair 2025, "Prediction"):
//
//   z_0^(m) = encoder mean of y_0 (+ sqrt(encoder variance) xi_m, xi_m ~ N(0, I)),  m = 1..M samples
//   dz = f_theta(z) dt + diag(g) dW      with h = dt_snapshot / substeps, by Euler-Maruyama (the default)
//        z_{n+1} = z_n + h f(z_n) + sqrt(h) g .* N_n
//   or by the stochastic Heun scheme (-predict_integrator heun; the same N_n in both stages)
//        z~ = z_n + h f(z_n) + sqrt(h) g .* N_n,   z_{n+1} = z_n + h/2 (f(z_n) + f(z~)) + sqrt(h) g .* N_n
//   (the noise is additive, so both have strong order 1; Heun has weak order 2 and is the deterministic
//   RK2, whose amplification for an oscillation of frequency w is 1 + (w h)^4 / 8 per step instead of EM's
//   1 + (w h)^2 / 2: stiff damping and oscillatory modes need far fewer steps. sde_solve below is the
//   scheme on any drift, tested on the Ornstein-Uhlenbeck process against each scheme's exact moments)
//   y_hat(t) = (1/M) sum_m mean of p(y | z^(m)(t))      decoded on the fine grid, in data units
//   eps(t)   = ||y(t) - y_hat(t)|| / ||y(t)||             (the coarse-DNS metric, pde/coarse_dns.hpp)
//
// The noise of trajectory k is Philox(seed, k, dynamics_noise): step n draws the D x M increments at
// counter n + 1, the initial samples at counter 0. Each trajectory is one call, so the result does not
// depend on how trajectories are spread over ranks.
#include <mpi.h>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "msrom/vi/msde_io.hpp"
#include "msrom/vi/msde_model.hpp"

namespace msrom::vi {

// InputError "<option>: '<path>' ..." unless `data` is on the grid the model was trained on (points and rows).
void check_grid(const MsdeModel& model, const Trajectories& data, const std::string& option, const std::string& path);

// Inference passes of the model (batch = columns). Encoder mean: D x B from n_y x B.
Eigen::MatrixXd encode_mean(const MsdeModel& model, const Eigen::Ref<const Eigen::MatrixXd>& Y);
// f_theta(time, Z): D x B (every column at the same time; read only by a drift of time, config.drift_time).
Eigen::MatrixXd drift(const MsdeModel& model, const Eigen::Ref<const Eigen::MatrixXd>& Z, double time);
// Mean of p(y | z): n_y x B.
Eigen::MatrixXd decode_mean(const MsdeModel& model, const Eigen::Ref<const Eigen::MatrixXd>& Z);

// The fixed-step scheme of the rollouts (see the top of this file).
enum class Integrator { euler_maruyama, heun };
// "em" or "heun" (InputError naming `option` otherwise), and back.
Integrator integrator_from_string(const std::string& name, const std::string& option);
const char* to_string(Integrator i);

// dz = f(t, z) dt + diag(g) dW on a batch Z (D x M, in place) from t0 over `steps` steps of h by `scheme`
// (f(t, Z, F) writes F; step n evaluates it at t0 + n h, and Heun's corrector at t0 + (n + 1) h); the
// increments of step n are Philox(seed, member, dynamics_noise) at counter counter0 + n (Heun uses them in
// both stages). `observe` (may be empty) is called after each step with (n + 1, Z).
void sde_solve(const std::function<void(double, const Eigen::MatrixXd&, Eigen::MatrixXd&)>& f,
               const Eigen::VectorXd& g, Eigen::MatrixXd& Z, double t0, double h, long steps, std::uint64_t seed,
               std::uint64_t member, std::uint64_t counter0, Integrator scheme = Integrator::euler_maruyama,
               const std::function<void(long, const Eigen::MatrixXd&)>& observe = {});

struct RolloutOptions {
  int samples = 64;            // M
  int substeps = 1;            // SDE steps per snapshot interval
  Integrator integrator = Integrator::euler_maruyama;
  bool sample_initial = true;  // z_0 drawn from the encoder's posterior (false: all at its mean)
  double noise_scale = 1.0;    // the rollouts' diffusion is noise_scale * g (0: the drift's ODE, a diagnostic)
  std::uint64_t seed = 1;
  int ranks_per_member = 1;  // predict_split: a local model's member split over this many ranks
};

// Mean prediction y_hat (n_y x nt) of one trajectory from y0 (data units) at the times t (t[0] = y0's), on
// every rank of comm. A global model integrates the M samples as one batch (sde_solve; comm must be one rank);
// a local model's samples live on a vi::DistributedRollout over comm: its step noise is keyed per (cell,
// sample, channel) instead (docs/vi.md), and the result is bitwise the same for any size of comm.
Eigen::MatrixXd rollout(const MsdeModel& model, const Normalisation& norm, const Eigen::VectorXd& y0,
                        const Eigen::VectorXd& t, const RolloutOptions& o, std::uint64_t member,
                        MPI_Comm comm = MPI_COMM_SELF);

// The same rollout, observed sample by sample: observe(n, Y) gets the decoded means of the M samples at
// snapshot n (n_y x M, in the model's normalised units: y = Y * norm.scale + norm.mean). Returns the number of
// snapshots observed (nt, or the snapshot at which the state stopped being finite).
Eigen::Index rollout_samples(const MsdeModel& model, const Normalisation& norm, const Eigen::VectorXd& y0,
                             const Eigen::VectorXd& t, const RolloutOptions& o, std::uint64_t member, MPI_Comm comm,
                             const std::function<void(Eigen::Index, const Eigen::MatrixXd&)>& observe);

// eps(t) = ||y - y_hat|| / ||y|| per snapshot (columns).
Eigen::VectorXd relative_error(const Eigen::Ref<const Eigen::MatrixXd>& Y, const Eigen::Ref<const Eigen::MatrixXd>& Yhat);

// Predictions of every trajectory of `data` (member index k = position in the split), spread over groups of
// o.ranks_per_member ranks of comm in contiguous blocks (InputError if that does not divide the ranks, or
// exceeds 1 for a global model); eps [k][n] on every rank. `keep` trajectories (the first ones) also return
// their predicted fields (n_y x nt), on every rank.
struct SplitPrediction {
  Eigen::MatrixXd eps;                  // trajectories x nt
  std::vector<Eigen::MatrixXd> fields;  // the first `keep`
  double mean = 0, std = 0;             // over all (trajectory, time) pairs (population std)
};
SplitPrediction predict_split(const MsdeModel& model, const Normalisation& norm, const Trajectories& data,
                              const RolloutOptions& o, int keep, MPI_Comm comm);

// The representation's floor under every rollout: eps of decode_mean(encode_mean(y(t))) against y(t), in data
// units, for every snapshot (trajectories x nt). Trajectories spread over the ranks of comm in contiguous
// blocks, the result on every rank (bitwise the same for any rank count).
Eigen::MatrixXd reconstruction_error(const MsdeModel& model, const Normalisation& norm, const Trajectories& data,
                                     MPI_Comm comm);

// Long-run statistics of the fields (issue 8's Kuramoto-Sivashinsky question): the truth of a split against
// the model's samples, each decoded alone (no ensemble mean), rolled out over each trajectory's whole span
// from its first snapshot. Trajectories spread over groups as in predict_split; sums reduced over comm.
//   spectrum  mean power spectrum (analysis::power_spectrum) over snapshots (and samples), k = 0..n_y/2
//   pdf       histogram density of u on `bins` bins spanning the data's range, padded by 10% each side
//   acf       time ACF per fine point (analysis::acf, lags 0..max_lag snapshots), averaged over points (and
//             samples, trajectories)
// Errors: spectrum_error = max over k = 1..resolved of |E_model - E_data| / E_data; kl = KL(data || model)
// of the histograms; acf_error = max over lags of |rho_model - rho_data|. Samples that diverge stop
// contributing at that snapshot (counted in `diverged`); constant series have no ACF (counted in
// `constant_series`, and the ACF is the mean over the others, 0 if there are none).
struct FieldStatistics {
  std::vector<double> spectrum, pdf_grid, pdf, acf;
};
struct StatisticsComparison {
  FieldStatistics data, model;
  double spectrum_error = 0, kl = 0, acf_error = 0;
  int resolved = 0;  // the wavenumbers of spectrum_error: 1..resolved
  long diverged = 0;
  long constant_series = 0;  // the model's (sample, point) series without variance: left out of its ACF
};
StatisticsComparison compare_statistics(const MsdeModel& model, const Normalisation& norm, const Trajectories& data,
                                        const RolloutOptions& o, int max_lag, int bins, int resolved, MPI_Comm comm);

// Mean and population std of all entries.
std::pair<double, double> mean_std(const Eigen::Ref<const Eigen::MatrixXd>& a);

}  // namespace msrom::vi
