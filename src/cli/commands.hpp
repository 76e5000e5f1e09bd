#pragma once
// The msrom subcommands. Each reads all its options first (so -help can list them and typos are caught
// before any work), then runs. Each returns the process exit code; errors are thrown (core/errors.hpp).
#include <cstdint>
#include <string>

#include "msrom/core/files.hpp"
#include "msrom/core/session.hpp"

namespace msrom {
class Options;
namespace systems {
class System;
}
}  // namespace msrom

namespace msrom::cli {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(Session&);
};

int simulate(Session&);
int stats(Session&);
int lyapunov(Session&);
int pipeline(Session&);
int learn_score(Session&);
int ensemble(Session&);
int learn_drift(Session&);
int evaluate(Session&);
int coarse_dns(Session&);
int learn_forcing(Session&);
int forecast(Session&);
int merge(Session&);
int learn_msde(Session&);     // issue 7: learn-msde, evaluate-msde; ensemble_msde is `ensemble -model` with /msde
int evaluate_msde(Session&);
int ensemble_msde(Session&);
bool msde_model_given();  // -model names a file with /msde (a multiscale model of learn-msde)

// Finishes the option phase of a command: prints help and returns true if -help was given; otherwise
// rejects options that nothing read (InputError) and returns false.
bool finish_options(const char* usage);
// -nn_kernel auto|generic|avx2|avx512 (nn/kernel.hpp), for the commands that evaluate networks: read it, agree
// over MPI_COMM_WORLD, switch. Call before finish_options.
void read_nn_kernel_option();

// Runs a plotting tool of tools/ with Debian's python (/usr/bin/python3, or $MSROM_PYTHON; tools from
// $MSROM_TOOLS_DIR or the source tree): `args` is appended, already quoted. A failure is a warning, not an
// error: the numbers are in metrics.json either way.
void run_figures(const std::string& script, const std::string& args);

// Prints a metrics table on rank 0.
void print_metrics(const Metrics& m);

// The lyapunov stage, shared by `msrom lyapunov` and the pipeline.
struct LyapunovConfig {
  std::uint64_t seed = 1;
  double dt = 1e-3, time = 500, transient = 10, d0 = 1e-8;
  long renorm_every = 10;
  std::string norm = "all", output;
};
LyapunovConfig read_lyapunov_options(const Options& o, bool read_output);
Metrics run_lyapunov(const systems::System& system, const LyapunovConfig& c);

}  // namespace msrom::cli
