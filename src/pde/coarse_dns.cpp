#include "msrom/pde/coarse_dns.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "msrom/analysis/fields.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/pde/field_solver.hpp"
#include "msrom/pde/shallow_water.hpp"
#include "msrom/pde/solver.hpp"

namespace msrom::pde {

CoarseDnsKind coarse_dns_kind(const std::string& system) {
  if (!is_case(system)) return CoarseDnsKind::none;
  return system == "cylinder_wake" ? CoarseDnsKind::window : CoarseDnsKind::grid;
}

void read_coarse_grid_options(const Options& o, CoarseDnsConfig& c) {
  c.nx = o.integer("coarse_nx", 0, "coarse grid points in x (0: the paper's, 20 in 1-D and 8 in 2-D; Dirichlet: nodes incl. boundary; "
                   "shallow water: cells, dividing the fine count; cylinder wake: window cells, 0: blocks of 10 x 10 points, the paper's 32 x 8)", 0,
                   1L << 30);
  c.ny = o.integer("coarse_ny", 0, "coarse grid nodes in y, 2-D cases (0: -coarse_nx; cylinder wake: the window's aspect)", 0, 1L << 30);
  c.stencil = o.choice("coarse_dns_stencil", "data", {"data", "paper", "central"},
                       "KdV u_xxx stencil of the coarse solve: data = as the data set was made (-system_stencil)");
}

CoarseDnsConfig read_coarse_dns_options(const Options& o) {
  CoarseDnsConfig c;
  c.data = o.string("data", "", "field data set written by msrom simulate (the case, its parameters and the test trajectories)");
  read_coarse_grid_options(o, c);
  c.split = o.choice("coarse_dns_split", "test", {"test", "validation", "train", "all"}, "which trajectories of the data set to run");
  c.output_dir = o.string("output", "coarse_dns", "output directory (rollouts.h5, eps.h5, metrics.json, figures/)");
  c.progress = read_progress_mode(o);
  return c;
}

namespace {

std::string g17(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

// InputError from building the coarse case names -system_n/-system_ny: the user typed -coarse_nx/-coarse_ny.
[[noreturn]] void rename_grid_error(const InputError& e) {
  std::string w = e.what();
  if (w.rfind("-system_ny", 0) == 0)
    w = "-coarse_ny" + w.substr(10);
  else if (w.rfind("-system_n", 0) == 0)
    w = "-coarse_nx" + w.substr(9);
  throw InputError(w);
}

// Cell-centred grids (the finite-volume shallow water: n cells on [x0, x0 + L], outflow edges).
//
// Fine -> coarse: the mean of the r = n / N fine cells of each coarse cell (r x r blocks in 2-D), in a fixed
// order; the coarse cell average of the fine finite-volume field, so the initial mass is kept to round-off.
// Coarse -> fine: the natural cubic spline through the N coarse centres and two ghost centres outside them
// that hold copies of the edge cells (the solver's zero-gradient outflow ghosts), evaluated at the fine
// centres. In coarse index units (ghosts at -1 and N), fine centre i sits at (i + 1/2) N / n - 1/2, always
// inside the extended grid; the ghosts' weights are added to the edge cells'. A fine centre on a coarse
// centre (odd r, or r = 1) gets that cell's value exactly.
std::vector<double> cell_spline_weights(long N, long n) {  // [n, N]
  const long ne = N + 2;
  const analysis::Grid g{ne, analysis::Boundary::natural};
  std::vector<double> w(static_cast<std::size_t>(n * N), 0.0), e(static_cast<std::size_t>(ne), 0.0);
  for (long j = 0; j < ne; ++j) {
    e[j] = 1.0;
    const auto m = analysis::spline_second_derivatives(g, e.data());
    const long col = std::clamp(j - 1, 0L, N - 1);
    for (long i = 0; i < n; ++i) {
      // Extended index (fine centre + 1): ((2 i + 1) N + n) / (2 n), split exactly into segment and fraction.
      const long num = (2 * i + 1) * N + n, den = 2 * n;
      long k = num / den;
      double t = static_cast<double>(num % den) / static_cast<double>(den);
      if (k >= ne - 1) k = ne - 2, t = 1.0;
      const double s = 1.0 - t;
      w[static_cast<std::size_t>(i * N + col)] +=
          s * e[k] + t * e[k + 1] + ((s * s * s - s) * m[k] + (t * t * t - t) * m[k + 1]) / 6.0;
    }
    e[j] = 0.0;
  }
  return w;
}

// Bicubic (tensor product) coarse -> fine on cell centres: along x for every coarse y-line, then along y
// (the order of analysis::Resampler2d). Arrays [nx, ny], y fastest.
class CellUpsampler2d {
 public:
  CellUpsampler2d(long cnx, long cny, long fnx, long fny)
      : cnx_(cnx), cny_(cny), fnx_(fnx), fny_(fny), wx_(cell_spline_weights(cnx, fnx)),
        wy_(cell_spline_weights(cny, fny)), tmp_(static_cast<std::size_t>(fnx * cny)) {}
  void apply(const double* in, double* out) const {
    for (long i = 0; i < fnx_; ++i) {
      double* t = &tmp_[static_cast<std::size_t>(i * cny_)];
      for (long j = 0; j < cny_; ++j) t[j] = 0.0;
      const double* w = &wx_[static_cast<std::size_t>(i * cnx_)];
      for (long k = 0; k < cnx_; ++k) {
        const double wk = w[k];
        const double* src = in + k * cny_;
        for (long j = 0; j < cny_; ++j) t[j] += wk * src[j];
      }
    }
    for (long i = 0; i < fnx_; ++i) {
      const double* t = &tmp_[static_cast<std::size_t>(i * cny_)];
      for (long jj = 0; jj < fny_; ++jj) {
        const double* w = &wy_[static_cast<std::size_t>(jj * cny_)];
        double v = 0;
        for (long l = 0; l < cny_; ++l) v += w[l] * t[l];
        out[i * fny_ + jj] = v;
      }
    }
  }

 private:
  long cnx_, cny_, fnx_, fny_;
  std::vector<double> wx_, wy_;
  mutable std::vector<double> tmp_;
};

// Fine -> coarse on cell-centred grids: block means (rx x ry fine cells per coarse cell).
void cell_average_2d(const double* in, long fnx, long fny, long cnx, long cny, double* out) {
  const long rx = fnx / cnx, ry = fny / cny;
  const double cells = static_cast<double>(rx * ry);
  for (long I = 0; I < cnx; ++I)
    for (long J = 0; J < cny; ++J) {
      double s = 0;
      for (long a = 0; a < rx; ++a)
        for (long b = 0; b < ry; ++b) s += in[(I * rx + a) * fny + J * ry + b];
      out[I * cny + J] = s / cells;
    }
}

}  // namespace

CoarseDns::CoarseDns(const CoarseDnsConfig& cfg, MPI_Comm comm) : cfg_(cfg), comm_(comm) {
  if (cfg.data.empty()) throw InputError("-data: no input file given");
  const auto f = h5::File::open(cfg.data, "-data");
  const std::string who = "-data: '" + cfg.data + "': ";
  for (const char* obj : {"/fields/u", "/time", "/grid/x"})
    if (!f.exists(obj)) throw InputError(who + "not a field data set (no " + obj + ")");
  if (!f.has_attribute("/", "system")) throw InputError(who + "no 'system' attribute (not written by msrom simulate)");
  system_ = f.read_string_attribute("/", "system");
  if (!is_case(system_)) throw InputError(who + "system '" + system_ + "' is not a field case");
  const auto shape = f.shape("/fields/u");
  if (shape.size() != 3 && shape.size() != 4) throw InputError(who + "/fields/u is not [members, nt, nx(, ny)]");
  if (coarse_dns_kind(system_) == CoarseDnsKind::window)
    throw InputError(who + "the " + system_ + " case's data are a window of the domain: its coarse DNS (the window "
                     "alone on the coarse grid) is a column of msrom evaluate-msde");
  const auto defaults = make_case(system_, std::vector<std::pair<std::string, std::string>>{});
  if (static_cast<int>(shape.size()) - 2 != defaults.dim)
    throw InputError(who + "/fields/u has " + std::to_string(shape.size() - 2) + " space dimensions, the " + system_ +
                     " case " + std::to_string(defaults.dim));
  fine_nx_ = static_cast<long>(shape[2]);
  fine_ny_ = shape.size() == 4 ? static_cast<long>(shape[3]) : 1;
  nt_ = static_cast<std::int64_t>(shape[1]);
  if (f.shape("/time") != h5::Shape{shape[1]}) throw InputError(who + "/time does not match /fields/u");
  periodic_ = defaults.periodic;
  cells_ = defaults.cell_centred;

  // The trajectories of the chosen split.
  const long all = static_cast<long>(shape[0]);
  std::vector<double> split(static_cast<std::size_t>(all), 0.0);
  if (cfg.split != "all") {
    if (!f.exists("/split")) throw InputError(who + "no /split labels; use -coarse_dns_split all");
    split = f.read("/split");
    if (static_cast<long>(split.size()) != all) throw InputError(who + "/split does not match /fields/u");
  }
  const double want = cfg.split == "train" ? 0 : cfg.split == "validation" ? 1 : 2;
  for (long m = 0; m < all; ++m)
    if (cfg.split == "all" || split[m] == want) members_.push_back(m);
  if (members_.empty()) throw InputError("-coarse_dns_split: '" + cfg.data + "' has no " + cfg.split + " trajectories");

  if (cfg.stencil != "data" && system_ != "kdv") throw InputError("-coarse_dns_stencil: only for the kdv case");
  // The coarse grid.
  long nx = cfg.nx, ny = cfg.ny;
  if (defaults.dim == 1 && ny != 0) throw InputError("-coarse_ny: the " + system_ + " case is 1-D");
  if (nx == 0) nx = defaults.dim == 1 ? 20 : 8;
  if (ny == 0) ny = defaults.dim == 1 ? 1 : nx;
  if (nx > fine_nx_)
    throw InputError("-coarse_nx: " + std::to_string(nx) + " is finer than the data's grid (" + std::to_string(fine_nx_) + ")");
  if (ny > fine_ny_)
    throw InputError("-coarse_ny: " + std::to_string(ny) + " is finer than the data's grid (" + std::to_string(fine_ny_) + ")");
  // Finite volumes: a coarse cell is a block of whole fine cells (its initial value is their mean).
  if (cells_ && fine_nx_ % nx != 0)
    throw InputError("-coarse_nx: " + std::to_string(nx) + " does not divide the data's " + std::to_string(fine_nx_) +
                     " cells (a coarse cell is a block of fine cells)");
  if (cells_ && fine_ny_ % ny != 0)
    throw InputError("-coarse_ny: " + std::to_string(ny) + " does not divide the data's " + std::to_string(fine_ny_) +
                     " cells (a coarse cell is a block of fine cells)");

  // The same case: the file's parameters, the coarse grid.
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& [name, def] : defaults.parameters) {
    (void)def;
    if (name == "n")
      settings.emplace_back("system_n", std::to_string(nx));
    else if (name == "ny")
      settings.emplace_back("system_ny", std::to_string(ny));
    else if (name == "stencil_central") {
      if (cfg.stencil != "data")
        settings.emplace_back("system_stencil", cfg.stencil);
      else if (f.has_attribute("/", "system_stencil_central"))
        settings.emplace_back("system_stencil", f.read_double_attribute("/", "system_stencil_central") != 0 ? "central" : "paper");
    } else if (name == "limiter_mc") {
      if (f.has_attribute("/", "system_limiter_mc"))
        settings.emplace_back("system_limiter", f.read_double_attribute("/", "system_limiter_mc") != 0 ? "mc" : "minmod");
    } else if (f.has_attribute("/", "system_" + name))
      settings.emplace_back("system_" + name, g17(f.read_double_attribute("/", "system_" + name)));
  }
  if (system_ == "wave") settings.emplace_back("system_solver", "integrate");
  try {
    coarse_ = make_case(system_, settings);
  } catch (const InputError& e) {
    if (std::string(e.what()).rfind("-system_n", 0) == 0) rename_grid_error(e);
    throw InputError(who + "its case parameters are invalid: " + e.what());
  }
  // Parameters that are not settable (fixed lengths, the wave's speed) must agree with the file.
  for (const auto& [name, v] : coarse_.parameters) {
    if (name == "n" || name == "ny" || name == "stencil_central" || !f.has_attribute("/", "system_" + name)) continue;
    const double fv = f.read_double_attribute("/", "system_" + name);
    if (fv != v)
      throw InputError(who + "system_" + name + " = " + g17(fv) + ", but the " + system_ + " case has " + g17(v));
  }
  if (f.has_attribute("/", "system_n") && f.read_double_attribute("/", "system_n") != static_cast<double>(fine_nx_))
    throw InputError(who + "/fields/u does not match its system_n attribute");

  // The data's time stepping (every -ts_* option overrides it).
  dt_ = f.has_attribute("/fields/u", "ts_dt") ? f.read_double_attribute("/fields/u", "ts_dt") : coarse_.stepping.dt;
  save_every_ = f.has_attribute("/fields/u", "save_every")
                    ? static_cast<std::int64_t>(std::llround(f.read_double_attribute("/fields/u", "save_every")))
                    : 1;
  if (!(dt_ > 0) || save_every_ < 1) throw InputError(who + "invalid ts_dt or save_every attribute of /fields/u");
  if (f.has_attribute("/fields/u", "integrator")) {
    std::string integ = f.read_string_attribute("/fields/u", "integrator");
    integ = integ.substr(0, integ.find(' '));  // drop " (adaptive)"
    if (integ != "exact") {
      const auto slash = integ.find('/');
      coarse_.stepping.ts_type = integ.substr(0, slash);
      coarse_.stepping.ts_subtype = slash == std::string::npos ? "" : integ.substr(slash + 1);
    }
  }
  coarse_.stepping.dt = dt_;
  seed_ = f.has_attribute("/", "seed") ? f.read_double_attribute("/", "seed") : 0;

  make_output_directory("-output", cfg.output_dir);
  check_output_path("-output", join_path(cfg.output_dir, "rollouts.h5"));
  // The case's solver (pde/field_solver.hpp): the stencil Solver or the ShallowWaterSolver, which checks the
  // step against the CFL bound of the coarse grid (larger cells: the data's step always passes).
  solver_ = make_field_solver(coarse_, PETSC_COMM_SELF, dt_);
  // The solver's step (-ts_dt may change it) must divide the data's snapshot interval.
  const double interval = dt_ * static_cast<double>(save_every_), ratio = interval / solver_->dt();
  steps_per_snapshot_ = static_cast<std::int64_t>(std::llround(ratio));
  if (steps_per_snapshot_ < 1 || std::abs(ratio - static_cast<double>(steps_per_snapshot_)) > 1e-9 * ratio)
    throw InputError("-ts_dt: " + g17(solver_->dt()) + " does not divide the data's snapshot interval " + g17(interval));
}

CoarseDns::~CoarseDns() = default;

CoarseDnsResult CoarseDns::run() {
  using analysis::Boundary;
  using analysis::Grid;
  const int me = rank(comm_), nranks = size(comm_);
  const long members = static_cast<long>(members_.size());
  const Range mine = block_range(members, nranks, me);
  const std::int64_t rounds = (members + nranks - 1) / nranks, nt = nt_;
  const Pde& c = coarse_;
  const int dim = c.dim;
  const long fnx = fine_nx_, fny = fine_ny_, nf = fnx * fny, cnx = c.nx, cny = c.ny, nc = cnx * cny;
  const Boundary b = periodic_ ? Boundary::periodic : Boundary::natural;
  // Coarse -> fine (predictions) and fine -> coarse (the initial condition).
  std::unique_ptr<analysis::Resampler> up1, down1;
  std::unique_ptr<analysis::Resampler2d> up2, down2;
  std::unique_ptr<CellUpsampler2d> upc;
  if (cells_) {
    upc = std::make_unique<CellUpsampler2d>(cnx, cny, fnx, fny);
  } else if (dim == 1) {
    up1 = std::make_unique<analysis::Resampler>(Grid{cnx, b}, Grid{fnx, b});
    down1 = std::make_unique<analysis::Resampler>(Grid{fnx, b}, Grid{cnx, b});
  } else {
    up2 = std::make_unique<analysis::Resampler2d>(Grid{cnx, b}, Grid{cny, b}, Grid{fnx, b}, Grid{fny, b});
    down2 = std::make_unique<analysis::Resampler2d>(Grid{fnx, b}, Grid{fny, b}, Grid{cnx, b}, Grid{cny, b});
  }
  auto upsample = [&](const double* in, double* out) {
    if (cells_)
      upc->apply(in, out);
    else
      dim == 1 ? up1->apply(in, out) : up2->apply(in, out);
  };
  auto downsample = [&](const double* in, double* out) {
    if (cells_)
      cell_average_2d(in, fnx, fny, cnx, cny, out);
    else
      dim == 1 ? down1->apply(in, out) : down2->apply(in, out);
  };
  // The observed initial condition into the case's solver (the shallow-water one sets h = 1 + y, at rest).
  auto set_initial = [&](const double* in) {
    if (auto* sw = dynamic_cast<ShallowWaterSolver*>(solver_.get()))
      sw->set_local_values(in);
    else
      dynamic_cast<Solver&>(*solver_).set_local_values(in);
  };

  const auto data = h5::File::open(cfg_.data, "-data");
  h5::OutputFile out(join_path(cfg_.output_dir, "rollouts.h5"), comm_);
  out.write_root_attributes(static_cast<std::uint64_t>(seed_));
  out.attribute("/", "model", std::string("coarse_dns"));
  out.attribute("/", "system", system_);
  out.attribute("/", "data", cfg_.data);
  out.attribute("/", "split", cfg_.split);
  out.attribute("/", "integrator", solver_->integrator());
  out.attribute("/", "coarse_nx", static_cast<std::int64_t>(cnx));
  out.attribute("/", "coarse_ny", static_cast<std::int64_t>(cny));
  for (const auto& [k, v] : c.parameters) out.attribute("/", "system_" + k, v);
  const auto time = data.read("/time");
  out.write("/time", time);
  out.write("/grid/x", data.read("/grid/x"));
  if (dim == 2 && data.exists("/grid/y")) out.write("/grid/y", data.read("/grid/y"));
  std::vector<double> cx(static_cast<std::size_t>(cnx)), cy(static_cast<std::size_t>(cny));
  for (long i = 0; i < cnx; ++i) cx[i] = c.x(i);
  out.write("/coarse/x", cx);
  if (dim == 2) {
    for (long j = 0; j < cny; ++j) cy[j] = c.y(j);
    out.write("/coarse/y", cy);
  }
  std::vector<double> member_ids(members_.begin(), members_.end());
  out.write("/ensemble/members", member_ids);
  out.attribute("/ensemble/members", "meaning", std::string("member index in the data file (-data)"));
  h5::Shape fshape{static_cast<hsize_t>(members), static_cast<hsize_t>(nt), static_cast<hsize_t>(fnx)};
  h5::Shape cshape{static_cast<hsize_t>(members), static_cast<hsize_t>(nt), static_cast<hsize_t>(cnx)};
  if (dim == 2) fshape.push_back(static_cast<hsize_t>(fny)), cshape.push_back(static_cast<hsize_t>(cny));
  auto dpred = out.create("/ensemble/fields/u", fshape);
  auto dcoarse = out.create("/ensemble/fields/u_coarse", cshape);
  out.attribute("/ensemble/fields/u", "meaning",
                cells_ ? std::string("coarse DNS upsampled to the fine cell centres (cubic spline with outflow ghosts)")
                       : std::string("coarse DNS upsampled to the fine grid (cubic spline)"));
  out.attribute("/ensemble/fields/u_coarse", "meaning", std::string("coarse DNS on the coarse grid (/coarse/x, /coarse/y)"));

  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(nt, (8 << 20) / std::max(1L, nf)));
  std::vector<double> truth, pred(static_cast<std::size_t>(chunk * nf)), coarse(static_cast<std::size_t>(chunk * nc)),
      ic(static_cast<std::size_t>(nc));
  std::vector<double> eps_local(static_cast<std::size_t>(mine.count() * nt), std::numeric_limits<double>::quiet_NaN());
  std::vector<double> status_local(static_cast<std::size_t>(mine.count()), 0.0);
  FieldSolver& solver = *solver_;
  Progress progress("coarse-dns", static_cast<double>(rounds * nt), cfg_.progress);
  MPI_Barrier(comm_);
  const double t_start = MPI_Wtime();
  for (std::int64_t round = 0; round < rounds; ++round) {
    const std::int64_t q = mine.begin + round;
    const bool have = q < mine.end;
    const long m = have ? members_[static_cast<std::size_t>(q)] : 0;
    bool ok = true;
    if (have) {
      h5::Shape off{static_cast<hsize_t>(m), 0, 0}, cnt{1, 1, static_cast<hsize_t>(fnx)};
      if (dim == 2) off.push_back(0), cnt.push_back(static_cast<hsize_t>(fny));
      const auto y0 = data.read_slab("/fields/u", off, cnt);
      downsample(y0.data(), ic.data());
      for (long i = 0; i < cnx; ++i)
        for (long j = 0; j < cny; ++j)
          if (c.boundary(i, j)) ic[static_cast<std::size_t>(i * cny + j)] = 0.0;
      set_initial(ic.data());
      solver.start(0.0);
    }
    for (std::int64_t k0 = 0; k0 < nt; k0 += chunk) {
      const std::int64_t ns = std::min(chunk, nt - k0);
      if (have) {
        h5::Shape off{static_cast<hsize_t>(m), static_cast<hsize_t>(k0), 0}, cnt{1, static_cast<hsize_t>(ns), static_cast<hsize_t>(fnx)};
        if (dim == 2) off.push_back(0), cnt.push_back(static_cast<hsize_t>(fny));
        truth = data.read_slab("/fields/u", off, cnt);
        for (std::int64_t s = 0; s < ns; ++s) {
          const std::int64_t k = k0 + s;
          double* cv = &coarse[static_cast<std::size_t>(s * nc)];
          if (ok) {
            try {
              solver.advance(k * steps_per_snapshot_);
              solver.local_values(cv);
              for (long i = 0; i < nc; ++i) ok = ok && std::isfinite(cv[i]);
            } catch (const RuntimeError&) {
              ok = false;
            }
          }
          if (!ok) std::fill(cv, cv + nc, std::numeric_limits<double>::quiet_NaN());
          double* pv = &pred[static_cast<std::size_t>(s * nf)];
          upsample(cv, pv);
          if (ok)
            eps_local[static_cast<std::size_t>(round * nt + k)] =
                analysis::relative_error(&truth[static_cast<std::size_t>(s * nf)], pv, static_cast<std::size_t>(nf));
        }
      }
      h5::Shape off{static_cast<hsize_t>(have ? q : 0), static_cast<hsize_t>(k0), 0};
      h5::Shape fcnt{have ? 1u : 0u, static_cast<hsize_t>(have ? ns : 0), static_cast<hsize_t>(have ? fnx : 0)};
      h5::Shape ccnt{have ? 1u : 0u, static_cast<hsize_t>(have ? ns : 0), static_cast<hsize_t>(have ? cnx : 0)};
      if (dim == 2) {
        off.push_back(0);
        fcnt.push_back(static_cast<hsize_t>(have ? fny : 0));
        ccnt.push_back(static_cast<hsize_t>(have ? cny : 0));
      }
      out.write_slab(dpred, off, fcnt, pred.data());
      out.write_slab(dcoarse, off, ccnt, coarse.data());
      progress.update(static_cast<double>(round * nt + k0 + ns));
    }
    if (have && !ok) status_local[static_cast<std::size_t>(round)] = 1.0;
  }
  double seconds = MPI_Wtime() - t_start, max_seconds = 0;
  MPI_Allreduce(&seconds, &max_seconds, 1, MPI_DOUBLE, MPI_MAX, comm_);

  // Every rank gets every trajectory's eps and status (in member order).
  std::vector<int> counts(static_cast<std::size_t>(nranks)), displs(counts.size()), scounts(counts.size()),
      sdispls(counts.size());
  for (int r = 0; r < nranks; ++r) {
    const Range rr = block_range(members, nranks, r);
    counts[r] = static_cast<int>(rr.count() * nt), displs[r] = static_cast<int>(rr.begin * nt);
    scounts[r] = static_cast<int>(rr.count()), sdispls[r] = static_cast<int>(rr.begin);
  }
  CoarseDnsResult res;
  res.eps.assign(static_cast<std::size_t>(members * nt), 0.0);
  std::vector<double> status(static_cast<std::size_t>(members));
  MPI_Allgatherv(eps_local.data(), static_cast<int>(eps_local.size()), MPI_DOUBLE, res.eps.data(), counts.data(),
                 displs.data(), MPI_DOUBLE, comm_);
  MPI_Allgatherv(status_local.data(), static_cast<int>(status_local.size()), MPI_DOUBLE, status.data(), scounts.data(),
                 sdispls.data(), MPI_DOUBLE, comm_);
  out.write("/ensemble/status", status);
  out.attribute("/ensemble/status", "meaning", std::string("0 ok, 1 the coarse solve failed or diverged (NaN from then on)"));

  // Summaries over the finite values (a diverged trajectory's remaining times are NaN).
  std::vector<double> finite, at0, at_end, mean_t(static_cast<std::size_t>(nt)), std_t(mean_t.size());
  for (double e : res.eps)
    if (std::isfinite(e)) finite.push_back(e);
  for (std::int64_t k = 0; k < nt; ++k) {
    std::vector<double> col;
    for (long q = 0; q < members; ++q) {
      const double e = res.eps[static_cast<std::size_t>(q * nt + k)];
      if (std::isfinite(e)) col.push_back(e);
    }
    const auto s = analysis::summarize(col);
    mean_t[k] = s.mean, std_t[k] = s.std;
  }
  const auto all_s = analysis::summarize(finite);
  res.system = system_;
  res.integrator = solver.integrator();
  res.fine_nx = fnx, res.fine_ny = fny, res.nx = cnx, res.ny = cny;
  res.members = members_;
  res.nt = nt;
  res.eps_mean = all_s.mean, res.eps_std = all_s.std;
  res.eps_initial = mean_t.front(), res.eps_final = mean_t.back();
  for (double s : status) res.diverged += s != 0;
  res.seconds = max_seconds;

  h5::OutputFile ef(join_path(cfg_.output_dir, "eps.h5"), comm_);
  ef.write_root_attributes(static_cast<std::uint64_t>(seed_));
  ef.attribute("/", "model", std::string("coarse_dns"));
  ef.attribute("/", "system", system_);
  ef.attribute("/", "data", cfg_.data);
  ef.write("/time", time);
  ef.write("/members", member_ids);
  ef.write("/eps", {static_cast<hsize_t>(members), static_cast<hsize_t>(nt)}, res.eps.data());
  ef.attribute("/eps", "meaning", std::string("||y - y_hat|| / ||y|| on the fine grid, [members, nt]"));
  ef.write("/eps_mean", mean_t);
  ef.write("/eps_std", std_t);
  ef.attribute("/", "eps_mean", res.eps_mean);
  ef.attribute("/", "eps_std", res.eps_std);
  out.commit();
  ef.commit();
  progress.finish();

  if (me == 0) {
    Metrics mt;
    mt.set("eps_mean.coarse_dns", res.eps_mean);
    mt.set("eps_std.coarse_dns", res.eps_std);
    mt.set("eps_initial.coarse_dns", res.eps_initial);
    mt.set("eps_final.coarse_dns", res.eps_final);
    mt.set("diverged.coarse_dns", static_cast<double>(res.diverged));
    mt.write(join_path(cfg_.output_dir, "metrics.json"));
  }
  MPI_Barrier(comm_);
  return res;
}

}  // namespace msrom::pde
