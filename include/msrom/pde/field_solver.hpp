#pragma once
// The seam between a trajectory set (pde/simulate.hpp) and the solver of one trajectory: what FieldsRun needs
// of any field solver. Three solvers implement it, chosen by the case (Pde::model):
//
//   Solver               (pde/solver.hpp)         u_t = L u - a u (D_x u [+ D_y u]) on a DMDA of 1 dof
//   ShallowWaterSolver   (pde/shallow_water.hpp)  (h, hu, hv) finite volumes on a DMDA of 3 dofs
//   CylinderWakeSolver   (pde/cylinder_wake.hpp)  incompressible flow past a cylinder, MAC grid (u, v, p)
//
// Both integrate with PETSc TS on a DMDA over the trajectory's group communicator; the time bookkeeping
// (start, advance to step k, step counts) is the same for both and lives here, once. The observed field is
// the solver's business: u itself for the stencil cases, the water height minus 1 for shallow water.
//
//   auto s = make_field_solver(pde, group_comm, dt);
//   s->set_initial(profile);  s->start(0.0);  s->advance(k);  s->local_values(buf);
#include <mpi.h>
#include <petscdmda.h>
#include <petscts.h>

#include <cstdint>
#include <memory>
#include <string>

#include "msrom/pde/pde.hpp"

namespace msrom::pde {

class FieldSolver {
 public:
  virtual ~FieldSolver();
  FieldSolver(const FieldSolver&) = delete;
  FieldSolver& operator=(const FieldSolver&) = delete;

  // The member's initial state from its drawn profile (the case says what Profile::u0 means).
  virtual void set_initial(const Profile& p) = 0;
  // Sets the time origin t0: after advance(k) the time is t0 + k * dt.
  void start(double t0);
  // To step k (fixed step) or time k * dt (adaptive, matched exactly).
  virtual void advance(std::int64_t k);

  // The owned block of the observed field: x indices [xs, xs + xm), y indices [ys, ys + ym) (ys = 0, ym = 1
  // in 1D).
  long xs() const { return xs_; }
  long xm() const { return xm_; }
  long ys() const { return ys_; }
  long ym() const { return ym_; }
  long local_size() const { return xm_ * ym_; }
  // Copies the owned block of each observed component (Pde::fields) to out: local_size values per component,
  // one block after another, x slowest within a block (the file's order).
  virtual void local_values(double* out) const = 0;

  double dt() const { return dt_; }
  double time() const;
  bool adaptive() const { return adaptive_; }
  // "rk/4", "arkimex/3", "ssp/rks3", "exact", ...
  const std::string& integrator() const { return integrator_; }
  std::int64_t total_steps() const;
  DM dm() const { return da_; }
  Vec solution() const { return u_; }
  MPI_Comm comm() const { return comm_; }

 protected:
  explicit FieldSolver(MPI_Comm comm) : comm_(comm) {}
  // TSSetFromOptions with max-norm error estimates unless -ts_adapt_wnormtype says otherwise (an exact
  // reduction: rank-count independent adaptive steps); PETSc's rejection of the options is bad input.
  void set_ts_from_options();

  MPI_Comm comm_;
  DM da_ = nullptr;
  Vec u_ = nullptr;
  TS ts_ = nullptr;  // null: no time stepping (an exact solution; the subclass overrides advance)
  double dt_ = 0, t0_ = 0;
  std::int64_t step_ = 0;
  long xs_ = 0, xm_ = 0, ys_ = 0, ym_ = 1;
  bool adaptive_ = false;
  std::string integrator_;
};

// The solver of the case's model over comm; `dt` overrides the case's default step (<= 0: keep it).
std::unique_ptr<FieldSolver> make_field_solver(const Pde& pde, MPI_Comm comm, double dt = 0);

}  // namespace msrom::pde
