#include "msrom/pde/solver.hpp"

#include <petscsnes.h>

#include <cstring>
#include <limits>
#include <vector>

#include "msrom/core/errors.hpp"

namespace msrom::pde {

namespace {

PetscErrorCode rhs_full(TS, PetscReal, Vec U, Vec F, void* ctx) {
  static_cast<Solver*>(ctx)->eval(Solver::Part::full, U, F);
  return 0;
}

PetscErrorCode rhs_nonstiff(TS, PetscReal, Vec U, Vec F, void* ctx) {
  static_cast<Solver*>(ctx)->eval(Solver::Part::nonstiff, U, F);
  return 0;
}

// F(t, u, u_t) = u_t - L u: the implicit side of the IMEX split.
PetscErrorCode ifunction(TS, PetscReal, Vec U, Vec Udot, Vec F, void* ctx) {
  static_cast<Solver*>(ctx)->eval(Solver::Part::stiff, U, F);
  PetscCall(VecAYPX(F, -1.0, Udot));
  return 0;
}

PetscErrorCode ijacobian(TS, PetscReal, Vec, Vec, PetscReal shift, Mat A, Mat B, void* ctx) {
  auto* s = static_cast<Solver*>(ctx);
  s->assemble_stiff_jacobian(shift, B);
  if (A != B) {
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  return 0;
}

bool is_explicit(const std::string& type) {
  for (const char* t : {TSEULER, TSRK, TSSSP, TSMPRK, TSSSP})
    if (type == t) return true;
  return false;
}

}  // namespace

Solver::Solver(const Pde& pde, MPI_Comm comm, double dt) : FieldSolver(comm), pde_(pde) {
  dt_ = dt > 0 ? dt : pde.stepping.dt;
  const DMBoundaryType bx = pde.periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_NONE;
  const auto sw = static_cast<PetscInt>(pde.stencil_width);
  if (pde.dim == 1)
    MSROM_PETSC(DMDACreate1d(comm, bx, static_cast<PetscInt>(pde.nx), 1, sw, nullptr, &da_));
  else
    MSROM_PETSC(DMDACreate2d(comm, bx, bx, DMDA_STENCIL_STAR, static_cast<PetscInt>(pde.nx), static_cast<PetscInt>(pde.ny),
                             PETSC_DECIDE, PETSC_DECIDE, 1, sw, nullptr, nullptr, &da_));
  MSROM_PETSC(DMSetUp(da_));
  MSROM_PETSC(DMCreateGlobalVector(da_, &u_));
  MSROM_PETSC(DMCreateLocalVector(da_, &local_));
  PetscInt xs, ys, xm, ym;
  MSROM_PETSC(DMDAGetCorners(da_, &xs, &ys, nullptr, &xm, &ym, nullptr));
  xs_ = xs, xm_ = xm, ys_ = pde.dim == 1 ? 0 : ys, ym_ = pde.dim == 1 ? 1 : ym;

  if (pde.exact_solver) {
    integrator_ = "exact";
    return;
  }

  // The TS with the case's defaults, then the options database.
  MSROM_PETSC(TSCreate(comm, &ts_));
  MSROM_PETSC(TSSetDM(ts_, da_));
  MSROM_PETSC(TSSetProblemType(ts_, TS_NONLINEAR));
  char requested[256] = {0};
  PetscBool given = PETSC_FALSE;
  MSROM_PETSC(PetscOptionsGetString(nullptr, nullptr, "-ts_type", requested, sizeof requested, &given));
  const std::string want = given ? requested : pde.stepping.ts_type;
  MSROM_PETSC(TSSetType(ts_, pde.stepping.ts_type.c_str()));
  if (pde.stepping.ts_type == TSRK) MSROM_PETSC(TSRKSetType(ts_, pde.stepping.ts_subtype.c_str()));
  if (pde.stepping.ts_type == TSARKIMEX) MSROM_PETSC(TSARKIMEXSetType(ts_, pde.stepping.ts_subtype.c_str()));
  MSROM_PETSC(TSSetTimeStep(ts_, dt_));
  MSROM_PETSC(TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_MATCHSTEP));
  TSAdapt adapt;
  MSROM_PETSC(TSGetAdapt(ts_, &adapt));
  MSROM_PETSC(TSAdaptSetType(adapt, TSADAPTNONE));
  if (want == TSARKIMEX) {
    // The implicit side is linear: one exact linear solve per stage, by LU of the gathered matrix.
    SNES snes;
    KSP ksp;
    PC pc;
    MSROM_PETSC(TSGetSNES(ts_, &snes));
    MSROM_PETSC(SNESSetType(snes, SNESKSPONLY));
    MSROM_PETSC(SNESGetKSP(snes, &ksp));
    MSROM_PETSC(KSPSetType(ksp, KSPPREONLY));
    MSROM_PETSC(KSPGetPC(ksp, &pc));
    MSROM_PETSC(PCSetType(pc, PCREDUNDANT));
  }
  set_ts_from_options();
  MSROM_PETSC(TSGetTimeStep(ts_, &dt_));

  TSType type;
  MSROM_PETSC(TSGetType(ts_, &type));
  const std::string t = type;
  integrator_ = t;
  if (t == TSARKIMEX) {
    TSARKIMEXType sub;
    MSROM_PETSC(TSARKIMEXGetType(ts_, &sub));
    integrator_ += std::string("/") + sub;
    MSROM_PETSC(DMCreateMatrix(da_, &J_));
    MSROM_PETSC(TSSetIFunction(ts_, nullptr, ifunction, this));
    MSROM_PETSC(TSSetIJacobian(ts_, J_, J_, ijacobian, this));
    MSROM_PETSC(TSSetRHSFunction(ts_, nullptr, rhs_nonstiff, this));
  } else if (is_explicit(t)) {
    if (t == TSRK) {
      TSRKType sub;
      MSROM_PETSC(TSRKGetType(ts_, &sub));
      integrator_ += std::string("/") + sub;
    }
    MSROM_PETSC(TSSetRHSFunction(ts_, nullptr, rhs_full, this));
  } else {
    // Fully implicit methods: Newton with a finite-difference Jacobian coloured by the DMDA stencil.
    SNES snes;
    MSROM_PETSC(TSGetSNES(ts_, &snes));
    MSROM_PETSC(DMCreateMatrix(da_, &J_));
    MSROM_PETSC(TSSetRHSFunction(ts_, nullptr, rhs_full, this));
    MSROM_PETSC(SNESSetJacobian(snes, J_, J_, SNESComputeJacobianDefaultColor, nullptr));
  }
  TSAdaptType at;
  MSROM_PETSC(TSGetAdapt(ts_, &adapt));
  MSROM_PETSC(TSAdaptGetType(adapt, &at));
  adaptive_ = std::strcmp(at, TSADAPTNONE) != 0;
  if (adaptive_) integrator_ += " (adaptive)";
  // Set up now, so that every option PETSc reads during set-up (the linear solver's, a redundant PC's
  // inner solver's) has been read before the command checks for unread options.
  MSROM_PETSC(TSSetSolution(ts_, u_));
  MSROM_PETSC(TSSetUp(ts_));
  if (t == TSARKIMEX) {
    SNES snes;
    KSP ksp;
    MSROM_PETSC(TSGetSNES(ts_, &snes));
    MSROM_PETSC(SNESGetKSP(snes, &ksp));
    assemble_stiff_jacobian(1.0 / dt_, J_);
    MSROM_PETSC(KSPSetOperators(ksp, J_, J_));
    MSROM_PETSC(KSPSetUp(ksp));
  }
}

Solver::~Solver() {
  if (J_) MatDestroy(&J_);
  if (local_) VecDestroy(&local_);
}

void Solver::fill(const std::function<double(double, double)>& f) {
  if (pde_.dim == 1) {
    PetscScalar* a;
    MSROM_PETSC(DMDAVecGetArray(da_, u_, &a));
    for (long i = xs_; i < xs_ + xm_; ++i) a[i] = pde_.boundary(i, 0) ? 0.0 : f(pde_.x(i), 0.0);
    MSROM_PETSC(DMDAVecRestoreArray(da_, u_, &a));
  } else {
    PetscScalar** a;
    MSROM_PETSC(DMDAVecGetArray(da_, u_, &a));
    for (long j = ys_; j < ys_ + ym_; ++j)
      for (long i = xs_; i < xs_ + xm_; ++i) a[j][i] = pde_.boundary(i, j) ? 0.0 : f(pde_.x(i), pde_.y(j));
    MSROM_PETSC(DMDAVecRestoreArray(da_, u_, &a));
  }
}

void Solver::set_initial(const Profile& p) {
  profile_ = p;
  fill(p.u0);
}

void Solver::advance(std::int64_t k) {
  if (k <= step_) return;
  if (!ts_) {  // the exact solution
    const double t = t0_ + static_cast<double>(k) * dt_;
    const auto& ex = profile_.exact;
    fill([&](double x, double y) { return ex(t, x, y); });
    step_ = k;
    return;
  }
  FieldSolver::advance(k);
}

void Solver::local_values(double* out) const {
  const PetscScalar* a;
  MSROM_PETSC(VecGetArrayRead(u_, &a));
  for (long j = 0; j < ym_; ++j)
    for (long i = 0; i < xm_; ++i) out[i * ym_ + j] = a[j * xm_ + i];
  MSROM_PETSC(VecRestoreArrayRead(u_, &a));
}

void Solver::set_local_values(const double* in) {
  PetscScalar* a;
  MSROM_PETSC(VecGetArray(u_, &a));
  for (long j = 0; j < ym_; ++j)
    for (long i = 0; i < xm_; ++i) a[j * xm_ + i] = in[i * ym_ + j];
  MSROM_PETSC(VecRestoreArray(u_, &a));
}

void Solver::rhs(double* out) {
  Vec f;
  MSROM_PETSC(VecDuplicate(u_, &f));
  eval(Part::full, u_, f);
  const PetscScalar* a;
  MSROM_PETSC(VecGetArrayRead(f, &a));
  for (long j = 0; j < ym_; ++j)
    for (long i = 0; i < xm_; ++i) out[i * ym_ + j] = a[j * xm_ + i];
  MSROM_PETSC(VecRestoreArrayRead(f, &a));
  VecDestroy(&f);
}

void Solver::eval(Part part, Vec U, Vec F) {
  MSROM_PETSC(DMGlobalToLocalBegin(da_, U, INSERT_VALUES, local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, U, INSERT_VALUES, local_));
  const bool lin = part != Part::nonstiff, adv = part != Part::stiff && pde_.advection != 0;
  const auto& taps = pde_.linear;
  const std::size_t nt = taps.size();
  const double ax = pde_.advection / (2 * pde_.dx()), ay = pde_.advection / (2 * pde_.dy());
  if (pde_.dim == 1) {
    const PetscScalar* u;
    PetscScalar* f;
    MSROM_PETSC(DMDAVecGetArrayRead(da_, local_, &u));
    MSROM_PETSC(DMDAVecGetArray(da_, F, &f));
    for (long i = xs_; i < xs_ + xm_; ++i) {
      if (pde_.boundary(i, 0)) {
        f[i] = 0;
        continue;
      }
      double v = 0;
      if (lin)
        for (std::size_t k = 0; k < nt; ++k) v += taps[k].c * u[i + taps[k].di];
      if (adv) v -= ax * u[i] * (u[i + 1] - u[i - 1]);
      f[i] = v;
    }
    MSROM_PETSC(DMDAVecRestoreArrayRead(da_, local_, &u));
    MSROM_PETSC(DMDAVecRestoreArray(da_, F, &f));
  } else {
    const PetscScalar* const* u;
    PetscScalar** f;
    MSROM_PETSC(DMDAVecGetArrayRead(da_, local_, &u));
    MSROM_PETSC(DMDAVecGetArray(da_, F, &f));
    for (long j = ys_; j < ys_ + ym_; ++j)
      for (long i = xs_; i < xs_ + xm_; ++i) {
        if (pde_.boundary(i, j)) {
          f[j][i] = 0;
          continue;
        }
        double v = 0;
        if (lin)
          for (std::size_t k = 0; k < nt; ++k) v += taps[k].c * u[j + taps[k].dj][i + taps[k].di];
        if (adv) v -= u[j][i] * (ax * (u[j][i + 1] - u[j][i - 1]) + ay * (u[j + 1][i] - u[j - 1][i]));
        f[j][i] = v;
      }
    MSROM_PETSC(DMDAVecRestoreArrayRead(da_, local_, &u));
    MSROM_PETSC(DMDAVecRestoreArray(da_, F, &f));
  }
}

void Solver::assemble_stiff_jacobian(double shift, Mat J) {
  // Unchanged shift (fixed steps): leave the matrix alone, so that its state is unchanged and the
  // preconditioner keeps its factorisation.
  if (J == J_ && shift == shift_) return;
  MSROM_PETSC(MatZeroEntries(J));
  std::vector<MatStencil> cols(pde_.linear.size() + 1);
  std::vector<PetscScalar> vals(cols.size());
  for (long j = ys_; j < ys_ + ym_; ++j)
    for (long i = xs_; i < xs_ + xm_; ++i) {
      MatStencil row{};
      row.i = static_cast<PetscInt>(i), row.j = static_cast<PetscInt>(j);
      PetscInt n = 0;
      cols[n] = row, vals[n++] = shift;
      if (!pde_.boundary(i, j))
        for (const auto& t : pde_.linear) {
          MatStencil c{};
          c.i = static_cast<PetscInt>(i + t.di), c.j = static_cast<PetscInt>(j + t.dj);
          cols[n] = c, vals[n++] = -t.c;
        }
      MSROM_PETSC(MatSetValuesStencil(J, 1, &row, n, cols.data(), vals.data(), ADD_VALUES));
    }
  MSROM_PETSC(MatAssemblyBegin(J, MAT_FINAL_ASSEMBLY));
  MSROM_PETSC(MatAssemblyEnd(J, MAT_FINAL_ASSEMBLY));
  if (J == J_) shift_ = shift;
}

}  // namespace msrom::pde
