#include <petscsys.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "msrom/core/options.hpp"
#include "msrom/nn/kernel.hpp"

namespace msrom::cli {

void run_figures(const std::string& script, const std::string& args) {
  const std::string tools = std::getenv("MSROM_TOOLS_DIR") ? std::getenv("MSROM_TOOLS_DIR") : std::string(MSROM_SOURCE_DIR) + "/tools";
  const std::string py = std::getenv("MSROM_PYTHON") ? std::getenv("MSROM_PYTHON") : "/usr/bin/python3";
  const std::string cmd = "'" + py + "' '" + join_path(tools, script) + "' " + args;
  std::fflush(stdout);
  const int rc = std::system(cmd.c_str());
  if (rc != 0)
    std::fprintf(stderr, "msrom: warning: '%s' failed (exit %d); figures missing, metrics are complete\n", cmd.c_str(),
                 WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
}

void read_nn_kernel_option() {
  Options o("nn");
  const auto choice = o.choice("nn_kernel", "auto", {"auto", "generic", "avx2", "avx512"},
                               "MLP inference and convolution GEMM kernel: auto = the widest SIMD kernel every rank has "
                               "(they agree bit for bit), generic = portable (Eigen's GEMM)");
  if (!help_requested()) nn::select_kernel(choice, MPI_COMM_WORLD);
}

bool finish_options(const char* usage) {
  if (help_requested()) {
    print_help(usage);
    // PETSc would append its viewer help at PetscFinalize; msrom's list is complete.
    PetscOptionsClearValue(nullptr, "-help");
    PetscOptionsClearValue(nullptr, "-h");
    return true;
  }
  // The sections of a case file (inputs/*.yaml) that belong to some msrom command.
  reject_unused_options({"system_", "simulate_", "stats_", "lyapunov_", "pipeline_", "score_", "ensemble_", "langevin_", "evaluate_", "msde_", "predict_", "forcing_", "forecast_", "rollouts", "ts_", "members", "seed", "pde_", "nn_",
                         "dataset", "data", "progress"});
  return false;
}

}  // namespace msrom::cli
