// msrom learn-forcing: the neural-ODE model of the fast forcing, added to model.h5 (node/learn_forcing.hpp).
//
// Sample runs:
//   msrom learn-forcing -data data.h5 -model model.h5
//   mpiexec -n 4 msrom learn-forcing -data data.h5 -model model.h5 -forcing_members 8 -forcing_iterations 500
#include <cstdio>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/node/learn_forcing.hpp"

namespace msrom::cli {

int learn_forcing(Session&) {
  Options opts("learn-forcing");
  const auto cfg = node::read_learn_forcing_options(opts);
  read_nn_kernel_option();
  if (finish_options("usage: msrom learn-forcing -data data.h5 -model model.h5 [-forcing_members N] "
                     "[-forcing_iterations N]"))
    return 0;
  if (cfg.data.empty()) throw InputError("-data: no data file given");
  if (cfg.model.empty()) throw InputError("-model: no model file given");
  const auto m = node::learn_forcing(cfg, MPI_COMM_WORLD);
  if (rank() == 0)
    std::printf("learn-forcing: %s -> %s (/forcing, %d NODEs)\n", cfg.data.c_str(), cfg.model.c_str(), cfg.members);
  print_metrics(m);
  return 0;
}

}  // namespace msrom::cli
