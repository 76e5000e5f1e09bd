#pragma once
// The coarse-DNS baseline of Method B (method doc, sections 1 and 4): the same PDE on a coarse grid,
// started from the subsampled fine initial condition, upsampled to the fine grid by cubic spline
// (periodic; bicubic in 2-D), scored by eps(t) = ||y - y_hat|| / ||y|| on the fine grid.
//
//   CoarseDns run(cfg, comm);    // reads the data file's header, builds the coarse case and its TS
//   auto r = run.run();          // integrates, writes DIR/rollouts.h5, DIR/eps.h5, DIR/metrics.json
//
// Choices (docs/pde.md, "Coarse DNS"):
// - The case and its parameters come from the data file's root attributes (`system`, `system_<name>`),
//   with the grid replaced by the coarse one; the time stepping is the data's (`integrator` and `ts_dt`
//   attributes of /fields/u: the same TS type and step), and every -ts_* option overrides it (-ts_dt must
//   divide the snapshot interval). The wave
//   case is integrated (u_t = -u_x, RK4), since its data come from the exact solution.
// - Initial condition: the observed (noisy) fine snapshot y(0), as the paper ("from the subsampled y_0").
//   Where the coarse nodes are fine nodes (periodic 1000 -> 20: every 50th) this is plain subsampling, bit
//   for bit; otherwise (Dirichlet 128 -> 8 nodes incl. boundary: 127/7 is not an integer) the fine field's
//   cubic spline is evaluated at the coarse nodes. Dirichlet boundary nodes are set to the boundary value 0.
// - Upsampling: periodic cubic spline in periodic directions; on Dirichlet grids the natural spline (s'' = 0
//   at the ends), which is consistent with Burgers' u = 0 walls (there nu u_nn = u_t = 0).
// - Shallow water (finite volumes on cells, outflow edges; observed h - 1): a coarse cell is a block of
//   whole fine cells (-coarse_nx must divide the fine count; default 8 x 8). Initial condition h = 1 + the
//   block mean of y(0) (the cell average: the initial mass to round-off), at rest; the ShallowWaterSolver on
//   the coarse cells with the data's step (its CFL check passes a fortiori). Upsampling: the natural cubic
//   spline through the coarse centres and one ghost centre beyond each edge holding a copy of the edge cell
//   (the solver's zero-gradient ghosts), evaluated at the fine centres; bicubic as the tensor product.
//   Coarse grid = fine grid reproduces the data bit for bit (noise-free data).
// - eps is taken against the observations /fields/u (the data as the paper scores them) at every saved time,
//   t = 0 included; mean and std (population) over all (trajectory, time) pairs of the chosen split.
//
// MPI: the trajectories are spread over the ranks in contiguous blocks; each runs on PETSC_COMM_SELF (the
// coarse meshes are tiny). Every value is computed by one rank in a fixed order, so every output is
// bitwise the same for any rank count.
#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "msrom/core/progress.hpp"
#include "msrom/pde/pde.hpp"

namespace msrom {
class Options;
}

namespace msrom::pde {

struct CoarseDnsConfig {
  std::string data;         // -data: a field data set written by msrom simulate
  long nx = 0, ny = 0;      // -coarse_nx, -coarse_ny (0: the paper's, 20 in 1-D, 8 x 8 in 2-D; ny = nx)
  std::string split = "test";  // -coarse_dns_split: test | validation | train | all
  std::string stencil = "data";  // -coarse_dns_stencil: KdV's u_xxx on the coarse grid (data | paper | central)
  std::string output_dir;   // -output
  ProgressMode progress = ProgressMode::automatic;
};

// Reads -data, -coarse_nx, -coarse_ny, -coarse_dns_split, -coarse_dns_stencil, -output, -progress.
CoarseDnsConfig read_coarse_dns_options(const Options& opts);
// Reads only the coarse grid and stencil (-coarse_nx, -coarse_ny, -coarse_dns_stencil): for commands that run
// the coarse DNS on their own data set (evaluate-msde).
void read_coarse_grid_options(const Options& opts, CoarseDnsConfig& c);

// Which coarse DNS a data set of `system` has: `grid` (CoarseDns: the case on a coarse grid of the whole
// domain) for every field case but the cylinder wake; `window` for the cylinder wake, whose data are a window
// behind the cylinder, not the whole domain: the window alone on the coarse grid (pde::cylinder_window_dns,
// run by evaluate-msde; docs/vi.md section 16); `none` for a system that is not a field case.
enum class CoarseDnsKind { none, grid, window };
CoarseDnsKind coarse_dns_kind(const std::string& system);

struct CoarseDnsResult {
  std::string system, integrator;
  long fine_nx = 0, fine_ny = 1, nx = 0, ny = 1;
  std::vector<long> members;       // the data file's member indices that were run
  std::int64_t nt = 0;
  std::vector<double> eps;         // [members, nt]
  double eps_mean = 0, eps_std = 0, eps_initial = 0, eps_final = 0;  // eps_initial/final: means at t_0, t_end
  long diverged = 0;
  double seconds = 0;              // max over ranks
};

class FieldSolver;

class CoarseDns {
 public:
  // Opens the data file (InputError naming -data for a missing or malformed file), builds the coarse
  // case and the TS (reading the -ts_* options), checks and creates the output directory.
  CoarseDns(const CoarseDnsConfig& cfg, MPI_Comm comm);
  ~CoarseDns();
  CoarseDns(const CoarseDns&) = delete;
  CoarseDns& operator=(const CoarseDns&) = delete;
  const Pde& coarse() const { return coarse_; }
  // Collective over comm.
  CoarseDnsResult run();

 private:
  CoarseDnsConfig cfg_;
  MPI_Comm comm_;
  Pde coarse_;
  std::string system_;
  long fine_nx_ = 0, fine_ny_ = 1;
  bool periodic_ = true;
  bool cells_ = false;  // a finite-volume (cell-centred) case: shallow water
  std::int64_t nt_ = 0, save_every_ = 1, steps_per_snapshot_ = 1;
  double dt_ = 0, seed_ = 0;
  std::vector<long> members_;
  std::unique_ptr<FieldSolver> solver_;
};

}  // namespace msrom::pde
