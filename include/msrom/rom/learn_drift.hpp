#pragma once
// `msrom learn-drift`: the drift matrix Phi of the Langevin model (rom/langevin.hpp), added to model.h5.
//
//   /langevin/Phi_generator  [d, d]  attribute lag (time units)
//   /langevin/Phi_acf        [d, d]  attributes alpha, tau_data, tau_model (model at Phi_generator),
//                                    iterations (of the alpha fit)
//   /langevin/Phi            [d, d]  the one in use, attribute source = generator | acf
//   /langevin/Sigma          [d, d]  lower Cholesky factor of sym(Phi)
#include <mpi.h>

#include <string>

#include "msrom/core/files.hpp"

namespace msrom {
class Options;
}

namespace msrom::rom {

struct LearnDriftConfig {
  std::string data, dataset = "/state", model, use = "acf";
  double train_fraction = 0.8, lag = 1.0;  // lag: in the plateau of Phi(lag), docs/langevin.md
  // The short ensemble that measures the model's integrated time at Phi_generator.
  std::int64_t fit_members = 64;
  double fit_time = 2000, fit_dt = 5e-3, max_lag = 100;
  // Fixed-point iterations alpha <- alpha tau_model(alpha) / tau_data. One is exact for an autonomous model
  // (its time scales as 1/alpha); a clock-driven one has an external time scale: 0 = 1, or 4 with a clock.
  int fit_iterations = 0;
  bool identity_v = false;    // V = -I in Phi_generator (phi_from_generator) instead of the sample average
  bool phase_current = true;  // clock-driven models: the tau ensembles include the phase current (langevin.hpp)
  std::uint64_t seed = 1;
};
LearnDriftConfig read_learn_drift_options(const Options& opts, bool read_paths = true);
Metrics learn_drift(const LearnDriftConfig& cfg, MPI_Comm comm);

}  // namespace msrom::rom
