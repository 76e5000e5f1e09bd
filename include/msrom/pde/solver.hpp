#pragma once
// One trajectory of a field case (pde/pde.hpp) on a PETSc DMDA over a communicator, stepped by PETSc TS.
//
//   Solver s(pde, group_comm);          // DMDA (1D/2D, periodic or Dirichlet) + TS from the options database
//   s.set_initial(profile);             // u = profile.u0 at the owned nodes
//   s.start(0.0);                       // time origin: step k is at t = k * dt
//   s.advance(k);                       // to step k (fixed step) or time k * dt (adaptive, matched exactly)
//   s.local_values(buf);                // the owned block, x slowest then y (the file's [nx, ny] order)
//
// Right-hand sides: DMGlobalToLocal ghost exchange, then DMDAVecGetArray loops over the owned nodes. Every
// value is a fixed sequence of floating-point operations on the node's neighbours, so the field is bitwise
// the same for any decomposition of the mesh.
//
// TS formulations, chosen from the TS type after TSSetFromOptions (every -ts_* option applies):
//   explicit (rk, euler, ssp, ...)     RHS = L u + N(u)
//   IMEX (arkimex)                     IFunction = u_t - L u with the exact Jacobian shift I - L (assembled
//                                      once per step size), RHS = N(u). Defaults for the linear solve:
//                                      SNES ksponly, KSP preonly, PC redundant (LU of the gathered matrix):
//                                      exact for the linear implicit part, and in 1D (where the DMDA's
//                                      global order is the natural order) bitwise independent of the rank
//                                      count. Any -snes_/-ksp_/-pc_ option overrides them.
//   implicit (beuler, cn, theta, bdf)  RHS = L u + N(u), Jacobian by finite differences with the DMDA's
//                                      colouring (Newton's reductions: not bitwise across rank counts)
// Fixed steps unless -ts_adapt_type is given; adaptive runs use the max-norm error estimate by default
// (-ts_adapt_wnormtype infinity: a max reduction is exact, so the step sequence is rank-count independent).
#include <mpi.h>
#include <petscdmda.h>
#include <petscts.h>

#include <cstdint>
#include <string>

#include "msrom/pde/field_solver.hpp"
#include "msrom/pde/pde.hpp"

namespace msrom::pde {

class Solver : public FieldSolver {
 public:
  // `dt` overrides the case's default step (<= 0: keep it).
  Solver(const Pde& pde, MPI_Comm comm, double dt = 0);
  ~Solver() override;

  void set_initial(const Profile& p) override;
  void advance(std::int64_t k) override;

  // Copies the owned block to out (local_size values, x slowest).
  void local_values(double* out) const override;
  // Sets the owned block from values in the same order.
  void set_local_values(const double* in);
  // Evaluates the full right-hand side L u + N(u) of the current field; out as in local_values.
  void rhs(double* out);

  enum class Part { full, nonstiff, stiff };
  // Callbacks' work (public for the C callbacks).
  void eval(Part part, Vec U, Vec F);
  void assemble_stiff_jacobian(double shift, Mat J);

 private:
  const Pde& pde_;
  Vec local_ = nullptr;
  Mat J_ = nullptr;
  double shift_ = 0;
  Profile profile_;  // exact solver: the member's solution
  double exact_time_ = 0;
  void fill(const std::function<double(double, double)>& f);
};

}  // namespace msrom::pde
