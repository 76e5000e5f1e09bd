#include "msrom/pde/field_solver.hpp"

#include <limits>

#include "msrom/core/errors.hpp"
#include "msrom/pde/cylinder_wake.hpp"
#include "msrom/pde/shallow_water.hpp"
#include "msrom/pde/solver.hpp"

namespace msrom::pde {

FieldSolver::~FieldSolver() {
  if (ts_) TSDestroy(&ts_);
  if (u_) VecDestroy(&u_);
  if (da_) DMDestroy(&da_);
}

void FieldSolver::set_ts_from_options() {
  // Max-norm error estimates unless asked otherwise (exact reduction: rank-count independent steps).
  PetscBool wnorm = PETSC_FALSE;
  MSROM_PETSC(PetscOptionsHasName(nullptr, nullptr, "-ts_adapt_wnormtype", &wnorm));
  if (!wnorm) MSROM_PETSC(PetscOptionsSetValue(nullptr, "-ts_adapt_wnormtype", "infinity"));
  const PetscErrorCode ierr = TSSetFromOptions(ts_);
  if (!wnorm) PetscOptionsClearValue(nullptr, "-ts_adapt_wnormtype");
  // A failure here is the user's solver options (an unknown -ts_type, a bad -ts_rk_type): bad input.
  try {
    MSROM_PETSC(ierr);
  } catch (const RuntimeError& e) {
    std::string what = e.what();
    what = what.substr(0, what.find(" in ierr"));
    throw InputError("-ts_type (or another -ts_* option): PETSc rejected the time-stepping options: " + what);
  }
}

void FieldSolver::start(double t0) {
  t0_ = t0;
  step_ = 0;
  if (ts_) {
    // A new start: no state of an earlier trajectory (FSAL stage, adapted step) carries over.
    MSROM_PETSC(TSSetTime(ts_, t0));
    MSROM_PETSC(TSSetStepNumber(ts_, 0));
    MSROM_PETSC(TSSetTimeStep(ts_, dt_));
    MSROM_PETSC(TSRestartStep(ts_));
  }
}

double FieldSolver::time() const {
  return t0_ + static_cast<double>(step_) * dt_;
}

std::int64_t FieldSolver::total_steps() const {
  if (!ts_) return 0;
  PetscInt n = 0;
  TSGetStepNumber(ts_, &n);
  return n;
}

void FieldSolver::advance(std::int64_t k) {
  if (k <= step_ || !ts_) return;
  // Times are set from the step count, not accumulated across calls.
  PetscInt done = 0;
  MSROM_PETSC(TSGetStepNumber(ts_, &done));
  MSROM_PETSC(TSSetTime(ts_, time()));
  if (adaptive_) {
    MSROM_PETSC(TSSetMaxSteps(ts_, std::numeric_limits<PetscInt>::max()));
    MSROM_PETSC(TSSetMaxTime(ts_, t0_ + static_cast<double>(k) * dt_));
  } else {
    MSROM_PETSC(TSSetTimeStep(ts_, dt_));
    MSROM_PETSC(TSSetMaxSteps(ts_, done + static_cast<PetscInt>(k - step_)));
    MSROM_PETSC(TSSetMaxTime(ts_, std::numeric_limits<double>::max()));
  }
  MSROM_PETSC(TSSolve(ts_, u_));
  TSConvergedReason reason;
  MSROM_PETSC(TSGetConvergedReason(ts_, &reason));
  if (reason < 0)
    throw RuntimeError(std::string("TS failed (") + TSConvergedReasons[reason] + ") at t = " + std::to_string(time()) +
                       "; reduce -ts_dt or change -ts_type");
  step_ = k;
}

std::unique_ptr<FieldSolver> make_field_solver(const Pde& pde, MPI_Comm comm, double dt) {
  switch (pde.model) {
    case Model::shallow_water:
      return std::make_unique<ShallowWaterSolver>(pde, comm, dt);
    case Model::cylinder_wake:
      return std::make_unique<CylinderWakeSolver>(pde, comm, dt);
    case Model::stencil:
      break;
  }
  return std::make_unique<Solver>(pde, comm, dt);
}

}  // namespace msrom::pde
