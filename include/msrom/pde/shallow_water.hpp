#pragma once
// The 2-D shallow-water equations (PDEBench's radial dam break, issue 11) by finite volumes:
//
//   h_t  + (hu)_x             + (hv)_y             = 0
//   (hu)_t + (hu^2 + g h^2/2)_x + (huv)_y            = 0
//   (hv)_t + (huv)_x           + (hv^2 + g h^2/2)_y = 0
//
// on the cells of a DMDA with 3 dofs (h, hu, hv), stencil width 2, DM_BOUNDARY_GHOSTED in both directions:
//
//   1. ghosts     DMGlobalToLocal between ranks; at the domain's edges the two ghost layers are copies of
//                 the edge cell (zero gradient: outflow, waves leave without reflection to first order)
//   2. MUSCL      primitive variables (h, u_n, u_t) reconstructed to the faces with limited slopes
//                 (-system_limiter minmod (default) | mc); the face h is clipped at 0, and the velocities
//                 of a dry face are 0
//   3. HLL flux   wave speeds s_L = min(u_nL - c_L, u_nR - c_R), s_R = max(u_nL + c_L, u_nR + c_R),
//                 c = sqrt(g h) of the (non-negative) face heights
//   4. update     dU/dt = -(F_{i+1/2} - F_{i-1/2})/dx - (G_{j+1/2} - G_{j-1/2})/dy
//   5. TS         explicit; default TSSSP rks3 with 4 stages (third order, SSP coefficient 2), fixed step
//
// One function computes the flux through a face in its normal direction, for x faces (u_n = u, u_t = v)
// and y faces (u_n = v, u_t = u) alike, and every face's flux is a fixed sequence of floating-point
// operations on its four neighbouring cells: the field is bitwise the same for any decomposition, and
// mirror-symmetric initial data stay exactly mirror-symmetric (x -> -x, y -> -y, x <-> y on square cells).
// Every rank computes the fluxes through all faces of its cells, those shared with a neighbour rank
// included (no communication but the ghost exchange, no reductions).
//
// The observed field (local_values, /fields/u) is h - 1; Profile::u0 gives the initial h, at rest.
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "msrom/pde/field_solver.hpp"
#include "msrom/pde/pde.hpp"

namespace msrom::pde {

class ShallowWaterSolver : public FieldSolver {
 public:
  // `dt` overrides the case's default step (<= 0: keep it). InputError for a step beyond the CFL bound
  // dt * max_speed * (1/dx + 1/dy) <= 1, a non-explicit -ts_type or an adaptive step.
  ShallowWaterSolver(const Pde& pde, MPI_Comm comm, double dt = 0);
  ~ShallowWaterSolver() override;

  // h = p.u0(x, y) at the cell centres, hu = hv = 0.
  void set_initial(const Profile& p) override;
  // The inverse of local_values: h = 1 + in over the owned cells (x slowest), hu = hv = 0 (the coarse DNS
  // starts from an observed field, pde/coarse_dns.hpp).
  void set_local_values(const double* in);
  // h - 1 over the owned cells (x slowest).
  void local_values(double* out) const override;
  // Component c (0: h, 1: hu, 2: hv) over the owned cells (x slowest).
  std::vector<double> local_component(int c) const;

  // The finite-volume right-hand side of U into F (public for the C callback).
  void eval(Vec U, Vec F);

 private:
  const Pde& pde_;
  Vec local_ = nullptr;
  bool mc_ = false;  // MC limiter instead of minmod
  // Work arrays: primitive variables of the ghosted block, the fluxes of one row of x faces, two rows of
  // y faces.
  std::vector<double> prim_, fx_, fy_;
};

}  // namespace msrom::pde
