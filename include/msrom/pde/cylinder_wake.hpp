#pragma once
// 2-D incompressible flow past a circular cylinder (issue 11): the Navier-Stokes equations
//
//   u_t + div(u u) = -grad p + nu Lap u + f,   div u = 0   (f: the body's no-slip forcing)
//
// on a channel [0, length] x [0, height] of square cells (h = height / n), by a projection method on a
// staggered (MAC) grid stored in a DMDA of 3 dofs per cell (i, j):
//
//   u  at the east face  ((i + 1) h, (j + 1/2) h)
//   v  at the north face ((i + 1/2) h, (j + 1) h)
//   p  at the centre     ((i + 1/2) h, (j + 1/2) h)
//
// MAC because its discrete divergence, gradient and Laplacian are exactly compatible: after the projection
// the divergence of every cell is the Poisson residual (no checkerboard modes, no Rhie-Chow filtering).
// One step (the standard incremental pressure correction, e.g. Brown, Cortez & Minion 2001):
//
//   1. ghosts      DMGlobalToLocal (BOX stencil, width 2), then the physical boundaries' ghost layers
//   2. predictor   u* = u^n + dt (3/2 N^n - 1/2 N^(n-1)) - dt grad p^n (AB2; Euler on the first step), where
//                  N = -div(u u) + nu Lap u: the advective fluxes in conservation form with QUICK upwinding of
//                  the transported component (3rd-order, dissipative enough at cell Reynolds U h / nu ~ 8,
//                  where central differences oscillate) and a centrally averaged transporting velocity
//   3. body        direct forcing (an immersed boundary; Fadlun et al. 2000, Balaras 2004), after the
//                  predictor: faces inside the circle get u* = 0; faces outside with a same-component
//                  neighbour inside (forcing points, at distance d from the surface) get the linear profile
//                  between the surface (0) and an image point one cell further out along the normal,
//                  u* = u*(image) d / (d + h) (bilinear). The no-slip surface is the circle to second order
//                  whatever the alignment of body and grid. The momentum the forcing removes,
//                  h^2 sum (u*_before - u*_after) / dt, is the force on the body (pressure and viscous)
//   4. outflow     convective condition u_t + U u_x = 0 on the outflow faces, then a uniform correction of
//                  the outflow faces so that outflow = inflow exactly (the Neumann Poisson problem's
//                  compatibility condition)
//   5. Poisson     A phi = -h div(u*) / dt, A = -h^2 Lap (5-point, homogeneous Neumann at walls, inflow and
//                  outflow; periodic wrap when periodic), cell (0, 0) pinned to 0 (SPD and nonsingular; its
//                  dropped equation holds because the right-hand side sums to 0); KSP CG + GAMG by default,
//                  options prefix -cyl_ (e.g. -cyl_ksp_rtol, -cyl_pc_type hypre), the previous phi as guess
//   6. correction  u = u* - dt grad phi on the interior faces, p = p + phi
//
// Boundaries (non-periodic): inflow u = U (uniform, or parabolic 6 U y (H - y) / H^2 with the same mean),
// v = 0 at x = 0; convective outflow at x = length; walls at y = 0, height with v = 0 and free slip
// (du/dy = 0, the default: the inviscid tunnel walls the blockage correction assumes) or no slip. Periodic
// (tests only): both directions, no inflow, outflow or walls.
//
// Explicit steps: the constructor refuses 2 U dt / h > 1 (2 U: the speed at the cylinder's shoulders) and
// 8 nu dt / h^2 > 1 (AB2's real stability limit against the 5-point Laplacian); the default runs at
// U dt / h = 0.32.
//
// Observed (local_values): the velocity (u, v) sampled at the nodes of a window of nx x ny points (Pde::x(i),
// Pde::y(j); the window of the case), each by bilinear interpolation of its own staggered grid; component u
// first, then v (local_size() values each, x slowest). A window point belongs to the rank owning the cell
// that contains it, so each rank's window block is a tensor product of index ranges (possibly empty).
//
// The solver's parameters come from Pde::parameters (see CylinderSetup); make_case("cylinder_wake", ...)
// fills them from the -system_* options, and tests fill them directly (periodic, no cylinder, ...).
#include <mpi.h>
#include <petscdmda.h>
#include <petscksp.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "msrom/pde/field_solver.hpp"
#include "msrom/pde/pde.hpp"

namespace msrom::pde {

// The physical setup, read from Pde::parameters by name (defaults: the setup).
struct CylinderSetup {
  long n = 160;                  // cells across the channel height (h = height / n)
  double length = 4, height = 1;  // channel
  double diameter = 0.125;       // 0: no cylinder
  double cx = 1.0, cy = 0.5;     // cylinder centre
  double u_in = 1;               // mean inflow velocity U (the reference velocity of Re, Cd, St)
  double nu = 0.125 / 160;       // kinematic viscosity (U D / Re)
  bool parabolic = false;        // parabolic inflow (else uniform)
  bool no_slip = false;          // no-slip walls (else free slip)
  bool periodic = false;         // periodic in x and y (tests)
  double ksp_rtol = 1e-6;         // pressure Poisson tolerance (relative)

  long nx() const { return static_cast<long>(std::lround(length / height * static_cast<double>(n))); }
  double h() const { return height / static_cast<double>(n); }
  // The inflow velocity at height y.
  double inflow(double y) const { return parabolic ? 6 * u_in * y * (height - y) / (height * height) : u_in; }
  static CylinderSetup from(const Pde& pde);
};

// Drag and lift coefficients 2 F / (U^2 D) at the end of a step (F: the forcing's force on the body).
struct ForceSample {
  double t, cd, cl;
};

// Strouhal number and mean drag of a lift/drag record: the upward zero crossings of cl - mean(cl) (linear
// interpolation) over samples with t >= t_from; St = D / (U T) with T the mean period between the first and
// the last crossing, mean Cd over that whole number of periods. periods = 0 when fewer than 2 crossings.
struct Shedding {
  double st = 0, cd_mean = 0, cl_amplitude = 0;
  long periods = 0;
};
Shedding shedding(const std::vector<ForceSample>& f, double t_from, double diameter, double u_in);

// The coarse-DNS baseline of the cylinder-wake data (the paper's, method doc section 4: the same PDE on the
// coarse grid from the subsampled y_0): the sampling window alone, as a periodic box of cnx x cny cells (the
// model's coarse grid, 32 x 8) without the cylinder, with the data's viscosity nu. The initial velocity is
// y_0's mean over each coarse cell, interpolated bilinearly (periodically) between the cell centres to the
// faces and projected; the step is the snapshot interval, split until 2 |u|_max dt / h <= 0.5 and
// 8 nu dt / h^2 <= 0.5; the
// prediction is the solution sampled at the window's points (bilinear on the MAC grid, as simulate samples
// the window). y0: (u; v) of the window, 2 fnx fny values, each component [fnx, fny] with y fastest (the
// data's layout), point (i, j) at ((i + 1/2) dx, (j + 1/2) dx); times: the snapshots' (uniformly spaced),
// times[0] is y0's. Returns the snapshots one after another (snapshot n at n 2 fnx fny), y0's sampled
// coarse field first. One rank (PETSC_COMM_SELF). InputError naming -coarse_nx if cnx, cny do not divide
// fnx, fny in the same ratio.
std::vector<double> cylinder_window_dns(const std::vector<double>& y0, long fnx, long fny, double dx, double nu,
                                        long cnx, long cny, const std::vector<double>& times);

class CylinderWakeSolver : public FieldSolver {
 public:
  // `dt` overrides the case's default step (<= 0: keep it). InputError for a step beyond the stability
  // bounds, a cylinder outside the channel, or a window outside the channel.
  CylinderWakeSolver(const Pde& pde, MPI_Comm comm, double dt = 0);
  ~CylinderWakeSolver() override;

  // u = p.u0(x, y), v = 0 (zero inside the body), projected to a divergence-free field; p = 0. Restarts the
  // AB2 history and the force record.
  void set_initial(const Profile& p) override;
  // The same from an explicit (u, v) (tests: Taylor-Green, Poiseuille).
  void set_velocity(const std::function<double(double, double)>& u, const std::function<double(double, double)>& v);
  void advance(std::int64_t k) override;
  // (u, v) at the window's points owned here: u block, then v block (x slowest in each).
  void local_values(double* out) const override;

  // One projection step of size dt (time() is unchanged: advance() does the bookkeeping).
  void step();
  const CylinderSetup& setup() const { return s_; }
  // Drag and lift after every step since set_initial (identical on all ranks).
  const std::vector<ForceSample>& forces() const { return forces_; }
  // Max over the cells of |div u| h (the flux imbalance per cell; collective).
  double max_divergence() const;
  // Max over the u and v faces of |u - u_exact|, |v - v_exact| (collective; fixed boundary faces included).
  double max_error(const std::function<double(double, double)>& u, const std::function<double(double, double)>& v) const;
  // Pressure Poisson iterations: total and of the last solve.
  long ksp_iterations() const { return ksp_its_; }
  long last_ksp_iterations() const { return last_its_; }

 private:
  void fill_ghosts(Vec local) const;    // physical-boundary ghost layers of a local (u, v, p) vector
  void refresh();                       // state -> local_ with all ghosts
  void project(Vec ustar_local, Vec out, double dt, bool update_p);  // steps 5, 6
  void write_forces(std::size_t from) const;  // appends forces_[from..] to Pde::forces_file (rank 0)

  const Pde& pde_;
  CylinderSetup s_;
  DM dap_ = nullptr;                     // scalar DMDA of the cells, the same decomposition (phi)
  Mat A_ = nullptr;
  KSP ksp_ = nullptr;
  Vec local_ = nullptr, star_ = nullptr, star_local_ = nullptr;  // state with ghosts; u* and its ghosts
  Vec phi_ = nullptr, rhs_ = nullptr, phi_local_ = nullptr;
  std::vector<double> n_old_;            // N^(n-1) of the owned faces (u, v interleaved)
  // An owned face the body sets: component c (0: u, 1: v) of cell (i, j); inside the body (alpha = 0: u = 0)
  // or a forcing point (u = alpha u*(xi, yi), the image point one cell out along the normal).
  struct Forced {
    long i, j;
    int c;
    double xi, yi, alpha;
  };
  std::vector<Forced> forced_;
  bool first_ = true;                    // no N^(n-1) yet: Euler
  long cxs_ = 0, cxm_ = 0, cys_ = 0, cym_ = 0;  // owned cells
  long ksp_its_ = 0, last_its_ = 0;
  double t_ = 0;                          // the solver's own clock (force record)
  std::vector<ForceSample> forces_;
};

}  // namespace msrom::pde
