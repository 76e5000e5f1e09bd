// msrom simulate: DNS ensembles of a slow-fast system (systems/simulate.hpp), or trajectory sets of a field
// case on a distributed mesh (pde/simulate.hpp), written to data.h5.
//
// Sample runs:
//   msrom simulate -options_file_yaml inputs/bistable.yaml -output data.h5
//   mpiexec -n 4 msrom simulate -system_type coupled5d -members 16 -ts_max_time 1e3 -output c5.h5
//   msrom simulate -options_file_yaml inputs/kdv_ci.yaml -output kdv.h5        (+ kdv.xmf for ParaView)
//   mpiexec -n 4 msrom simulate -system_type burgers2d -pde_ranks_per_member 2 -output b2.h5
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/options.hpp"
#include "msrom/pde/pde.hpp"
#include "msrom/pde/simulate.hpp"
#include "msrom/systems/simulate.hpp"

namespace msrom::cli {

namespace {

const char* kUsage =
    "usage: msrom simulate [-system_type T] [-members M | -simulate_train N -simulate_validation N -simulate_test N] "
    "[-ts_dt DT] [-ts_max_time T] -output FILE";

int simulate_fields(const std::string& type) {
  Options sys("system");
  const auto pde = pde::make_case(type, sys);
  Options run("simulate");
  const auto cfg = pde::read_fields_options(pde, run);
  // The solvers read PETSc's own options (-ts_*, -snes_*, ...) before the check for unread ones; not with
  // -help, where PETSc would print its own pages.
  std::unique_ptr<pde::FieldsRun> fields;
  if (!help_requested()) fields = std::make_unique<pde::FieldsRun>(pde, cfg, MPI_COMM_WORLD);
  if (finish_options(kUsage)) return 0;

  const auto st = fields->run();
  if (rank() == 0)
    std::printf("simulate: %s, %ld trajectories (%ld/%ld/%ld) x %lld snapshots of %ld%s points, %s, %lld TS steps "
                "each, %d group(s) of %d rank(s), in %.2f s -> %s\n",
                pde.type.c_str(), cfg.members(), cfg.train, cfg.validation, cfg.test, static_cast<long long>(st.nt),
                pde.nx, pde.dim == 2 ? (" x " + std::to_string(pde.ny)).c_str() : "", st.integrator.c_str(),
                static_cast<long long>(st.steps), st.groups, size() / st.groups, st.seconds, cfg.output.c_str());
  return 0;
}

}  // namespace

int simulate(Session&) {
  // 1. Options: the system (an ODE system or a field case) and its parameters, then the run.
  Options sys("system");
  std::vector<std::string> types;
  std::string help = "the system to simulate; fields:";
  for (const auto& [t, d] : pde::case_types()) types.push_back(t), help += " " + t;
  help += "; ODEs:";
  for (const auto& [t, d] : systems::system_types()) types.push_back(t), help += " " + t;
  const std::string type = sys.choice("system_type", "bistable", types, help);
  if (pde::is_case(type)) return simulate_fields(type);

  auto system = systems::make_system(sys);
  Options run("simulate");
  const auto cfg = systems::read_simulate_options(run);
  if (finish_options(kUsage)) return 0;

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
