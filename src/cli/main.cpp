// msrom — stochastic reduced-order models of multiscale systems, learned from data, run as MPI ensembles.
//
// Sample runs:
//   msrom simulate -options_file_yaml inputs/bistable_ci.yaml -output data.h5
//   mpiexec -n 2 msrom simulate -system_type tristable -members 8 -ts_max_time 1000 -output tri.h5
//   msrom stats -data data.h5 -output stats/
//   msrom lyapunov -system_type lorenz63 -system_eps 1
//   msrom pipeline -options_file_yaml inputs/bistable.yaml -output runs/bistable
//   msrom <command> -help
//
// Exit codes: 0 success, 1 runtime failure, 2 bad input (one line on stderr naming the option or file).
#include <mpi.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/version.hpp"

namespace {

const msrom::cli::Command kCommands[] = {
    {"simulate", "DNS ensembles of a slow-fast system -> data.h5", msrom::cli::simulate},
    {"stats", "statistics of a data set: moments, PDF, ACF, transitions -> metrics.json", msrom::cli::stats},
    {"learn-score", "score of the invariant density (KGMM or DSM) -> model.h5", msrom::cli::learn_score},
    {"learn-drift", "drift matrix Phi of the Langevin model (generator, ACF fit) -> model.h5", msrom::cli::learn_drift},
    {"learn-forcing", "neural-ODE ensemble of the fast forcing (delay-embedded residual) -> model.h5", msrom::cli::learn_forcing},
    {"forecast", "transition forecasts: hybrid ROM against the Langevin ROM and a NODE on x -> forecast.h5", msrom::cli::forecast},
    {"ensemble", "ensembles of the Langevin ROM (MPI, PETSc) -> rollouts.h5", msrom::cli::ensemble},
    {"merge", "joins the rollouts files of an ensemble run in parts (job arrays) -> rollouts.h5", msrom::cli::merge},
    {"evaluate", "model rollouts against the data: KL, ACF, residence times -> metrics.json", msrom::cli::evaluate},
    {"coarse-dns", "coarse-mesh DNS baseline of a field data set, eps vs the data -> metrics.json", msrom::cli::coarse_dns},
    {"learn-msde", "stochastic multiscale model by amortized VI, n_eta schedule (1-D fields) -> model.h5", msrom::cli::learn_msde},
    {"evaluate-msde", "eps table: coarse DNS | DMD | POD-SINDy | implicit-scale | multiscale -> metrics.json", msrom::cli::evaluate_msde},
    {"lyapunov", "largest Lyapunov exponent of a system (Benettin)", msrom::cli::lyapunov},
    {"pipeline", "all stages of a case file, into one directory", msrom::cli::pipeline},
};

void usage(FILE* f) {
  std::fprintf(f, "msrom %s (%s): stochastic reduced-order models of multiscale systems\n\n", msrom::kVersion,
               msrom::kGitSha);
  std::fprintf(f, "usage: msrom <command> [-options_file_yaml FILE] [-option value ...]\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(f, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(f, "\n'msrom <command> -help' lists a command's options with their defaults.\n");
}

// One line on rank 0's stderr. Input errors are deterministic (every rank sees the same options and
// files), so every rank throws and exits; a runtime error may be local to one rank, so it aborts them all.
int report(const char* command, const char* kind, const char* what, int code) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  const int me = initialized ? msrom::rank() : 0;
  if (me == 0 || code == msrom::kExitRuntime) std::fprintf(stderr, "msrom %s: %s%s\n", command, kind, what);
  std::fflush(stderr);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help") ||
      !std::strcmp(argv[1], "--help")) {
    usage(stdout);
    return argc < 2 ? msrom::kExitInput : msrom::kExitOk;
  }
  if (!std::strcmp(argv[1], "-version") || !std::strcmp(argv[1], "--version")) {
    std::printf("msrom %s (%s)\n", msrom::kVersion, msrom::kGitSha);
    return 0;
  }
  const msrom::cli::Command* cmd = nullptr;
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) cmd = &c;
  if (!cmd) {
    std::fprintf(stderr, "msrom: unknown command '%s' (see 'msrom -help')\n", argv[1]);
    return msrom::kExitInput;
  }
  int code = msrom::kExitOk;
  {
    msrom::Session session(argc, argv, /*petsc_args=*/true, /*command_words=*/1);
    try {
      session.load_options();
      code = cmd->run(session);
    } catch (const msrom::InputError& e) {
      code = report(cmd->name, "", e.what(), msrom::kExitInput);
    } catch (const msrom::RuntimeError& e) {
      report(cmd->name, "error: ", e.what(), msrom::kExitRuntime);
      if (msrom::size() > 1) MPI_Abort(MPI_COMM_WORLD, msrom::kExitRuntime);
      code = msrom::kExitRuntime;
    } catch (const std::exception& e) {
      report(cmd->name, "internal error: ", e.what(), msrom::kExitRuntime);
      if (msrom::size() > 1) MPI_Abort(MPI_COMM_WORLD, msrom::kExitRuntime);
      code = msrom::kExitRuntime;
    }
  }
  return code;
}
