#pragma once
// Ensembles of DNS trajectories of a system, distributed over MPI ranks, written as data.h5:
//
//   /time  [nt]                 times of the saved samples (after burn-in; t = 0 at the first sample)
//   /state [members, nt, dims]  saved components (slow only, or all), attribute `names`
//
// Members are split in contiguous blocks over ranks; member m's initial condition comes from its own
// Philox stream (seed, m, initial_condition), so the file is bitwise identical for any rank count. The
// trajectory is integrated and written in time chunks (collective slab writes), so memory stays bounded
// however long the run.
#include <mpi.h>

#include <cstdint>
#include <string>

#include "msrom/core/progress.hpp"
#include "msrom/systems/system.hpp"

namespace msrom::systems {

struct SimulateConfig {
  std::int64_t members = 1;
  std::uint64_t seed = 1;
  double dt = 1e-3;
  std::int64_t steps = 0;        // RK4 steps after burn-in (from -ts_max_time or -ts_max_steps)
  std::int64_t save_every = 10;  // save every k steps
  double burn_in = 10.0;         // time integrated and discarded before the first sample
  bool save_all = false;         // all components, or only the slow ones
  std::string output = "data.h5";
  ProgressMode progress = ProgressMode::automatic;
};

// Reads -members, -seed, -ts_dt, -ts_max_time | -ts_max_steps, -simulate_* and (when read_output) -output.
SimulateConfig read_simulate_options(const Options& opts, bool read_output = true);

struct SimulateStats {
  double seconds = 0;               // wall time of the integration and writing (max over ranks)
  double steps_per_second_per_rank = 0;
  std::int64_t nsave = 0;
};

SimulateStats simulate(const System& system, const SimulateConfig& cfg, MPI_Comm comm);

// Largest Lyapunov exponent by Benettin's method: a reference and a perturbed trajectory (distance d0 in
// the chosen components), integrated with RK4 and renormalised to d0 every `renorm_every` steps;
// lambda = sum log(d/d0) / elapsed time. The first `transient` time units are discarded.
// `components` selects the norm: "all" or "fast" (the components after the slow ones).
struct LyapunovResult {
  double exponent = 0, lyapunov_time = 0, standard_error = 0;
};
LyapunovResult largest_lyapunov(const System& system, std::uint64_t seed, double dt, double time, double transient,
                                std::int64_t renorm_every, double d0, const std::string& components);

}  // namespace msrom::systems
