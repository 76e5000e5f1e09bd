// msrom simulate: DNS ensembles of a slow-fast system, written to data.h5 (systems/simulate.hpp).
//
// Sample runs:
//   msrom simulate -options_file_yaml inputs/bistable.yaml -output data.h5
//   mpiexec -n 4 msrom simulate -system_type coupled5d -members 16 -ts_max_time 1e3 -output c5.h5
#include <cstdio>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/options.hpp"
#include "msrom/systems/simulate.hpp"

namespace msrom::cli {

int simulate(Session&) {
  // 1. Options: the system and its parameters, then the run.
  Options sys("system");
  auto system = systems::make_system(sys);
  Options run("simulate");
  const auto cfg = systems::read_simulate_options(run);
  if (finish_options("usage: msrom simulate [-system_type T] [-members M] [-ts_dt DT] [-ts_max_time T] -output FILE"))
    return 0;

  // 2. Integrate and write.
  const auto st = systems::simulate(*system, cfg, MPI_COMM_WORLD);

  // 3. Report.
  if (rank() == 0)
    std::printf("simulate: %s, %lld members x %lld steps (dt %g, %lld samples each) on %d ranks in %.2f s: "
                "%.3g RK4 steps/s per rank -> %s\n",
                system->type().c_str(), static_cast<long long>(cfg.members), static_cast<long long>(cfg.steps), cfg.dt,
                static_cast<long long>(st.nsave), size(), st.seconds, st.steps_per_second_per_rank, cfg.output.c_str());
  return 0;
}

}  // namespace msrom::cli
