#pragma once
// Fields on a mesh: the PDE cases of Method B (method doc, section 1) and ours (Kuramoto-Sivashinsky).
//
// Every case is one equation of the form
//
//   u_t = L u - a u (D_x u [+ D_y u])
//
// with L a linear constant-coefficient stencil (dispersion, diffusion, hyper-diffusion, or the advection
// -u_x of the wave) and the nonlinear advection term in central second-order differences. A case is data,
// not code: the stencil, the grid, the initial-condition family and the default time stepping. The solver
// (pde/solver.hpp) evaluates it on a PETSc DMDA and integrates it with PETSc TS; IMEX methods put L on
// the implicit side (it carries the stiffness: KdV's u_xxx, KS's u_xxxx).
//
//   case       equation                                 domain, BC                  grid
//   wave       u = exp(-(d_per(x - t)/w)^2) (exact)    [0,1) periodic              1000
//              or u_t = -u_x (4th-order central)
//   kdv        u_t = -u u_x - 0.02 u_xxx                [0,10) periodic             1000
//   burgers1d  u_t = -u u_x + 5e-4 u_xx                 [0,1) periodic              1000
//   burgers2d  u_t = 0.005 Lap u - u (u_x + u_y)        [0,1]^2, u = 0 on boundary  128 x 128 (nodes incl. boundary;
//                                                                                -system_ny for a non-square mesh)
//   ks22/ks100 u_t = -u u_x - u_xx - u_xxxx             [0,L) periodic, L = 22/100  128 / 512
//
// Grid points: periodic x_i = i L / n (i = 0..n-1); Dirichlet x_i = i L / (n - 1), the end nodes carry
// the boundary value 0 and their right-hand side is 0.
//
// One case is not of that form and has its own solver (Pde::model, pde/shallow_water.hpp):
//
//   shallow_water  h_t + (hu)_x + (hv)_y = 0,               [-2.5,2.5]^2, outflow    128 x 128 cells
//                  (hu)_t + (hu^2 + g h^2/2)_x + (huv)_y = 0   (zero-gradient ghosts)  (cell-centred finite
//                  (hv)_t + (huv)_x + (hv^2 + g h^2/2)_y = 0                          volumes)
//
// Cell centres: x_i = x0 + (i + 1/2) L / n. Its observed field is h - 1, and Profile::u0 is the initial h
// (at rest).
//
// cylinder_wake (pde/cylinder_wake.hpp) is incompressible Navier-Stokes on its own MAC grid; nx x ny and
// x0, y0, lx, ly describe its sampling window (cell-centred points), and it observes two fields, u and v.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/random.hpp"

namespace msrom {
class Options;
}

namespace msrom::pde {

// One term c * u[i + di][j + dj] of the linear operator.
struct Tap {
  int di = 0, dj = 0;
  double c = 0;
};

// A member's initial condition (and, where known, its exact solution), after its random parameters were
// drawn from the member's initial-condition stream.
struct Profile {
  std::function<double(double x, double y)> u0;
  std::function<double(double t, double x, double y)> exact;  // empty unless the case has one
  std::vector<std::pair<std::string, double>> parameters;     // the drawn values (w, A, s, c1, ...)
};

// Time stepping a case uses unless the options database says otherwise.
struct Stepping {
  std::string ts_type = "rk", ts_subtype = "4";  // TSType and its scheme (TSRKType / TSARKIMEXType)
  double dt = 1e-3;                              // step (initial step when adaptive)
  double max_time = 1.0;
  long save_every = 1;
  double burn_in = 0.0;                          // time integrated and discarded before t = 0
};

// Which solver integrates a case (pde/field_solver.hpp).
enum class Model {
  stencil,        // u_t = L u - a u (D_x u [+ D_y u]) (Solver, pde/solver.hpp)
  shallow_water,  // finite-volume shallow water (ShallowWaterSolver, pde/shallow_water.hpp)
  cylinder_wake,  // incompressible flow past a cylinder (CylinderWakeSolver, pde/cylinder_wake.hpp)
};

struct Pde {
  std::string type, description;
  Model model = Model::stencil;
  int dim = 1;
  long nx = 0, ny = 1;
  double lx = 1, ly = 1;
  bool periodic = true;
  bool cell_centred = false;  // finite-volume cells on [x0, x0 + lx] (x [y0, y0 + ly]), outflow boundaries
  double x0 = 0, y0 = 0;      // lower corner of a cell-centred domain (node grids start at 0)
  double gravity = 0;         // shallow water: g
  double max_speed = 0;       // shallow water: a bound on |u| + sqrt(g h), for the CFL check of the step
  std::string observed;       // what /fields/u holds when it is not the solution u itself (e.g. "h - 1")
  // The observed components, written as /fields/<name> each: FieldSolver::local_values gives local_size()
  // values per component, one block after another in this order (cylinder_wake: u, v).
  std::vector<std::string> fields{"u"};
  std::string forces_file;    // cylinder_wake: CSV of the drag and lift of every step (empty: none)
  std::vector<Tap> linear;   // L
  double advection = 0;      // a
  int stencil_width = 1;     // ghost width the taps and the advection need
  bool exact_solver = false; // evaluate Profile::exact instead of integrating (wave, -system_solver exact)
  std::vector<std::pair<std::string, double>> parameters;  // for output attributes (system_<name>)
  std::function<Profile(const Philox&)> draw;               // random initial condition of a member
  Stepping stepping;
  double noise = 0;                         // default observation noise std
  long train = 1, validation = 0, test = 0; // default trajectory counts

  double dx() const {
    return periodic || cell_centred ? lx / static_cast<double>(nx) : lx / static_cast<double>(nx - 1);
  }
  double dy() const {
    return dim < 2 ? 1.0 : periodic || cell_centred ? ly / static_cast<double>(ny) : ly / static_cast<double>(ny - 1);
  }
  double x(long i) const {
    return cell_centred ? x0 + (static_cast<double>(i) + 0.5) * dx() : static_cast<double>(i) * dx();
  }
  double y(long j) const {
    return dim < 2 ? 0.0 : cell_centred ? y0 + (static_cast<double>(j) + 0.5) * dy() : static_cast<double>(j) * dy();
  }
  // Whether node (i, j) carries a Dirichlet boundary value.
  bool boundary(long i, long j) const {
    return !periodic && !cell_centred && (i == 0 || i == nx - 1 || (dim == 2 && (j == 0 || j == ny - 1)));
  }
  // The boundary condition's name (the /grid/x attribute `boundary`): periodic, dirichlet or outflow.
  std::string boundary_type() const { return periodic ? "periodic" : cell_centred ? "outflow" : "dirichlet"; }
};

// The field cases, sorted: (type, description).
std::vector<std::pair<std::string, std::string>> case_types();
bool is_case(const std::string& type);
// Builds case `type` with its parameters read from the options database (-system_n, -system_nu, ...).
// InputError naming the option for invalid values.
Pde make_case(const std::string& type, const Options& opts);
// Builds case `type` from explicit settings (option name without dash -> value, e.g. {"system_n", "20"}),
// read from a private options database: the process's own options are neither read nor consumed.
// InputError naming the option for invalid values.
Pde make_case(const std::string& type, const std::vector<std::pair<std::string, std::string>>& settings);

// The periodic distance of y to 0 on a domain of length l: in [0, l/2].
double periodic_distance(double y, double l);

}  // namespace msrom::pde
