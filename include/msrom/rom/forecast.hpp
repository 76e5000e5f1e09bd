#pragma once
// `msrom forecast`: transition forecasts of the hybrid ROM against two baselines (method doc section 5).
//
// 1. The validation part of every member (after the first -score_train_fraction), in the model's normalised
//    coordinates u. Transitions: zero crossings of u whose past and future window means (-forecast_window, 8
//    time units) both exceed -forecast_threshold (0.7) in size with opposite signs, >= -forecast_separation
//    (1) apart (analysis::transitions_windowed); t_c is the first sign change IN the transition's direction
//    from there (the detector may pick a jitter crossing the other way just before). Only transitions with room for the longest lead and the
//    tolerance are used, the same set at every lead; -forecast_transitions N keeps N spread evenly.
// 2. For every transition (crossing at sample i_c) and lead theta (-forecast_leads in Lyapunov times of the
//    driver, -forecast_leads_time in time units), every model starts at s = i_c - theta/dt from the TRUE
//    state and runs to i_c + tol/dt (tol = -forecast_tolerance Lyapunov times), an ensemble of E members
//    (-forecast_members, 50):
//      hybrid    (rom/hybrid.hpp) u_s true; NODE state = the true residual delay vector at s plus N(0, p^2)
//                (p = -forecast_perturbation), member e runs NODE e' mod K (e' its global column index)
//      langevin  the same drift Phi s(u) with white noise sqrt(2 dt) Sigma xi (the Langevin ROM)
//      node_x    a NODE on delay vectors of u itself (/baseline_node of learn-forcing -forcing_series state),
//                from the true delay vector at s plus the same perturbation; u = mean + std w_0
// 3. Scores per (model, lead), averaged over transitions (per transition first, over its E members):
//      hit_rate       fraction of members whose first crossing in the transition's direction (from the old
//                     well's sign to the new one's) lies within tol of the true crossing time
//      hit_rate_mean  fraction of transitions whose ENSEMBLE MEAN crosses within tol
//      rmse           root-mean-square error of u over [s, i_c + tol] (members and samples)
//      timing_error   mean |t_cross - t_c| over the members that crossed at all in the window
// 4. The forcing check on the validation data: PDF and ACF of the residual r_hat against free runs of the
//    NODEs started from validation delay vectors.
//
// forecast.h5:
//   /leads [L] (time units; attributes lyapunov_time, tolerance), /leads_label (attribute, strings)
//   /transitions/{time, member, direction} [T]
//   /skill/<model>/{hit_rate, hit_rate_mean, rmse, timing_error} [L], per transition .../hit [L, T]
//   /examples/{time [S], truth [X, S], <model> [X, E, S]}  X transitions at the lead nearest
//                                                          -forecast_example_lead, about 200 samples
//   /residual/{grid, pdf_data, pdf_node, lag, acf_data, acf_node}
// Everything is bitwise the same for any number of ranks (transitions are split over ranks; per-transition
// results are gathered, not summed, before the averages).
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "msrom/core/files.hpp"
#include "msrom/core/progress.hpp"

namespace msrom {
class Options;
}

namespace msrom::rom {

struct ForecastConfig {
  std::string data, dataset = "/state", model, output = "forecast.h5";
  double train_fraction = 0.8;
  std::vector<double> leads_lyapunov{0.5, 0.8, 1, 1.5, 2}, leads_time{};
  double lyapunov_time = 0;  // time units; 0: lyapunov_time.* of the metrics.json beside the model
  double tolerance = 0.5;    // Lyapunov times
  double threshold = 0.7, window = 8, separation = 1;
  int members = 50, transitions = 0, examples = 4;
  double perturbation = 0.01, example_lead = 2;  // example_lead in Lyapunov times
  double check_time = 10;                        // free-run length of the residual check (time units)
  std::string closure = "white";                 // the hybrid's forcing closure (-forcing_closure; rom/hybrid.hpp)
  std::uint64_t seed = 1;
  ProgressMode progress = ProgressMode::automatic;
};
ForecastConfig read_forecast_options(const Options& opts, bool read_paths = true);

// Collective over comm; returns the metrics on every rank and writes cfg.output.
Metrics forecast(const ForecastConfig& cfg, MPI_Comm comm);

}  // namespace msrom::rom
