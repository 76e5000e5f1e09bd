#include "msrom/pde/cylinder_wake.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"

namespace msrom::pde {

namespace {

struct Node {
  PetscScalar u, v, p;
};

// QUICK: the value at the face between `c` (upwind) and `d` (downwind), with `b` upwind of c.
inline double quick(double b, double c, double d) { return 0.75 * c + 0.375 * d - 0.125 * b; }
// The transported value at a face with neighbours (m2, m1 | p1, p2) for a transporting velocity `w`.
inline double upwind(double w, double m2, double m1, double p1, double p2) {
  return w >= 0 ? quick(m2, m1, p1) : quick(p2, p1, m1);
}

// Bilinear interpolation at (x, y) of component u (v = false) or v of a ghosted (u, v, p) array: u lives on
// the nodes ((i + 1) h, (j + 1/2) h), v on ((i + 1/2) h, (j + 1) h).
double sample(const Node* const* a, double h, double x, double y, bool v) {
  const double fx = x / h - (v ? 0.5 : 1.0), fy = y / h - (v ? 1.0 : 0.5);
  const auto i0 = static_cast<long>(std::floor(fx)), j0 = static_cast<long>(std::floor(fy));
  const double tx = fx - static_cast<double>(i0), ty = fy - static_cast<double>(j0);
  auto g = [&](long j, long i) { return v ? a[j][i].v : a[j][i].u; };
  return (1 - ty) * ((1 - tx) * g(j0, i0) + tx * g(j0, i0 + 1)) + ty * ((1 - tx) * g(j0 + 1, i0) + tx * g(j0 + 1, i0 + 1));
}

double parameter(const Pde& pde, const std::string& name, double def) {
  for (const auto& [k, v] : pde.parameters)
    if (k == name) return v;
  return def;
}

}  // namespace

CylinderSetup CylinderSetup::from(const Pde& pde) {
  CylinderSetup s;
  s.n = static_cast<long>(parameter(pde, "n", static_cast<double>(s.n)));
  s.length = parameter(pde, "length", s.length);
  s.height = parameter(pde, "height", s.height);
  s.diameter = parameter(pde, "diameter", s.diameter);
  s.cx = parameter(pde, "cx", s.cx);
  s.cy = parameter(pde, "cy", s.cy);
  s.u_in = parameter(pde, "u_in", s.u_in);
  s.nu = parameter(pde, "nu", s.nu);
  s.parabolic = parameter(pde, "parabolic", 0.0) != 0;
  s.no_slip = parameter(pde, "no_slip", 0.0) != 0;
  s.periodic = parameter(pde, "periodic", 0.0) != 0;
  s.ksp_rtol = parameter(pde, "ksp_rtol", s.ksp_rtol);
  return s;
}

Shedding shedding(const std::vector<ForceSample>& f, double t_from, double diameter, double u_in) {
  Shedding out;
  double mean = 0;
  long n = 0;
  for (const auto& s : f)
    if (s.t >= t_from) mean += s.cl, ++n;
  if (n < 3) return out;
  mean /= static_cast<double>(n);
  std::vector<double> up;      // times of upward crossings of cl - mean
  std::vector<std::size_t> at; // sample index just after each crossing
  for (std::size_t k = 1; k < f.size(); ++k) {
    if (f[k - 1].t < t_from) continue;
    const double a = f[k - 1].cl - mean, b = f[k].cl - mean;
    if (a < 0 && b >= 0) {
      up.push_back(f[k - 1].t + (f[k].t - f[k - 1].t) * (-a) / (b - a));
      at.push_back(k);
    }
  }
  if (up.size() < 2) return out;
  out.periods = static_cast<long>(up.size() - 1);
  const double period = (up.back() - up.front()) / static_cast<double>(out.periods);
  out.st = diameter / (u_in * period);
  // Mean drag over the whole periods (trapezoidal in the samples between the first and the last crossing).
  double sum = 0, span = 0, lo = 1e300, hi = -1e300;
  for (std::size_t k = at.front(); k < at.back(); ++k) {
    const double dt = f[k].t - f[k - 1].t;
    sum += 0.5 * (f[k].cd + f[k - 1].cd) * dt;
    span += dt;
  }
  for (std::size_t k = at.front(); k <= at.back(); ++k) lo = std::min(lo, f[k].cl), hi = std::max(hi, f[k].cl);
  out.cd_mean = sum / span;
  out.cl_amplitude = 0.5 * (hi - lo);
  return out;
}

CylinderWakeSolver::CylinderWakeSolver(const Pde& pde, MPI_Comm comm, double dt)
    : FieldSolver(comm), pde_(pde), s_(CylinderSetup::from(pde)) {
  dt_ = dt > 0 ? dt : pde.stepping.dt;
  const double h = s_.h();
  const long nx = s_.nx(), ny = s_.n;
  if (ny < 4 || nx < 4) throw InputError("-system_n: the channel needs at least 4 cells per direction");
  if (std::abs(static_cast<double>(nx) * h - s_.length) > 1e-9 * s_.length)
    throw InputError("-system_n: the channel length must be a whole number of cells (length / height * n)");
  if (s_.diameter > 0 && (s_.cx - s_.diameter < 0 || s_.cx + s_.diameter > s_.length ||
                          s_.cy - s_.diameter < 0 || s_.cy + s_.diameter > s_.height))
    throw InputError("-system_cx: the cylinder (and a diameter around it) must lie inside the channel");
  // Stability of the explicit predictor: advection (AB2 + QUICK, with 2 U as the peak speed around the
  // body) and diffusion (AB2's real stability limit -1 against the 5-point Laplacian's -8 nu / h^2).
  const double courant = 2 * s_.u_in * dt_ / h, viscous = 8 * s_.nu * dt_ / (h * h);
  if (courant > 1.0 || viscous > 1.0)
    throw InputError("-ts_dt: " + std::to_string(dt_) + " is beyond the explicit bounds: 2 U dt / h = " +
                     std::to_string(courant) + ", 8 nu dt / h^2 = " + std::to_string(viscous) + " (both must be <= 1)");
  integrator_ = "projection/ab2-quick";
  // The step is the projection method's own, not a PETSc TS: another -ts_type would be silently ignored.
  char ts_type[64] = "";
  PetscBool ts_set = PETSC_FALSE;
  MSROM_PETSC(PetscOptionsGetString(nullptr, nullptr, "-ts_type", ts_type, sizeof ts_type, &ts_set));
  if (ts_set && std::string(ts_type) != pde.stepping.ts_type)
    throw InputError("-ts_type: the cylinder_wake case has its own time stepping (" + pde.stepping.ts_type +
                     "), not '" + ts_type + "'");

  // 1. The state DMDA: (u, v, p) per cell, BOX stencil of width 2 (QUICK reaches two faces upwind; the
  // cross terms need diagonal neighbours).
  const DMBoundaryType bt = s_.periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED;
  MSROM_PETSC(DMDACreate2d(comm, bt, bt, DMDA_STENCIL_BOX, static_cast<PetscInt>(nx), static_cast<PetscInt>(ny),
                           PETSC_DECIDE, PETSC_DECIDE, 3, 2, nullptr, nullptr, &da_));
  MSROM_PETSC(DMSetUp(da_));
  MSROM_PETSC(DMDASetFieldName(da_, 0, "u"));
  MSROM_PETSC(DMDASetFieldName(da_, 1, "v"));
  MSROM_PETSC(DMDASetFieldName(da_, 2, "p"));
  MSROM_PETSC(DMCreateGlobalVector(da_, &u_));
  MSROM_PETSC(VecDuplicate(u_, &star_));
  MSROM_PETSC(DMCreateLocalVector(da_, &local_));
  MSROM_PETSC(VecDuplicate(local_, &star_local_));
  PetscInt xs, ys, xm, ym, m, n;
  MSROM_PETSC(DMDAGetCorners(da_, &xs, &ys, nullptr, &xm, &ym, nullptr));
  MSROM_PETSC(DMDAGetInfo(da_, nullptr, nullptr, nullptr, nullptr, &m, &n, nullptr, nullptr, nullptr, nullptr,
                          nullptr, nullptr, nullptr));
  cxs_ = xs, cxm_ = xm, cys_ = ys, cym_ = ym;

  // 2. The scalar DMDA of phi with the same ownership, and the Poisson matrix A = -h^2 Lap (Neumann: a
  // missing neighbour drops out of the row). Cell (0, 0) is pinned (phi = 0, decoupled from its neighbours):
  // the matrix stays SPD and nonsingular for any preconditioner, and its dropped equation holds anyway
  // because the right-hand side sums to zero (inflow = outflow).
  const PetscInt *lx, *ly;
  MSROM_PETSC(DMDAGetOwnershipRanges(da_, &lx, &ly, nullptr));
  MSROM_PETSC(DMDACreate2d(comm, bt, bt, DMDA_STENCIL_STAR, static_cast<PetscInt>(nx), static_cast<PetscInt>(ny), m, n,
                           1, 1, lx, ly, &dap_));
  MSROM_PETSC(DMSetUp(dap_));
  MSROM_PETSC(DMCreateGlobalVector(dap_, &phi_));
  MSROM_PETSC(VecDuplicate(phi_, &rhs_));
  MSROM_PETSC(DMCreateLocalVector(dap_, &phi_local_));
  MSROM_PETSC(VecSet(phi_, 0.0));
  MSROM_PETSC(DMCreateMatrix(dap_, &A_));
  for (PetscInt j = ys; j < ys + ym; ++j)
    for (PetscInt i = xs; i < xs + xm; ++i) {
      MatStencil row{}, col[5]{};
      PetscScalar val[5];
      row.i = i, row.j = j;
      int k = 1;
      double diag = 0;
      const bool pinned = i == 0 && j == 0;
      const PetscInt nb[4][2] = {{i - 1, j}, {i + 1, j}, {i, j - 1}, {i, j + 1}};
      for (const auto& q : nb) {
        const bool inside = s_.periodic || (q[0] >= 0 && q[0] < nx && q[1] >= 0 && q[1] < ny);
        if (!inside) continue;
        diag += 1;
        const bool to_pinned = (q[0] + nx) % nx == 0 && (q[1] + ny) % ny == 0;
        if (pinned || to_pinned) continue;
        col[k].i = q[0], col[k].j = q[1];
        val[k++] = -1.0;
      }
      col[0].i = i, col[0].j = j;
      val[0] = diag;
      MSROM_PETSC(MatSetValuesStencil(A_, 1, &row, k, col, val, INSERT_VALUES));
    }
  MSROM_PETSC(MatAssemblyBegin(A_, MAT_FINAL_ASSEMBLY));
  MSROM_PETSC(MatAssemblyEnd(A_, MAT_FINAL_ASSEMBLY));
  MSROM_PETSC(KSPCreate(comm, &ksp_));
  MSROM_PETSC(KSPSetOptionsPrefix(ksp_, "cyl_"));
  MSROM_PETSC(KSPSetOperators(ksp_, A_, A_));
  MSROM_PETSC(KSPSetType(ksp_, KSPCG));
  PC pc;
  MSROM_PETSC(KSPGetPC(ksp_, &pc));
  MSROM_PETSC(PCSetType(pc, PCGAMG));
  MSROM_PETSC(KSPSetNormType(ksp_, KSP_NORM_UNPRECONDITIONED));
  MSROM_PETSC(KSPSetTolerances(ksp_, s_.ksp_rtol, 1e-300, PETSC_DEFAULT, 1000));
  MSROM_PETSC(KSPSetInitialGuessNonzero(ksp_, PETSC_TRUE));
  {
    const PetscErrorCode ierr = KSPSetFromOptions(ksp_);
    if (ierr) throw InputError("-cyl_ksp_type (or another -cyl_* option): PETSc rejected the pressure solver options");
  }
  MSROM_PETSC(KSPSetUp(ksp_));

  // 3. The body's faces: inside (forced to 0) and forcing points (fluid faces with a same-component
  // neighbour inside), forced to the linear profile between the surface (0) and an image point one cell
  // further out along the normal: u_f = u*(image) d / (d + h) (Fadlun et al. 2000, Balaras 2004). The
  // no-slip surface is then where the circle is, to second order, for any alignment of body and grid.
  n_old_.assign(static_cast<std::size_t>(2 * xm * ym), 0.0);
  if (s_.diameter > 0) {
    const double r0 = 0.5 * s_.diameter;
    auto dist = [&](double x, double y) { return std::hypot(x - s_.cx, y - s_.cy) - r0; };
    for (PetscInt j = ys; j < ys + ym; ++j)
      for (PetscInt i = xs; i < xs + xm; ++i)
        for (int c = 0; c < 2; ++c) {
          const double x = c == 0 ? (i + 1.0) * h : (i + 0.5) * h, y = c == 0 ? (j + 0.5) * h : (j + 1.0) * h;
          const double d = dist(x, y);
          if (d < 0) {
            forced_.push_back({i, j, c, 0, 0, 0});
            continue;
          }
          const bool near = dist(x - h, y) < 0 || dist(x + h, y) < 0 || dist(x, y - h) < 0 || dist(x, y + h) < 0;
          if (!near) continue;
          const double r = d + r0, nx_ = (x - s_.cx) / r, ny_ = (y - s_.cy) / r;
          forced_.push_back({i, j, c, x + h * nx_, y + h * ny_, d / (d + h)});
        }
  }

  // 4. The window points owned here: those inside an owned cell.
  for (double c : {pde.x(0), pde.x(pde.nx - 1)})
    if (c <= 0 || c >= s_.length) throw InputError("-system_window_x0: the sampling window must lie inside the channel");
  for (double c : {pde.y(0), pde.y(pde.ny - 1)})
    if (c <= 0 || c >= s_.height) throw InputError("-system_window_y0: the sampling window must lie inside the channel");
  auto owned = [&](long count, const std::function<double(long)>& coord, long lo, long hi, long& first, long& num) {
    first = count, num = 0;
    for (long q = 0; q < count; ++q) {
      const auto c = static_cast<long>(std::floor(coord(q) / h));
      if (c >= lo && c < hi) first = std::min(first, q), ++num;
    }
    if (num == 0) first = 0;
  };
  owned(pde.nx, [&](long q) { return pde.x(q); }, xs, xs + xm, xs_, xm_);
  owned(pde.ny, [&](long q) { return pde.y(q); }, ys, ys + ym, ys_, ym_);
  if (xm_ == 0 || ym_ == 0) xm_ = ym_ = 0;
}

CylinderWakeSolver::~CylinderWakeSolver() {
  if (ksp_) KSPDestroy(&ksp_);
  if (A_) MatDestroy(&A_);
  for (Vec* v : {&local_, &star_, &star_local_, &phi_, &rhs_, &phi_local_})
    if (*v) VecDestroy(v);
  if (dap_) DMDestroy(&dap_);
}

void CylinderWakeSolver::fill_ghosts(Vec local) const {
  if (s_.periodic) return;
  Node** a;
  MSROM_PETSC(DMDAVecGetArray(da_, local, &a));
  PetscInt gxs, gys, gxm, gym;
  MSROM_PETSC(DMDAGetGhostCorners(da_, &gxs, &gys, nullptr, &gxm, &gym, nullptr));
  const long nx = s_.nx(), ny = s_.n, xe = cxs_ + cxm_, ye = cys_ + cym_;
  const double h = s_.h(), sw = s_.no_slip ? -1.0 : 1.0;
  // x first, on the rows inside the channel; then y over the whole ghosted x range (the corners).
  for (long j = std::max<long>(gys, 0); j < std::min<long>(gys + gym, ny); ++j) {
    if (cxs_ == 0) {  // inflow: u = U(y) on the face x = 0 and beyond, v = 0 at x = 0 (odd reflection)
      a[j][-1].u = a[j][-2].u = s_.inflow((j + 0.5) * h);
      a[j][-1].v = -a[j][0].v, a[j][-2].v = -a[j][1].v;
      a[j][-1].p = a[j][0].p, a[j][-2].p = a[j][1].p;
    }
    if (xe == nx) {  // outflow: zero gradient
      a[j][nx].u = a[j][nx + 1].u = a[j][nx - 1].u;
      a[j][nx].v = a[j][nx + 1].v = a[j][nx - 1].v;
      a[j][nx].p = a[j][nx - 1].p, a[j][nx + 1].p = a[j][nx - 2].p;
    }
  }
  for (long i = gxs; i < gxs + gxm; ++i) {
    if (cys_ == 0) {  // wall y = 0: v = 0 on it (odd reflection beyond), u even (slip) or odd (no slip)
      a[-1][i].v = 0, a[-2][i].v = -a[0][i].v;
      a[-1][i].u = sw * a[0][i].u, a[-2][i].u = sw * a[1][i].u;
      a[-1][i].p = a[0][i].p, a[-2][i].p = a[1][i].p;
    }
    if (ye == ny) {  // wall y = height: the face v[ny - 1] is the wall
      a[ny][i].v = -a[ny - 2][i].v, a[ny + 1][i].v = -a[ny - 3][i].v;
      a[ny][i].u = sw * a[ny - 1][i].u, a[ny + 1][i].u = sw * a[ny - 2][i].u;
      a[ny][i].p = a[ny - 1][i].p, a[ny + 1][i].p = a[ny - 2][i].p;
    }
  }
  MSROM_PETSC(DMDAVecRestoreArray(da_, local, &a));
}

void CylinderWakeSolver::refresh() {
  MSROM_PETSC(DMGlobalToLocalBegin(da_, u_, INSERT_VALUES, local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, u_, INSERT_VALUES, local_));
  fill_ghosts(local_);
}

void CylinderWakeSolver::project(Vec ustar_local, Vec out, double dt, bool update_p) {
  const double h = s_.h();
  const long nx = s_.nx(), ny = s_.n;
  const long xe = cxs_ + cxm_, ye = cys_ + cym_;
  // Right-hand side -h div(u*) / dt (the pinned cell's is 0).
  {
    Node** w;
    PetscScalar** b;
    MSROM_PETSC(DMDAVecGetArrayRead(da_, ustar_local, &w));
    MSROM_PETSC(DMDAVecGetArray(dap_, rhs_, &b));
    for (long j = cys_; j < ye; ++j)
      for (long i = cxs_; i < xe; ++i)
        b[j][i] = (i == 0 && j == 0) ? 0.0 : -(w[j][i].u - w[j][i - 1].u + w[j][i].v - w[j - 1][i].v) * h / dt;
    MSROM_PETSC(DMDAVecRestoreArray(dap_, rhs_, &b));
    MSROM_PETSC(DMDAVecRestoreArrayRead(da_, ustar_local, &w));
  }
  MSROM_PETSC(KSPSolve(ksp_, rhs_, phi_));
  KSPConvergedReason reason;
  MSROM_PETSC(KSPGetConvergedReason(ksp_, &reason));
  if (reason < 0)
    throw RuntimeError(std::string("cylinder_wake: the pressure Poisson solve failed (") + KSPConvergedReasons[reason] +
                       "); reduce -ts_dt or change -cyl_ksp_type / -cyl_pc_type");
  PetscInt its;
  MSROM_PETSC(KSPGetIterationNumber(ksp_, &its));
  last_its_ = its, ksp_its_ += its;
  MSROM_PETSC(DMGlobalToLocalBegin(dap_, phi_, INSERT_VALUES, phi_local_));
  MSROM_PETSC(DMGlobalToLocalEnd(dap_, phi_, INSERT_VALUES, phi_local_));
  // u = u* - dt grad phi on the faces that are not fixed boundary faces.
  Node** w;
  Node** o;
  PetscScalar** f;
  MSROM_PETSC(DMDAVecGetArrayRead(da_, ustar_local, &w));
  MSROM_PETSC(DMDAVecGetArrayRead(dap_, phi_local_, &f));
  MSROM_PETSC(DMDAVecGetArray(da_, out, &o));
  const double c = dt / h;
  for (long j = cys_; j < ye; ++j)
    for (long i = cxs_; i < xe; ++i) {
      const bool eu = s_.periodic || i < nx - 1, ev = s_.periodic || j < ny - 1;
      o[j][i].u = eu ? w[j][i].u - c * (f[j][i + 1] - f[j][i]) : w[j][i].u;
      o[j][i].v = ev ? w[j][i].v - c * (f[j + 1][i] - f[j][i]) : w[j][i].v;
      if (update_p) o[j][i].p += f[j][i];
    }
  MSROM_PETSC(DMDAVecRestoreArray(da_, out, &o));
  MSROM_PETSC(DMDAVecRestoreArrayRead(dap_, phi_local_, &f));
  MSROM_PETSC(DMDAVecRestoreArrayRead(da_, ustar_local, &w));
}

void CylinderWakeSolver::set_velocity(const std::function<double(double, double)>& u,
                                      const std::function<double(double, double)>& v) {
  const double h = s_.h();
  const long nx = s_.nx(), ny = s_.n, xe = cxs_ + cxm_, ye = cys_ + cym_;
  Node** a;
  double q[2] = {0, 0};  // outflow, inflow through this rank's boundary faces
  MSROM_PETSC(DMDAVecGetArray(da_, u_, &a));
  for (long j = cys_; j < ye; ++j)
    for (long i = cxs_; i < xe; ++i) {
      a[j][i].u = u((i + 1.0) * h, (j + 0.5) * h);
      a[j][i].v = (!s_.periodic && j == ny - 1) ? 0.0 : v((i + 0.5) * h, (j + 1.0) * h);
      a[j][i].p = 0;
      if (!s_.periodic && i == nx - 1) q[0] += a[j][i].u * h;
      if (!s_.periodic && i == 0) q[1] += s_.inflow((j + 0.5) * h) * h;
    }
  double qs[2];
  MPI_Allreduce(q, qs, 2, MPI_DOUBLE, MPI_SUM, comm_);
  if (!s_.periodic && xe == nx)
    for (long j = cys_; j < ye; ++j) a[j][nx - 1].u += (qs[1] - qs[0]) / s_.height;
  for (const auto& f : forced_)
    if (f.alpha == 0) (f.c == 0 ? a[f.j][f.i].u : a[f.j][f.i].v) = 0;
  MSROM_PETSC(DMDAVecRestoreArray(da_, u_, &a));
  // Project (the scale dt = 1 is immaterial: p stays 0), from a fresh guess.
  MSROM_PETSC(VecSet(phi_, 0.0));
  MSROM_PETSC(DMGlobalToLocalBegin(da_, u_, INSERT_VALUES, star_local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, u_, INSERT_VALUES, star_local_));
  fill_ghosts(star_local_);
  project(star_local_, u_, 1.0, false);
  MSROM_PETSC(VecSet(phi_, 0.0));
  refresh();
  first_ = true;
  forces_.clear();
}

void CylinderWakeSolver::set_initial(const Profile& p) {
  set_velocity(p.u0, [](double, double) { return 0.0; });
  if (!pde_.forces_file.empty() && rank(comm_) == 0) {
    FILE* f = std::fopen(pde_.forces_file.c_str(), "w");
    if (!f) throw InputError("-system_forces: cannot write '" + pde_.forces_file + "'");
    std::fprintf(f, "t,cd,cl\n");
    std::fclose(f);
  }
}

void CylinderWakeSolver::step() {
  const double h = s_.h(), nu = s_.nu, dt = dt_, ih = 1.0 / h, ih2 = 1.0 / (h * h);
  const long nx = s_.nx(), ny = s_.n, xe = cxs_ + cxm_, ye = cys_ + cym_;
  const bool outflow = !s_.periodic && xe == nx;
  Node** a;
  Node** w;
  MSROM_PETSC(DMDAVecGetArrayRead(da_, local_, &a));
  MSROM_PETSC(DMDAVecGetArray(da_, star_, &w));
  double sums[3] = {0, 0, 0};  // outflow flux; force x, y (this rank's faces, the body's pass below)
  for (long j = cys_; j < ye; ++j)
    for (long i = cxs_; i < xe; ++i) {
      const std::size_t k = static_cast<std::size_t>(2 * ((j - cys_) * cxm_ + (i - cxs_)));
      // u at (i + 1, j + 1/2): x fluxes at the centres of cells i and i + 1, y fluxes at the corners
      // (i + 1, j) and (i + 1, j + 1).
      if (s_.periodic || i < nx - 1) {
        auto fx = [&](long c) {  // at the centre of cell c (between u faces c - 1 and c)
          const double ub = 0.5 * (a[j][c - 1].u + a[j][c].u);
          return ub * upwind(ub, a[j][c - 2].u, a[j][c - 1].u, a[j][c].u, a[j][c + 1].u);
        };
        auto fy = [&](long r) {  // at the corner (i + 1, r + 1)
          const double vb = 0.5 * (a[r][i].v + a[r][i + 1].v);
          return vb * upwind(vb, a[r - 1][i].u, a[r][i].u, a[r + 1][i].u, a[r + 2][i].u);
        };
        const double lap = (a[j][i + 1].u + a[j][i - 1].u + a[j + 1][i].u + a[j - 1][i].u - 4 * a[j][i].u) * ih2;
        const double nu_ = -(fx(i + 1) - fx(i)) * ih - (fy(j) - fy(j - 1)) * ih + nu * lap;
        const double ab = first_ ? nu_ : 1.5 * nu_ - 0.5 * n_old_[k];
        n_old_[k] = nu_;
        w[j][i].u = a[j][i].u + dt * (ab - (a[j][i + 1].p - a[j][i].p) * ih);
      } else {  // outflow face: convective condition with the mean velocity U
        w[j][i].u = a[j][i].u - dt * s_.u_in * (a[j][i].u - a[j][i - 1].u) * ih;
        sums[0] += w[j][i].u * h;
      }
      // v at (i + 1/2, j + 1): y fluxes at the centres of cells j and j + 1, x fluxes at the corners
      // (i, j + 1) and (i + 1, j + 1).
      if (s_.periodic || j < ny - 1) {
        auto gy = [&](long r) {  // at the centre of cell r (between v faces r - 1 and r)
          const double vb = 0.5 * (a[r - 1][i].v + a[r][i].v);
          return vb * upwind(vb, a[r - 2][i].v, a[r - 1][i].v, a[r][i].v, a[r + 1][i].v);
        };
        auto gx = [&](long c) {  // at the corner (c + 1, j + 1)
          const double ub = 0.5 * (a[j][c].u + a[j + 1][c].u);
          return ub * upwind(ub, a[j][c - 1].v, a[j][c].v, a[j][c + 1].v, a[j][c + 2].v);
        };
        const double lap = (a[j][i + 1].v + a[j][i - 1].v + a[j + 1][i].v + a[j - 1][i].v - 4 * a[j][i].v) * ih2;
        const double nv = -(gx(i) - gx(i - 1)) * ih - (gy(j + 1) - gy(j)) * ih + nu * lap;
        const double ab = first_ ? nv : 1.5 * nv - 0.5 * n_old_[k + 1];
        n_old_[k + 1] = nv;
        w[j][i].v = a[j][i].v + dt * (ab - (a[j + 1][i].p - a[j][i].p) * ih);
      } else {
        w[j][i].v = 0;  // wall
      }
      w[j][i].p = 0;
    }
  double q_out = 0;
  MPI_Allreduce(sums, &q_out, 1, MPI_DOUBLE, MPI_SUM, comm_);
  if (outflow) {
    // Outflow = inflow exactly (the Neumann problem's compatibility), by a uniform shift of the outflow faces.
    double qin = 0;
    for (long j = 0; j < ny; ++j) qin += s_.inflow((j + 0.5) * h) * h;
    for (long j = cys_; j < ye; ++j) w[j][nx - 1].u += (qin - q_out) / s_.height;
  }
  MSROM_PETSC(DMDAVecRestoreArray(da_, star_, &w));
  MSROM_PETSC(DMDAVecRestoreArrayRead(da_, local_, &a));
  first_ = false;

  MSROM_PETSC(DMGlobalToLocalBegin(da_, star_, INSERT_VALUES, star_local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, star_, INSERT_VALUES, star_local_));
  fill_ghosts(star_local_);
  if (s_.diameter > 0) {  // (collective: the same on every rank)
    // The body: every forced face from the unforced u* (images may lie on neighbour ranks' faces); the
    // momentum taken out is the force on the body.
    const Node* const* r;
    MSROM_PETSC(DMDAVecGetArrayRead(da_, star_local_, &r));
    MSROM_PETSC(DMDAVecGetArray(da_, star_, &w));
    for (const auto& f : forced_) {
      const double old = f.c == 0 ? r[f.j][f.i].u : r[f.j][f.i].v;
      const double now = f.alpha == 0 ? 0.0 : f.alpha * sample(r, h, f.xi, f.yi, f.c == 1);
      (f.c == 0 ? w[f.j][f.i].u : w[f.j][f.i].v) = now;
      sums[1 + f.c] += old - now;
    }
    MSROM_PETSC(DMDAVecRestoreArray(da_, star_, &w));
    MSROM_PETSC(DMDAVecRestoreArrayRead(da_, star_local_, &r));
    MSROM_PETSC(DMGlobalToLocalBegin(da_, star_, INSERT_VALUES, star_local_));
    MSROM_PETSC(DMGlobalToLocalEnd(da_, star_, INSERT_VALUES, star_local_));
    fill_ghosts(star_local_);
  }
  double force[2] = {0, 0};
  MPI_Allreduce(sums + 1, force, 2, MPI_DOUBLE, MPI_SUM, comm_);
  project(star_local_, u_, dt, true);
  refresh();
  ++step_;
  if (s_.diameter > 0) {
    const double q = 0.5 * s_.u_in * s_.u_in * s_.diameter, f = h * h / dt;
    forces_.push_back({time(), f * force[0] / q, f * force[1] / q});
  }
}

void CylinderWakeSolver::advance(std::int64_t k) {
  const std::size_t from = forces_.size();
  while (step_ < k) step();
  write_forces(from);
}

void CylinderWakeSolver::write_forces(std::size_t from) const {
  if (pde_.forces_file.empty() || rank(comm_) != 0 || from >= forces_.size()) return;
  FILE* f = std::fopen(pde_.forces_file.c_str(), "a");
  if (!f) throw RuntimeError("cylinder_wake: cannot append to '" + pde_.forces_file + "'");
  for (std::size_t k = from; k < forces_.size(); ++k)
    std::fprintf(f, "%.10g,%.10g,%.10g\n", forces_[k].t, forces_[k].cd, forces_[k].cl);
  std::fclose(f);
}

void CylinderWakeSolver::local_values(double* out) const {
  const double h = s_.h();
  const Node* const* a;
  MSROM_PETSC(DMDAVecGetArrayRead(da_, local_, &a));
  const long n = local_size();
  for (long i = 0; i < xm_; ++i)
    for (long j = 0; j < ym_; ++j) {
      const double x = pde_.x(xs_ + i), y = pde_.y(ys_ + j);
      out[i * ym_ + j] = sample(a, h, x, y, false);
      out[n + i * ym_ + j] = sample(a, h, x, y, true);
    }
  MSROM_PETSC(DMDAVecRestoreArrayRead(da_, local_, &a));
}

std::vector<double> cylinder_window_dns(const std::vector<double>& y0, long fnx, long fny, double dx, double nu,
                                        long cnx, long cny, const std::vector<double>& times) {
  const long nf = fnx * fny;
  if (cnx < 4 || cny < 4 || fnx % cnx != 0 || fny % cny != 0 || fnx / cnx != fny / cny)
    throw InputError("-coarse_nx: the cylinder wake's coarse DNS needs coarse cells (" + std::to_string(cnx) + " x " +
                     std::to_string(cny) + ", at least 4 x 4) that are square blocks of the " + std::to_string(fnx) +
                     " x " + std::to_string(fny) + " window points");
  if (static_cast<long>(y0.size()) != 2 * nf || times.size() < 1 || !(dx > 0) || !(nu > 0))
    throw std::invalid_argument("pde::cylinder_window_dns: y0 must hold (u, v) of the window, with a time and dx, nu > 0");
  const long b = fnx / cnx;  // fine points per coarse cell along each axis
  const double H = dx * static_cast<double>(b);
  // y0's mean over each coarse cell, per component: m[c][I * cny + J].
  std::vector<double> m(static_cast<std::size_t>(2 * cnx * cny), 0.0);
  double umax = 1;
  for (long c = 0; c < 2; ++c)
    for (long i = 0; i < fnx; ++i)
      for (long j = 0; j < fny; ++j) {
        const double v = y0[static_cast<std::size_t>(c * nf + i * fny + j)];
        m[static_cast<std::size_t>(c * cnx * cny + (i / b) * cny + j / b)] += v / static_cast<double>(b * b);
        umax = std::max(umax, std::abs(v));
      }
  // Bilinear between the coarse cell centres ((I + 1/2) H, (J + 1/2) H), periodic.
  auto interp = [&](long c, double x, double y) {
    const double fx = x / H - 0.5, fy = y / H - 0.5;
    const auto i0 = static_cast<long>(std::floor(fx)), j0 = static_cast<long>(std::floor(fy));
    const double tx = fx - static_cast<double>(i0), ty = fy - static_cast<double>(j0);
    auto at = [&](long i, long j) {
      i = ((i % cnx) + cnx) % cnx, j = ((j % cny) + cny) % cny;
      return m[static_cast<std::size_t>(c * cnx * cny + i * cny + j)];
    };
    return (1 - ty) * ((1 - tx) * at(i0, j0) + tx * at(i0 + 1, j0)) + ty * ((1 - tx) * at(i0, j0 + 1) + tx * at(i0 + 1, j0 + 1));
  };
  // The step: the snapshot interval, split for the advective and viscous bounds (a margin of 2 on the
  // solver's own, 2 U dt / h <= 1 and 8 nu dt / h^2 <= 1).
  const double interval = times.size() > 1 ? times[1] - times[0] : 1.0;
  const auto split = static_cast<long>(std::ceil(std::max(interval * 2 * umax / (0.5 * H), interval * 8 * nu / (0.5 * H * H))));
  const double dt = interval / static_cast<double>(std::max(1L, split));
  for (std::size_t n = 1; n < times.size(); ++n)
    if (std::abs(times[n] - times[n - 1] - interval) > 1e-9 * interval)
      throw InputError("-data: the cylinder wake's coarse DNS needs uniformly spaced snapshots");
  Pde p;
  p.type = "cylinder_wake";
  p.model = Model::cylinder_wake;
  p.dim = 2;
  p.cell_centred = true;
  p.periodic = false;  // the window: points at ((i + 1/2) dx, (j + 1/2) dx) of the box
  p.nx = fnx, p.ny = fny;
  p.lx = dx * static_cast<double>(fnx), p.ly = dx * static_cast<double>(fny);
  p.x0 = 0, p.y0 = 0;
  p.parameters = {{"periodic", 1.0}, {"diameter", 0.0},  {"n", static_cast<double>(cny)},
                  {"length", p.lx},  {"height", p.ly},   {"u_in", umax / 2},
                  {"nu", nu},        {"ksp_rtol", 1e-10}};
  p.stepping.dt = dt;
  CylinderWakeSolver s(p, PETSC_COMM_SELF);
  s.set_velocity([&](double x, double y) { return interp(0, x, y); }, [&](double x, double y) { return interp(1, x, y); });
  s.start(times[0]);
  std::vector<double> out(times.size() * static_cast<std::size_t>(2 * nf));
  for (std::size_t n = 0; n < times.size(); ++n) {
    s.advance(static_cast<std::int64_t>(n) * std::max(1L, split));
    s.local_values(out.data() + n * static_cast<std::size_t>(2 * nf));
  }
  return out;
}

double CylinderWakeSolver::max_divergence() const {
  const Node* const* a;
  MSROM_PETSC(DMDAVecGetArrayRead(da_, local_, &a));
  double m = 0;
  for (long j = cys_; j < cys_ + cym_; ++j)
    for (long i = cxs_; i < cxs_ + cxm_; ++i)
      m = std::max(m, std::abs(a[j][i].u - a[j][i - 1].u + a[j][i].v - a[j - 1][i].v));
  MSROM_PETSC(DMDAVecRestoreArrayRead(da_, local_, &a));
  double g = 0;
  MPI_Allreduce(&m, &g, 1, MPI_DOUBLE, MPI_MAX, comm_);
  return g;
}

double CylinderWakeSolver::max_error(const std::function<double(double, double)>& u,
                                     const std::function<double(double, double)>& v) const {
  const double h = s_.h();
  const Node* const* a;
  MSROM_PETSC(DMDAVecGetArrayRead(da_, local_, &a));
  double m = 0;
  for (long j = cys_; j < cys_ + cym_; ++j)
    for (long i = cxs_; i < cxs_ + cxm_; ++i) {
      m = std::max(m, std::abs(a[j][i].u - u((i + 1.0) * h, (j + 0.5) * h)));
      m = std::max(m, std::abs(a[j][i].v - v((i + 0.5) * h, (j + 1.0) * h)));
    }
  MSROM_PETSC(DMDAVecRestoreArrayRead(da_, local_, &a));
  double g = 0;
  MPI_Allreduce(&m, &g, 1, MPI_DOUBLE, MPI_MAX, comm_);
  return g;
}

}  // namespace msrom::pde
