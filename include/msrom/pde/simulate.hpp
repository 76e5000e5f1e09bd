#pragma once
// Trajectory sets of a field case, written as data.h5 (+ an XDMF sidecar for ParaView):
//
//   /fields/u [members, nt, nx(, ny)]   observations: the solution (shallow water: h - 1) plus Gaussian noise
//                                       (-simulate_noise)
//   /fields/v                           cylinder_wake: the second velocity component (same shape; one dataset
//                                       per Pde::fields entry)
//   /fields/u_clean                     the noise-free solution (only with -simulate_clean)
//   /grid/x [nx] (/grid/y [ny])         node coordinates (cell centres for finite volumes)
//   /time [nt]                          t = 0 (the initial condition, after any burn-in) .. max_time
//   /split [members]                    0 train, 1 validation, 2 test (attribute `names`); members are
//                                       ordered train, validation, test
//   root attributes: the contract's, `system`, `system_<parameter>`, `train`, `validation`, `test`
//
// MPI: the ranks form groups of -pde_ranks_per_member (MPI_Comm_split); each member's mesh is decomposed
// over its group, and members are spread over the groups in contiguous blocks. Initial conditions come
// from the member's Philox stream (seed, member, initial_condition), noise from (seed, member,
// observation_noise) with counter (snapshot, node): the file is bitwise identical for any rank count and
// any group size (explicit and fixed-step 1D IMEX integrators; see pde/solver.hpp). Every rank writes its
// own block of the mesh, collectively, in time chunks; the file carries its final name only when complete.
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

struct FieldsConfig {
  std::uint64_t seed = 1;
  long train = 1, validation = 0, test = 0;
  double noise = 0;
  bool clean = false;
  int ranks_per_member = 1;
  double dt = 1e-3;
  std::int64_t steps = 1000;     // steps of size dt after burn-in
  std::int64_t save_every = 1;
  double burn_in = 0;
  std::string output = "data.h5";
  ProgressMode progress = ProgressMode::automatic;
  long members() const { return train + validation + test; }
};

// Reads -seed, -simulate_{train,validation,test,noise,clean,save_every,burn_in}, -pde_ranks_per_member,
// -ts_type, -ts_dt, -ts_max_time | -ts_max_steps, -progress and (when read_output) -output, with the case's
// defaults.
FieldsConfig read_fields_options(const Pde& pde, const Options& opts, bool read_output = true);

struct FieldsStats {
  double seconds = 0;  // integration and writing, max over ranks
  std::int64_t nt = 0;
  int groups = 1;
  std::string integrator;
  std::int64_t steps = 0;  // TS steps of the slowest group (adaptive runs: actual steps)
};

class FieldSolver;

// A run in two phases, so that PETSc's solver options (-ts_*, -snes_*, -ksp_*, -pc_*) are read by the
// constructor, before the command checks for options that nothing read.
class FieldsRun {
 public:
  // Splits comm into groups and builds each group's solver (TSSetFromOptions, TSSetUp). InputError if the
  // mesh is too small for -pde_ranks_per_member.
  FieldsRun(const Pde& pde, const FieldsConfig& cfg, MPI_Comm comm);
  ~FieldsRun();
  FieldsRun(const FieldsRun&) = delete;
  FieldsRun& operator=(const FieldsRun&) = delete;
  // Integrates every trajectory and writes cfg.output and its XDMF sidecar (collective over comm).
  FieldsStats run();

 private:
  const Pde& pde_;
  FieldsConfig cfg_;
  MPI_Comm comm_, group_ = MPI_COMM_NULL;
  int ngroups_ = 1, color_ = 0, group_size_ = 1;
  std::unique_ptr<FieldSolver> solver_;  // the case's model (pde/field_solver.hpp)
};

inline FieldsStats simulate_fields(const Pde& pde, const FieldsConfig& cfg, MPI_Comm comm) {
  return FieldsRun(pde, cfg, comm).run();
}

// The XDMF text describing a data.h5 written by simulate_fields (h5_name: its path relative to the .xmf).
// 1D: one space-time grid per member (x, t); 2D: a temporal collection, each member an attribute.
std::string xdmf(const Pde& pde, const std::string& h5_name, long members, std::int64_t nt,
                 const std::vector<double>& time);

}  // namespace msrom::pde
