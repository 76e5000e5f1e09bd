#include "msrom/pde/shallow_water.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "msrom/core/errors.hpp"

namespace msrom::pde {

namespace {

struct Cell {
  PetscScalar h, hu, hv;
};

// A face's state in its normal frame: height, normal and tangential velocity.
struct Face {
  double h, un, ut;
};

// Limited slopes; both are symmetric in their arguments and odd (limiter(-b, -a) = -limiter(a, b)), which
// keeps mirror-symmetric data exactly symmetric.
inline double minmod(double a, double b) {
  if (a * b <= 0) return 0.0;
  return std::abs(a) < std::abs(b) ? a : b;
}
inline double monotonized_central(double a, double b) {
  if (a * b <= 0) return 0.0;
  const double m = std::min(std::min(2 * std::abs(a), 2 * std::abs(b)), 0.5 * std::abs(a + b));
  return a > 0 ? m : -m;
}

// The primitive variables (h, u, v) of a cell; a dry cell is at rest.
inline void primitive(const Cell& c, double* p) {
  p[0] = c.h;
  p[1] = c.h > 0 ? c.hu / c.h : 0.0;
  p[2] = c.h > 0 ? c.hv / c.h : 0.0;
}

// The state on the side `side` (+1: right face, -1: left face) of the middle cell of (m, o, q), where each
// points at (h, u, v) and (n, t) index the normal and tangential velocity.
inline Face reconstruct(const double* m, const double* o, const double* q, double side, int n, int t, bool mc) {
  auto slope = [&](int k) {
    const double a = o[k] - m[k], b = q[k] - o[k];
    return mc ? monotonized_central(a, b) : minmod(a, b);
  };
  Face f;
  f.h = std::max(0.0, o[0] + side * 0.5 * slope(0));  // positivity: a face is never below dry
  f.un = f.h > 0 ? o[n] + side * 0.5 * slope(n) : 0.0;
  f.ut = f.h > 0 ? o[t] + side * 0.5 * slope(t) : 0.0;
  return f;
}

// HLL flux through a face, in its normal frame: (mass, normal momentum, tangential momentum).
inline void hll(const Face& l, const Face& r, double g, double* out) {
  const double cl = std::sqrt(g * l.h), cr = std::sqrt(g * r.h);
  const double ql = l.h * l.un, qr = r.h * r.un;
  const double fl[3] = {ql, ql * l.un + 0.5 * g * l.h * l.h, ql * l.ut};
  const double fr[3] = {qr, qr * r.un + 0.5 * g * r.h * r.h, qr * r.ut};
  const double sl = std::min(l.un - cl, r.un - cr), sr = std::max(l.un + cl, r.un + cr);
  if (sl >= 0) {
    std::copy(fl, fl + 3, out);
    return;
  }
  if (sr <= 0) {
    std::copy(fr, fr + 3, out);
    return;
  }
  const double ul[3] = {l.h, ql, l.h * l.ut}, ur[3] = {r.h, qr, r.h * r.ut};
  const double d = sr - sl, ss = sl * sr;
  for (int k = 0; k < 3; ++k) out[k] = (sr * fl[k] - sl * fr[k] + ss * (ur[k] - ul[k])) / d;
}

PetscErrorCode rhs(TS, PetscReal, Vec U, Vec F, void* ctx) {
  static_cast<ShallowWaterSolver*>(ctx)->eval(U, F);
  return 0;
}

bool is_explicit(const std::string& type) {
  for (const char* t : {TSEULER, TSRK, TSSSP})
    if (type == t) return true;
  return false;
}

double parameter(const Pde& pde, const std::string& name, double def) {
  for (const auto& [k, v] : pde.parameters)
    if (k == name) return v;
  return def;
}

}  // namespace

ShallowWaterSolver::ShallowWaterSolver(const Pde& pde, MPI_Comm comm, double dt) : FieldSolver(comm), pde_(pde) {
  if (pde.dim != 2 || !pde.cell_centred)
    throw InputError("-system_type: the shallow-water solver needs a 2-D cell-centred case");
  dt_ = dt > 0 ? dt : pde.stepping.dt;
  mc_ = parameter(pde, "limiter_mc", 0.0) != 0;

  // 1. The DMDA: cells with (h, hu, hv), two ghost layers (MUSCL), ghosted (not periodic) edges.
  MSROM_PETSC(DMDACreate2d(comm, DM_BOUNDARY_GHOSTED, DM_BOUNDARY_GHOSTED, DMDA_STENCIL_STAR,
                           static_cast<PetscInt>(pde.nx), static_cast<PetscInt>(pde.ny), PETSC_DECIDE, PETSC_DECIDE, 3,
                           2, nullptr, nullptr, &da_));
  MSROM_PETSC(DMSetUp(da_));
  MSROM_PETSC(DMDASetFieldName(da_, 0, "h"));
  MSROM_PETSC(DMDASetFieldName(da_, 1, "hu"));
  MSROM_PETSC(DMDASetFieldName(da_, 2, "hv"));
  MSROM_PETSC(DMCreateGlobalVector(da_, &u_));
  MSROM_PETSC(DMCreateLocalVector(da_, &local_));
  MSROM_PETSC(VecSet(local_, 0.0));  // the star stencil's corners are never filled: keep them dry
  PetscInt xs, ys, xm, ym, gxs, gys, gxm, gym;
  MSROM_PETSC(DMDAGetCorners(da_, &xs, &ys, nullptr, &xm, &ym, nullptr));
  MSROM_PETSC(DMDAGetGhostCorners(da_, &gxs, &gys, nullptr, &gxm, &gym, nullptr));
  xs_ = xs, xm_ = xm, ys_ = ys, ym_ = ym;
  prim_.resize(static_cast<std::size_t>(3 * gxm * gym));
  fx_.resize(static_cast<std::size_t>(3 * (xm + 1)));
  fy_.resize(static_cast<std::size_t>(3 * 2 * xm));

  // 2. The TS: the case's SSP Runge-Kutta, then the options database.
  MSROM_PETSC(TSCreate(comm, &ts_));
  MSROM_PETSC(TSSetDM(ts_, da_));
  MSROM_PETSC(TSSetProblemType(ts_, TS_NONLINEAR));
  MSROM_PETSC(TSSetType(ts_, pde.stepping.ts_type.c_str()));
  if (pde.stepping.ts_type == TSSSP) {
    MSROM_PETSC(TSSSPSetType(ts_, pde.stepping.ts_subtype.c_str()));
    if (pde.stepping.ts_subtype == TSSSPRKS3) MSROM_PETSC(TSSSPSetNumStages(ts_, 4));  // needs a square count
  }
  if (pde.stepping.ts_type == TSRK) MSROM_PETSC(TSRKSetType(ts_, pde.stepping.ts_subtype.c_str()));
  MSROM_PETSC(TSSetTimeStep(ts_, dt_));
  MSROM_PETSC(TSSetExactFinalTime(ts_, TS_EXACTFINALTIME_MATCHSTEP));
  TSAdapt adapt;
  MSROM_PETSC(TSGetAdapt(ts_, &adapt));
  MSROM_PETSC(TSAdaptSetType(adapt, TSADAPTNONE));
  MSROM_PETSC(TSSetRHSFunction(ts_, nullptr, rhs, this));
  set_ts_from_options();
  MSROM_PETSC(TSGetTimeStep(ts_, &dt_));

  TSType type;
  MSROM_PETSC(TSGetType(ts_, &type));
  const std::string t = type;
  if (!is_explicit(t))
    throw InputError("-ts_type: the shallow_water case takes an explicit type (ssp, rk, euler), not '" + t + "'");
  integrator_ = t;
  if (t == TSSSP) {
    TSSSPType sub;
    MSROM_PETSC(TSSSPGetType(ts_, &sub));
    integrator_ += std::string("/") + sub;
  } else if (t == TSRK) {
    TSRKType sub;
    MSROM_PETSC(TSRKGetType(ts_, &sub));
    integrator_ += std::string("/") + sub;
  }
  TSAdaptType at;
  MSROM_PETSC(TSGetAdapt(ts_, &adapt));
  MSROM_PETSC(TSAdaptGetType(adapt, &at));
  if (std::strcmp(at, TSADAPTNONE) != 0)
    throw InputError(
        "-ts_adapt_type: the shallow_water case takes fixed steps (its explicit schemes have no error estimate)");
  // The CFL bound of the fixed step, with the case's bound on the wave speeds: 1 is the forward-Euler limit of
  // MUSCL (about 0.5) times the SSP coefficient of the default scheme (2: rks3 with 4 stages).
  const double courant = dt_ * pde.max_speed * (1.0 / pde.dx() + 1.0 / pde.dy());
  if (courant > 1.0)
    throw InputError("-ts_dt: " + std::to_string(dt_) +
                     " breaks the CFL bound: dt * max_speed * (1/dx + 1/dy) = " + std::to_string(courant) + " > 1");
  MSROM_PETSC(TSSetSolution(ts_, u_));
  MSROM_PETSC(TSSetUp(ts_));
}

ShallowWaterSolver::~ShallowWaterSolver() {
  if (local_) VecDestroy(&local_);
}

void ShallowWaterSolver::set_initial(const Profile& p) {
  Cell** a;
  MSROM_PETSC(DMDAVecGetArray(da_, u_, &a));
  for (long j = ys_; j < ys_ + ym_; ++j)
    for (long i = xs_; i < xs_ + xm_; ++i) a[j][i] = {p.u0(pde_.x(i), pde_.y(j)), 0.0, 0.0};
  MSROM_PETSC(DMDAVecRestoreArray(da_, u_, &a));
}

void ShallowWaterSolver::set_local_values(const double* in) {
  Cell** a;
  MSROM_PETSC(DMDAVecGetArray(da_, u_, &a));
  for (long j = ys_; j < ys_ + ym_; ++j)
    for (long i = xs_; i < xs_ + xm_; ++i) a[j][i] = {1.0 + in[(i - xs_) * ym_ + (j - ys_)], 0.0, 0.0};
  MSROM_PETSC(DMDAVecRestoreArray(da_, u_, &a));
}

void ShallowWaterSolver::local_values(double* out) const {
  const PetscScalar* a;
  MSROM_PETSC(VecGetArrayRead(u_, &a));
  for (long j = 0; j < ym_; ++j)
    for (long i = 0; i < xm_; ++i) out[i * ym_ + j] = a[3 * (j * xm_ + i)] - 1.0;
  MSROM_PETSC(VecRestoreArrayRead(u_, &a));
}

std::vector<double> ShallowWaterSolver::local_component(int c) const {
  std::vector<double> out(static_cast<std::size_t>(local_size()));
  const PetscScalar* a;
  MSROM_PETSC(VecGetArrayRead(u_, &a));
  for (long j = 0; j < ym_; ++j)
    for (long i = 0; i < xm_; ++i) out[i * ym_ + j] = a[3 * (j * xm_ + i) + c];
  MSROM_PETSC(VecRestoreArrayRead(u_, &a));
  return out;
}

void ShallowWaterSolver::eval(Vec U, Vec F) {
  // 1. Ghosts: neighbours' cells, then zero-gradient copies of the edge cells outside the domain.
  MSROM_PETSC(DMGlobalToLocalBegin(da_, U, INSERT_VALUES, local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, U, INSERT_VALUES, local_));
  Cell** u;
  Cell** f;
  MSROM_PETSC(DMDAVecGetArray(da_, local_, &u));
  MSROM_PETSC(DMDAVecGetArray(da_, F, &f));
  const long nx = pde_.nx, ny = pde_.ny, xe = xs_ + xm_, ye = ys_ + ym_;
  for (long j = ys_; j < ye; ++j) {
    if (xs_ == 0) u[j][-1] = u[j][-2] = u[j][0];
    if (xe == nx) u[j][nx] = u[j][nx + 1] = u[j][nx - 1];
  }
  for (long i = xs_; i < xe; ++i) {
    if (ys_ == 0) u[-1][i] = u[-2][i] = u[0][i];
    if (ye == ny) u[ny][i] = u[ny + 1][i] = u[ny - 1][i];
  }

  // 2. Primitive variables of the cells the faces need (the owned block and its ghost cross).
  PetscInt gxs, gys, gxm, gym;
  MSROM_PETSC(DMDAGetGhostCorners(da_, &gxs, &gys, nullptr, &gxm, &gym, nullptr));
  auto p = [&](long j, long i) { return &prim_[static_cast<std::size_t>(3 * ((j - gys) * gxm + (i - gxs)))]; };
  for (long j = gys; j < gys + gym; ++j)
    for (long i = gxs; i < gxs + gxm; ++i) {
      const bool cross = (j >= ys_ && j < ye) || (i >= xs_ && i < xe);
      if (cross) primitive(u[j][i], p(j, i));
    }

  // 3. Fluxes and the update, row by row. x faces i+1/2 of row j, i = xs-1 .. xe-1 (normal u, tangent v);
  // y faces j+1/2 (normal v, tangent u) in two alternating rows: below and above row j.
  const double g = pde_.gravity, dx = pde_.dx(), dy = pde_.dy();
  const bool mc = mc_;
  const long m = xm_;
  auto y_faces = [&](long j, double* out) {  // faces (i, j+1/2), i owned
    for (long i = xs_; i < xe; ++i) {
      const Face lo = reconstruct(p(j - 1, i), p(j, i), p(j + 1, i), +1.0, 2, 1, mc);
      const Face hi = reconstruct(p(j, i), p(j + 1, i), p(j + 2, i), -1.0, 2, 1, mc);
      hll(lo, hi, g, out + 3 * (i - xs_));
    }
  };
  double* below = fy_.data();
  double* above = fy_.data() + 3 * m;
  y_faces(ys_ - 1, below);
  for (long j = ys_; j < ye; ++j) {
    for (long i = xs_ - 1; i < xe; ++i) {
      const Face l = reconstruct(p(j, i - 1), p(j, i), p(j, i + 1), +1.0, 1, 2, mc);
      const Face r = reconstruct(p(j, i), p(j, i + 1), p(j, i + 2), -1.0, 1, 2, mc);
      hll(l, r, g, &fx_[static_cast<std::size_t>(3 * (i - xs_ + 1))]);
    }
    y_faces(j, above);
    for (long i = xs_; i < xe; ++i) {
      const double* fw = &fx_[static_cast<std::size_t>(3 * (i - xs_))];  // face i-1/2
      const double* fe = fw + 3;                                         // face i+1/2
      const double* gs = below + 3 * (i - xs_);                          // face j-1/2
      const double* gn = above + 3 * (i - xs_);                          // face j+1/2
      // x faces carry (mass, x momentum, y momentum), y faces (mass, y momentum, x momentum).
      f[j][i].h = -((fe[0] - fw[0]) / dx) - (gn[0] - gs[0]) / dy;
      f[j][i].hu = -((fe[1] - fw[1]) / dx) - (gn[2] - gs[2]) / dy;
      f[j][i].hv = -((fe[2] - fw[2]) / dx) - (gn[1] - gs[1]) / dy;
    }
    std::swap(below, above);
  }
  MSROM_PETSC(DMDAVecRestoreArray(da_, local_, &u));
  MSROM_PETSC(DMDAVecRestoreArray(da_, F, &f));
}

}  // namespace msrom::pde
