#include <petscsys.h>

#include "commands.hpp"
#include "msrom/core/options.hpp"

namespace msrom::cli {

bool finish_options(const char* usage) {
  if (help_requested()) {
    print_help(usage);
    // PETSc would append its viewer help at PetscFinalize; msrom's list is complete.
    PetscOptionsClearValue(nullptr, "-help");
    PetscOptionsClearValue(nullptr, "-h");
    return true;
  }
  // The sections of a case file (inputs/*.yaml) that belong to some msrom command.
  reject_unused_options({"system_", "simulate_", "stats_", "lyapunov_", "pipeline_", "score_", "ensemble_", "langevin_", "evaluate_", "rollouts", "ts_", "members", "seed",
                         "dataset", "data", "progress"});
  return false;
}

}  // namespace msrom::cli
