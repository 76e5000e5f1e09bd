// msrom learn-drift: the drift matrix Phi of the Langevin model, added to model.h5 (rom/learn_drift.hpp).
//
// Sample runs:
//   msrom learn-drift -data data.h5 -model model.h5                       # Phi_generator and Phi_acf, uses acf
//   msrom learn-drift -data data.h5 -model model.h5 -langevin_phi generator -langevin_generator_lag 0.2
#include <cstdio>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/rom/learn_drift.hpp"

namespace msrom::cli {

int learn_drift(Session&) {
  Options opts("learn-drift");
  const auto cfg = rom::read_learn_drift_options(opts);
  read_nn_kernel_option();
  if (finish_options("usage: msrom learn-drift -data data.h5 -model model.h5 [-langevin_phi generator|acf]")) return 0;
  if (cfg.data.empty()) throw InputError("-data: no data file given");
  if (cfg.model.empty()) throw InputError("-model: no model file given");
  const auto m = rom::learn_drift(cfg, MPI_COMM_WORLD);
  if (rank() == 0) std::printf("learn-drift: %s -> %s (/langevin, using Phi_%s)\n", cfg.data.c_str(), cfg.model.c_str(), cfg.use.c_str());
  print_metrics(m);
  return 0;
}

}  // namespace msrom::cli
