// The field cases: equations, grids and initial-condition families of the method doc's table (section 1),
// and Kuramoto-Sivashinsky (ours). Time-stepping defaults are measured choices (docs/pde.md).
#include <algorithm>
#include <cmath>
#include <map>

#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/pde/pde.hpp"

namespace msrom::pde {

double periodic_distance(double y, double l) {
  double r = std::fmod(y, l);
  if (r < 0) r += l;
  return std::min(r, l - r);
}

namespace {

// Adds taps c * u[i + k] to `out`, merging equal offsets; kept sorted by offset (a fixed summation order).
void add(std::vector<Tap>& out, const std::vector<std::pair<int, double>>& taps, bool along_y = false) {
  for (const auto& [k, c] : taps) {
    const int di = along_y ? 0 : k, dj = along_y ? k : 0;
    auto it = std::find_if(out.begin(), out.end(), [&](const Tap& t) { return t.di == di && t.dj == dj; });
    if (it != out.end())
      it->c += c;
    else
      out.push_back({di, dj, c});
  }
  std::sort(out.begin(), out.end(), [](const Tap& a, const Tap& b) { return a.dj != b.dj ? a.dj < b.dj : a.di < b.di; });
}

// Difference stencils on a spacing h, scaled by `s`.
std::vector<std::pair<int, double>> d1_4th(double h, double s) {
  const double c = s / (12 * h);
  return {{-2, c}, {-1, -8 * c}, {1, 8 * c}, {2, -c}};
}
std::vector<std::pair<int, double>> d2(double h, double s) {
  const double c = s / (h * h);
  return {{-1, c}, {0, -2 * c}, {1, c}};
}
// The method doc's u_xxx: (u_{i+2} - 3u_{i+1} + 3u_i - u_{i-1}) / h^3 (first order; centred at i + 1/2).
std::vector<std::pair<int, double>> d3_paper(double h, double s) {
  const double c = s / (h * h * h);
  return {{-1, -c}, {0, 3 * c}, {1, -3 * c}, {2, c}};
}
// Central u_xxx: (u_{i+2} - 2u_{i+1} + 2u_{i-1} - u_{i-2}) / (2 h^3) (second order).
std::vector<std::pair<int, double>> d3_central(double h, double s) {
  const double c = s / (2 * h * h * h);
  return {{-2, -c}, {-1, 2 * c}, {1, -2 * c}, {2, c}};
}
std::vector<std::pair<int, double>> d4(double h, double s) {
  const double c = s / (h * h * h * h);
  return {{-2, c}, {-1, -4 * c}, {0, 6 * c}, {1, -4 * c}, {2, c}};
}

long grid_option(const Options& o, long def, long min) {
  return o.integer("system_n", def, "grid points per direction (periodic: n cells; Dirichlet: n nodes incl. boundary)", min,
                   1L << 30);
}

Pde wave(const Options& o) {
  Pde p;
  p.type = "wave";
  p.description = "advected periodic pulse u = exp(-(d_per(x - t)/w)^2), w ~ U(0.01, 0.02), [0,1) periodic";
  p.nx = grid_option(o, 1000, 8);
  p.lx = 1.0;
  const double wmin = o.positive("system_w_min", 0.01, "pulse width w ~ U(w_min, w_max)");
  const double wmax = o.positive("system_w_max", 0.02, "pulse width upper bound");
  if (wmax < wmin) throw InputError("-system_w_max: must be >= -system_w_min");
  const std::string solver = o.choice("system_solver", "exact", {"exact", "integrate"},
                                      "exact: evaluate the advected pulse; integrate: u_t = -u_x (4th-order central, TS)");
  p.exact_solver = solver == "exact";
  add(p.linear, d1_4th(p.dx(), -1.0));
  p.stencil_width = 2;
  p.parameters = {{"n", double(p.nx)}, {"length", p.lx}, {"w_min", wmin}, {"w_max", wmax}, {"speed", 1.0}};
  const double l = p.lx;
  p.draw = [=](const Philox& rng) {
    const double w = wmin + (wmax - wmin) * rng.uniform(0, 0);
    Profile pr;
    pr.exact = [=](double t, double x, double) {
      const double d = periodic_distance(x - t, l) / w;
      return std::exp(-d * d);
    };
    pr.u0 = [=](double x, double y) { return pr.exact(0.0, x, y); };
    pr.parameters = {{"w", w}};
    return pr;
  };
  p.stepping = {"rk", "4", 1e-3, 1.0, 1, 0.0};
  p.noise = 1e-3;
  p.train = 20, p.validation = 5, p.test = 5;
  return p;
}

Pde kdv(const Options& o) {
  Pde p;
  p.type = "kdv";
  p.description = "Korteweg-de Vries u_t = -u u_x - 0.02 u_xxx, [0,10) periodic, A cos(pi x) exp(-(x-7.5)^2/s^2)";
  p.nx = grid_option(o, 1000, 8);
  p.lx = o.positive("system_length", 10.0, "domain length");
  const double delta2 = o.positive("system_dispersion", 0.02, "dispersion coefficient (delta^2) of u_xxx");
  const std::string stencil = o.choice("system_stencil", "paper", {"paper", "central"},
                                       "u_xxx stencil: paper = (u[i+2]-3u[i+1]+3u[i]-u[i-1])/dx^3 (1st order), "
                                       "central (2nd order)");
  add(p.linear, stencil == "paper" ? d3_paper(p.dx(), -delta2) : d3_central(p.dx(), -delta2));
  p.advection = 1.0;
  p.stencil_width = 2;
  p.parameters = {{"n", double(p.nx)}, {"length", p.lx}, {"dispersion", delta2},
                  {"stencil_central", stencil == "central" ? 1.0 : 0.0}};
  p.draw = [](const Philox& rng) {
    double z[4];
    rng.normal4(0, 0, z);
    const double a = 2.0 + 0.1 * z[0], s = 1.0 + 0.1 * z[1];
    Profile pr;
    pr.u0 = [=](double x, double) { return a * std::cos(M_PI * x) * std::exp(-(x - 7.5) * (x - 7.5) / (s * s)); };
    pr.parameters = {{"A", a}, {"s", s}};
    return pr;
  };
  // ARKIMEX 3 with the dispersive term implicit at dt = 1e-3 (one step per snapshot): docs/pde.md.
  p.stepping = {"arkimex", "3", 1e-3, 1.0, 1, 0.0};
  p.noise = 1e-2;
  p.train = 10, p.validation = 5, p.test = 5;
  return p;
}

Pde burgers1d(const Options& o) {
  Pde p;
  p.type = "burgers1d";
  p.description = "viscous Burgers u_t = -u u_x + 5e-4 u_xx, [0,1) periodic, Gaussian bump amplitude ~ N(0.25, 0.05^2)";
  p.nx = grid_option(o, 1000, 8);
  p.lx = 1.0;
  const double nu = o.positive("system_nu", 5e-4, "viscosity");
  const double c = o.real("system_ic_center", 0.5, "centre of the initial bump", 0.0, 1.0);
  const double w = o.positive("system_ic_width", 0.1, "width s of the initial bump A exp(-((x-c)/s)^2)");
  add(p.linear, d2(p.dx(), nu));
  p.advection = 1.0;
  p.parameters = {{"n", double(p.nx)}, {"length", p.lx}, {"nu", nu}, {"ic_center", c}, {"ic_width", w}};
  p.draw = [=](const Philox& rng) {
    const double a = 0.25 + 0.05 * rng.normal(0, 0);
    Profile pr;
    pr.u0 = [=](double x, double) {
      const double d = periodic_distance(x - c, 1.0) / w;
      return a * std::exp(-d * d);
    };
    pr.parameters = {{"A", a}};
    return pr;
  };
  // Heun (TSRK 2a) at dt 1e-3 as the table says; stable here: 4 nu dt / dx^2 = 2 sits on the edge of
  // Heun's real interval, and the advection's imaginary part stays small (docs/pde.md).
  p.stepping = {"rk", "2a", 1e-3, 1.0, 1, 0.0};
  p.noise = 1e-3;
  p.train = 8, p.validation = 1, p.test = 1;
  return p;
}

Pde burgers2d(const Options& o) {
  Pde p;
  p.type = "burgers2d";
  p.dim = 2;
  p.description = "2-D Burgers u_t = 0.005 Lap u - u (u_x + u_y), [0,1]^2, u = 0 on the boundary";
  p.nx = p.ny = grid_option(o, 128, 4);
  p.ny = o.integer("system_ny", p.nx, "nodes in y incl. boundary (default: -system_n)", 4, 1L << 30);
  p.lx = p.ly = 1.0;
  p.periodic = false;
  const double nu = o.positive("system_nu", 0.005, "viscosity");
  add(p.linear, d2(p.dx(), nu));
  add(p.linear, d2(p.dy(), nu), true);
  p.advection = 1.0;
  p.parameters = {{"n", double(p.nx)}, {"ny", double(p.ny)}, {"length", p.lx}, {"nu", nu}};
  p.draw = [](const Philox& rng) {
    double z[4];
    rng.normal4(0, 0, z);
    const double c1 = 1.0 + 0.1 * z[0], sq = 0.2 + 0.01 * z[1], c2 = sq * sq;
    Profile pr;
    pr.u0 = [=](double x, double y) { return c1 * std::exp(-((x - 0.3) * (x - 0.3) + (y - 0.3) * (y - 0.3)) / c2); };
    pr.parameters = {{"c1", c1}, {"c2", c2}};
    return pr;
  };
  p.stepping = {"rk", "2a", 1e-3, 1.0, 1, 0.0};
  p.noise = 1e-3;
  p.train = 20, p.validation = 5, p.test = 5;
  return p;
}

Pde ks(const Options& o, const std::string& type, double length, long n) {
  Pde p;
  p.type = type;
  p.description = "Kuramoto-Sivashinsky u_t = -u u_x - u_xx - u_xxxx, [0," + std::to_string(static_cast<int>(length)) +
                  ") periodic, chaotic";
  p.nx = grid_option(o, n, 8);
  p.lx = o.positive("system_length", length, "domain length L");
  const long modes = o.integer("system_ic_modes", 4, "random Fourier modes k = 1..K of the initial condition", 1, 64);
  const double amp = o.positive("system_ic_amplitude", 0.5, "std of each mode's cosine and sine coefficients");
  add(p.linear, d2(p.dx(), -1.0));
  add(p.linear, d4(p.dx(), -1.0));
  p.advection = 1.0;
  p.stencil_width = 2;
  p.parameters = {{"n", double(p.nx)}, {"length", p.lx}, {"ic_modes", double(modes)}, {"ic_amplitude", amp}};
  const double l = p.lx;
  p.draw = [=](const Philox& rng) {
    std::vector<double> ab(static_cast<std::size_t>(2 * modes));
    rng.normals(0, ab.data(), ab.size());
    for (auto& v : ab) v *= amp;
    Profile pr;
    pr.u0 = [=](double x, double) {
      double u = 0;
      for (long k = 1; k <= modes; ++k) {
        const double q = 2 * M_PI * static_cast<double>(k) * x / l;
        u += ab[2 * (k - 1)] * std::cos(q) + ab[2 * (k - 1) + 1] * std::sin(q);
      }
      return u;
    };
    return pr;
  };
  // ARKIMEX 3, u_xx + u_xxxx implicit; dt = 0.01, a snapshot every 0.5 after 100 time units of burn-in.
  p.stepping = {"arkimex", "3", 0.01, type == "ks22" ? 2000.0 : 1000.0, 50, 100.0};
  p.noise = 0.0;
  if (type == "ks22")
    p.train = 8, p.validation = 2, p.test = 2;
  else
    p.train = 4, p.validation = 1, p.test = 1;
  return p;
}

// PDEBench's radial dam break (issue 11): h = h_in inside a circle of radius r ~ U(r_min, r_max) at the
// origin, h_out outside, at rest; finite volumes on cells (pde/shallow_water.hpp); observed: h - 1.
Pde shallow_water(const Options& o) {
  Pde p;
  p.type = "shallow_water";
  p.model = Model::shallow_water;
  p.dim = 2;
  p.description = "shallow water (h, hu, hv), g = 1, radial dam break h = 2 inside r ~ U(0.3, 0.7), 1 outside, "
                  "[-2.5,2.5]^2 outflow; observed h - 1";
  p.nx = o.integer("system_n", 128, "cells per direction (finite volumes)", 4, 1L << 30);
  p.ny = o.integer("system_ny", p.nx, "cells in y (default: -system_n)", 4, 1L << 30);
  p.lx = p.ly = 5.0;
  p.x0 = p.y0 = -2.5;
  p.periodic = false;
  p.cell_centred = true;
  p.observed = "h - 1 (water height minus its level outside the dam at rest)";
  p.gravity = o.positive("system_gravity", 1.0, "gravitational acceleration g");
  const double h_in = o.positive("system_h_inside", 2.0, "water height inside the dam");
  const double h_out = o.positive("system_h_outside", 1.0, "water height outside the dam");
  const double rmin = o.positive("system_r_min", 0.3, "dam radius r ~ U(r_min, r_max)");
  const double rmax = o.positive("system_r_max", 0.7, "dam radius upper bound");
  if (rmax < rmin) throw InputError("-system_r_max: must be >= -system_r_min");
  if (rmax >= 2.5) throw InputError("-system_r_max: the dam must lie inside the domain (r < 2.5)");
  const std::string limiter = o.choice("system_limiter", "minmod", {"minmod", "mc"},
                                       "slope limiter of the MUSCL reconstruction (minmod or monotonized central)");
  p.stencil_width = 2;
  // |u| + sqrt(g h) of a dam break from rest stays below 2 sqrt(g max(h)): the CFL check's bound.
  p.max_speed = 2 * std::sqrt(p.gravity * std::max(h_in, h_out));
  p.parameters = {{"n", double(p.nx)}, {"ny", double(p.ny)}, {"length", p.lx}, {"gravity", p.gravity},
                  {"h_inside", h_in}, {"h_outside", h_out}, {"r_min", rmin}, {"r_max", rmax},
                  {"limiter_mc", limiter == "mc" ? 1.0 : 0.0}};
  p.draw = [=](const Philox& rng) {
    const double r = rmin + (rmax - rmin) * rng.uniform(0, 0);
    Profile pr;
    pr.u0 = [=](double x, double y) { return x * x + y * y < r * r ? h_in : h_out; };
    pr.parameters = {{"r", r}};
    return pr;
  };
  // SSP RK3 (4 stages, SSP coefficient 2) at dt = 2.5e-3: Courant number dt max_speed (1/dx + 1/dy) = 0.36
  // with the bound above, a snapshot every 4 steps (t = k/100). docs/pde.md.
  p.stepping = {"ssp", "rks3", 2.5e-3, 1.0, 4, 0.0};
  p.noise = 1e-2;
  p.train = 900, p.validation = 50, p.test = 50;
  return p;
}

// Incompressible flow past a cylinder (issue 11; pde/cylinder_wake.hpp): Re = U D / nu = 160, channel 4 x 1
// with free-slip walls, uniform inflow, convective outflow, D = 0.125 at (1, 0.5); the solver grid has
// -system_n cells across the channel. Observed: (u, v) on a window of 320 x 80 points behind the cylinder
// (by default the centres of the full-size grid's cells over [1.125, 3.125] x [0.25, 0.75]). One trajectory;
// its time axis is split train / validation / test at -system_train_end / -system_validation_end.
Pde cylinder_wake(const Options& o) {
  Pde p;
  p.type = "cylinder_wake";
  p.model = Model::cylinder_wake;
  p.dim = 2;
  p.description = "incompressible flow past a cylinder, Re 160, channel 4 x 1, D = 0.125; observed (u, v) on a "
                  "320 x 80 window behind it";
  const long n = o.integer("system_n", 160, "solver cells across the channel height (h = height / n)", 8, 1L << 20);
  const double re = o.positive("system_re", 160.0, "Reynolds number U D / nu (U: mean inflow velocity)");
  const double d = o.positive("system_diameter", 0.125, "cylinder diameter D");
  const double length = o.positive("system_length", 4.0, "channel length (a whole number of cells)");
  const double height = o.positive("system_height", 1.0, "channel height");
  const double cx = o.positive("system_cx", 1.0, "cylinder centre x");
  const double cy = o.positive("system_cy", 0.5, "cylinder centre y");
  const std::string inflow = o.choice("system_inflow", "uniform", {"uniform", "parabolic"},
                                      "inflow profile with mean velocity 1 (parabolic: Poiseuille)");
  const std::string walls = o.choice("system_walls", "slip", {"slip", "noslip"}, "channel walls y = 0, height");
  const double pert = o.real("system_perturbation", 0.5, "amplitude of the off-axis bump of the initial u (triggers "
                             "shedding)", 0.0, 10.0);
  const double rtol = o.real("system_ksp_rtol", 1e-6, "relative tolerance of the pressure Poisson solve", 1e-14, 1e-2);
  p.nx = o.integer("system_window_nx", 320, "window points in x", 1, 1L << 20);
  p.ny = o.integer("system_window_ny", 80, "window points in y", 1, 1L << 20);
  const double wdx = o.positive("system_window_dx", 1.0 / 160, "window point spacing (x and y)");
  p.x0 = o.real("system_window_x0", 1.125, "window's lower-left corner x (points at x0 + (i + 1/2) dx)", 0.0, length);
  p.y0 = o.real("system_window_y0", 0.25, "window's lower-left corner y", 0.0, height);
  const double train_end = o.positive("system_train_end", 13.0, "the training part of the time axis: t <= train_end");
  const double val_end = o.positive("system_validation_end", 14.0, "validation: train_end < t <= validation_end; "
                                    "test: t > validation_end");
  if (val_end < train_end) throw InputError("-system_validation_end: must be >= -system_train_end");
  p.forces_file = o.string("system_forces", "", "write t, Cd, Cl of every step to this CSV file (one trajectory)");
  p.lx = wdx * static_cast<double>(p.nx);
  p.ly = wdx * static_cast<double>(p.ny);
  if (p.x0 + p.lx >= length || p.y0 + p.ly >= height)
    throw InputError("-system_window_x0: the window must lie inside the channel");
  p.periodic = false;
  p.cell_centred = true;
  p.fields = {"u", "v"};
  p.observed = "velocity component on the sampling window (bilinear from the staggered grid)";
  p.stencil_width = 1;
  const double u_in = 1.0;
  p.parameters = {{"n", double(n)}, {"re", re}, {"diameter", d}, {"length", length}, {"height", height},
                  {"cx", cx}, {"cy", cy}, {"u_in", u_in}, {"nu", u_in * d / re},
                  {"parabolic", inflow == "parabolic" ? 1.0 : 0.0}, {"no_slip", walls == "noslip" ? 1.0 : 0.0},
                  {"perturbation", pert}, {"ksp_rtol", rtol}, {"window_x0", p.x0}, {"window_y0", p.y0},
                  {"window_dx", wdx}, {"train_end", train_end}, {"validation_end", val_end}};
  const bool parabolic = inflow == "parabolic";
  p.draw = [=](const Philox&) {
    Profile pr;
    // The inflow profile everywhere plus a bump above the axis behind the body: the symmetric steady wake
    // is unstable at Re 160, and the bump starts the shedding within a few time units.
    pr.u0 = [=](double x, double y) {
      const double base = parabolic ? 6 * u_in * y * (height - y) / (height * height) : u_in;
      const double r2 = ((x - cx - d) * (x - cx - d) + (y - cy - 0.5 * d) * (y - cy - 0.5 * d)) / (0.25 * d * d);
      return base + pert * u_in * std::exp(-r2);
    };
    return pr;
  };
  // dt = 2e-3 (Courant number U dt / h = 0.32 at n = 160; 0.64 at the body's shoulders), a snapshot every 5
  // steps (t = k / 100), 10 time units (80 D / U) of burn-in: the shedding is periodic from t ~ 5 on (docs/pde.md).
  p.stepping = {"projection", "ab2", 2e-3, 15.0, 5, 10.0};
  p.noise = 0.0;
  p.train = 1, p.validation = 0, p.test = 0;
  return p;
}

struct Entry {
  std::string description;
  std::function<Pde(const Options&)> make;
};
const std::map<std::string, Entry>& table() {
  static const std::map<std::string, Entry> t = {
      {"wave", {"advected periodic pulse (exact, or u_t = -u_x on the mesh), [0,1), 1000 points", wave}},
      {"kdv", {"KdV u_t = -u u_x - 0.02 u_xxx, [0,10) periodic, 1000 points", kdv}},
      {"burgers1d", {"Burgers u_t = -u u_x + 5e-4 u_xx, [0,1) periodic, 1000 points", burgers1d}},
      {"burgers2d", {"Burgers 2-D u_t = 0.005 Lap u - u (u_x + u_y), [0,1]^2 Dirichlet, 128^2", burgers2d}},
      {"ks22", {"Kuramoto-Sivashinsky, L = 22 periodic, 128 points (chaotic)",
                [](const Options& o) { return ks(o, "ks22", 22.0, 128); }}},
      {"ks100", {"Kuramoto-Sivashinsky, L = 100 periodic, 512 points (chaotic)",
                 [](const Options& o) { return ks(o, "ks100", 100.0, 512); }}},
      {"shallow_water", {"shallow water, radial dam break (PDEBench), [-2.5,2.5]^2 outflow, 128^2 cells, observed h - 1",
                         shallow_water}},
      {"cylinder_wake", {"incompressible flow past a cylinder, Re 160, channel 4 x 1; observed (u, v) on a 320 x 80 "
                         "window behind it", cylinder_wake}},
  };
  return t;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> case_types() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, e] : table()) out.emplace_back(k, e.description);
  return out;
}

bool is_case(const std::string& type) { return table().count(type) > 0; }

Pde make_case(const std::string& type, const Options& opts) {
  const auto it = table().find(type);
  if (it == table().end()) throw InputError("-system_type: '" + type + "' is not a field case");
  return it->second.make(opts);
}

Pde make_case(const std::string& type, const std::vector<std::pair<std::string, std::string>>& settings) {
  // A private options database: the command's own (and its check for unread options) stays untouched.
  PetscOptions db = nullptr;
  MSROM_PETSC(PetscOptionsCreate(&db));
  for (const auto& [k, v] : settings) MSROM_PETSC(PetscOptionsSetValue(db, ("-" + k).c_str(), v.c_str()));
  MSROM_PETSC(PetscOptionsPush(db));
  const UnlistedOptionReads unlisted;  // the case's options are not the command's
  try {
    Pde p = make_case(type, Options("system"));
    PetscOptionsPop();
    PetscOptionsDestroy(&db);
    return p;
  } catch (...) {
    PetscOptionsPop();
    PetscOptionsDestroy(&db);
    throw;
  }
}

}  // namespace msrom::pde
