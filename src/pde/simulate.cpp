#include "msrom/pde/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"
#include "msrom/pde/field_solver.hpp"

namespace msrom::pde {

FieldsConfig read_fields_options(const Pde& pde, const Options& opts, bool read_output) {
  FieldsConfig c;
  c.seed = static_cast<std::uint64_t>(opts.integer("seed", 1, "random seed (initial conditions, observation noise)", 0));
  c.train = opts.integer("simulate_train", pde.train, "training trajectories (members 0 ..)", 0);
  c.validation = opts.integer("simulate_validation", pde.validation, "validation trajectories (after the training ones)", 0);
  c.test = opts.integer("simulate_test", pde.test, "test trajectories (last)", 0);
  if (c.members() < 1) throw InputError("-simulate_train: no trajectories (train + validation + test = 0)");
  c.noise = opts.real("simulate_noise", pde.noise, "std of the additive Gaussian observation noise", 0.0);
  c.clean = opts.flag("simulate_clean", false, "also write the noise-free solution as /fields/u_clean");
  c.ranks_per_member = static_cast<int>(
      opts.integer("pde_ranks_per_member", 1, "ranks sharing one trajectory's mesh (groups by MPI_Comm_split)", 1, 1 << 20));
  opts.string("ts_type", pde.stepping.ts_type,
              "PETSc TS type; every -ts_* option applies (default per case: " + pde.stepping.ts_type + " " +
                  pde.stepping.ts_subtype + ")");
  c.dt = opts.positive("ts_dt", pde.stepping.dt, "time step (initial step with -ts_adapt_type); snapshots are k * dt apart");
  const double max_time = opts.positive("ts_max_time", pde.stepping.max_time, "integration time after burn-in");
  const long max_steps = opts.integer("ts_max_steps", 0, "steps after burn-in (overrides -ts_max_time)", 0);
  c.save_every = opts.integer("simulate_save_every", pde.stepping.save_every, "save a snapshot every k steps", 1);
  c.burn_in = opts.real("simulate_burn_in", pde.stepping.burn_in, "time integrated and discarded before t = 0", 0.0);
  c.progress = read_progress_mode(opts);
  c.steps = max_steps > 0 ? max_steps : static_cast<std::int64_t>(std::llround(max_time / c.dt));
  if (c.steps / c.save_every < 1)
    throw InputError("-ts_max_time: shorter than one save interval (-simulate_save_every * -ts_dt)");
  if (read_output) {
    c.output = opts.string("output", "data.h5", "output HDF5 file (and an XDMF sidecar FILE.xmf)");
    check_output_path("-output", c.output);
  }
  return c;
}

namespace {

// Adds sigma * Gaussian (step, comp0 + q) to v[q], q < n.
void add_noise(const Philox& rng, std::uint64_t step, std::uint64_t comp0, long n, double sigma, double* v) {
  double z[4];
  std::uint64_t block = ~std::uint64_t(0);
  for (long q = 0; q < n; ++q) {
    const std::uint64_t c = comp0 + static_cast<std::uint64_t>(q);
    if (c / 4 != block) rng.normal4(step, block = c / 4, z);
    v[q] += sigma * z[c % 4];
  }
}

std::string xmf_path(const std::string& h5) {
  const auto dot = h5.rfind('.'), slash = h5.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) return h5.substr(0, dot) + ".xmf";
  return h5 + ".xmf";
}

std::string base_name(const std::string& p) {
  const auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

std::string xdmf(const Pde& pde, const std::string& h5_name, long members, std::int64_t nt,
                 const std::vector<double>& time) {
  std::ostringstream o;
  o.precision(17);
  const std::string data = h5_name + ":/fields/u";
  o << "<?xml version=\"1.0\" ?>\n<!DOCTYPE Xdmf SYSTEM \"Xdmf.dtd\" []>\n<Xdmf Version=\"2.0\">\n <Domain>\n";
  if (pde.dim == 1) {
    // One space-time image per member: rows are snapshots (t), columns are nodes (x).
    const double dts = nt > 1 ? time[1] - time[0] : 1.0;
    o << "  <Topology Name=\"spacetime\" TopologyType=\"2DCoRectMesh\" Dimensions=\"" << nt << " " << pde.nx << "\"/>\n"
      << "  <Geometry Name=\"tx\" GeometryType=\"ORIGIN_DXDY\">\n"
      << "   <DataItem Format=\"XML\" Dimensions=\"2\">" << time[0] << " 0</DataItem>\n"
      << "   <DataItem Format=\"XML\" Dimensions=\"2\">" << dts << " " << pde.dx() << "</DataItem>\n  </Geometry>\n"
      << "  <Grid Name=\"members\" GridType=\"Collection\" CollectionType=\"Spatial\">\n";
    for (long m = 0; m < members; ++m)
      o << "   <Grid Name=\"member_" << m << "\" GridType=\"Uniform\">\n"
        << "    <Topology Reference=\"/Xdmf/Domain/Topology[1]\"/>\n"
        << "    <Geometry Reference=\"/Xdmf/Domain/Geometry[1]\"/>\n"
        << "    <Attribute Name=\"u\" AttributeType=\"Scalar\" Center=\"Node\">\n"
        << "     <DataItem ItemType=\"HyperSlab\" Dimensions=\"" << nt << " " << pde.nx << "\" Type=\"HyperSlab\">\n"
        << "      <DataItem Dimensions=\"3 3\" Format=\"XML\">" << m << " 0 0 1 1 1 1 " << nt << " " << pde.nx
        << "</DataItem>\n"
        << "      <DataItem Dimensions=\"" << members << " " << nt << " " << pde.nx
        << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << data << "</DataItem>\n"
        << "     </DataItem>\n    </Attribute>\n   </Grid>\n";
    o << "  </Grid>\n";
  } else {
    // A temporal collection; at each time every member is one attribute u_<m>. The file's order is
    // [nx, ny] (y fastest), so ParaView's first axis is the file's y.
    o << "  <Topology Name=\"mesh\" TopologyType=\"2DCoRectMesh\" Dimensions=\"" << pde.nx << " " << pde.ny << "\"/>\n"
      << "  <Geometry Name=\"xy\" GeometryType=\"ORIGIN_DXDY\">\n"
      << "   <DataItem Format=\"XML\" Dimensions=\"2\">" << pde.x(0) << " " << pde.y(0) << "</DataItem>\n"
      << "   <DataItem Format=\"XML\" Dimensions=\"2\">" << pde.dx() << " " << pde.dy() << "</DataItem>\n  </Geometry>\n"
      << "  <Grid Name=\"fields\" GridType=\"Collection\" CollectionType=\"Temporal\">\n";
    for (std::int64_t k = 0; k < nt; ++k) {
      o << "   <Grid Name=\"t" << k << "\" GridType=\"Uniform\">\n    <Time Value=\"" << time[k] << "\"/>\n"
        << "    <Topology Reference=\"/Xdmf/Domain/Topology[1]\"/>\n"
        << "    <Geometry Reference=\"/Xdmf/Domain/Geometry[1]\"/>\n";
      for (long m = 0; m < members; ++m)
        o << "    <Attribute Name=\"u_" << m << "\" Center=\"Node\"><DataItem ItemType=\"HyperSlab\" Dimensions=\""
          << pde.nx << " " << pde.ny << "\"><DataItem Dimensions=\"3 4\" Format=\"XML\">" << m << " " << k
          << " 0 0 1 1 1 1 1 1 " << pde.nx << " " << pde.ny << "</DataItem><DataItem Dimensions=\"" << members << " "
          << nt << " " << pde.nx << " " << pde.ny << "\" NumberType=\"Float\" Precision=\"8\" Format=\"HDF\">" << data
          << "</DataItem></DataItem></Attribute>\n";
      o << "   </Grid>\n";
    }
    o << "  </Grid>\n";
  }
  o << " </Domain>\n</Xdmf>\n";
  return o.str();
}

FieldsRun::FieldsRun(const Pde& pde, const FieldsConfig& cfg, MPI_Comm comm) : pde_(pde), cfg_(cfg), comm_(comm) {
  const int nranks = size(comm), me = rank(comm);
  const int r = std::min(cfg.ranks_per_member, nranks);
  // Every rank of a group needs at least the stencil width of nodes per direction.
  const long per_dir = pde.dim == 1 ? r : static_cast<long>(std::ceil(std::sqrt(static_cast<double>(r))));
  if (pde.nx / per_dir < pde.stencil_width || (pde.dim == 2 && pde.ny / per_dir < pde.stencil_width))
    throw InputError("-pde_ranks_per_member: " + std::to_string(r) + " ranks are too many for a " +
                     std::to_string(pde.nx) + "-point mesh");
  ngroups_ = (nranks + r - 1) / r;
  color_ = me / r;
  group_size_ = r;
  MPI_Comm_split(comm, color_, me, &group_);
  try {
    solver_ = make_field_solver(pde, group_, cfg.dt);
  } catch (...) {
    MPI_Comm_free(&group_);
    throw;
  }
}

FieldsRun::~FieldsRun() {
  solver_.reset();
  if (group_ != MPI_COMM_NULL) MPI_Comm_free(&group_);
}

FieldsStats FieldsRun::run() {
  const Pde& pde = pde_;
  const FieldsConfig& cfg = cfg_;
  MPI_Comm comm = comm_;
  FieldSolver& solver = *solver_;
  const int me = rank(comm), ngroups = ngroups_, color = color_, r = group_size_;
  const long members = cfg.members();
  const Range mine = block_range(members, ngroups, color);
  const std::int64_t rounds = (members + ngroups - 1) / ngroups;
  const std::int64_t nt = cfg.steps / cfg.save_every + 1;
  const auto burn_steps = static_cast<std::int64_t>(std::llround(cfg.burn_in / cfg.dt));
  const long nloc = solver.local_size();

  h5::OutputFile out(cfg.output, comm);
  out.write_root_attributes(cfg.seed);
  out.attribute("/", "system", pde.type);
  for (const auto& [k, v] : pde.parameters) out.attribute("/", "system_" + k, v);
  out.attribute("/", "train", static_cast<std::int64_t>(cfg.train));
  out.attribute("/", "validation", static_cast<std::int64_t>(cfg.validation));
  out.attribute("/", "test", static_cast<std::int64_t>(cfg.test));
  out.attribute("/", "ranks_per_member", static_cast<std::int64_t>(r));

  std::vector<double> time(static_cast<std::size_t>(nt));
  for (std::int64_t k = 0; k < nt; ++k) time[k] = static_cast<double>(k * cfg.save_every) * cfg.dt;
  out.write("/time", time);
  out.attribute("/time", "dt", cfg.dt * static_cast<double>(cfg.save_every));
  out.attribute("/time", "units", std::string("model time units; t = 0 is the initial condition (after any burn-in)"));
  std::vector<double> gx(static_cast<std::size_t>(pde.nx)), gy(static_cast<std::size_t>(pde.ny));
  for (long i = 0; i < pde.nx; ++i) gx[i] = pde.x(i);
  out.write("/grid/x", gx);
  out.attribute("/grid/x", "boundary", pde.boundary_type());
  out.attribute("/grid/x", "length", pde.lx);
  if (pde.dim == 2) {
    for (long j = 0; j < pde.ny; ++j) gy[j] = pde.y(j);
    out.write("/grid/y", gy);
    out.attribute("/grid/y", "boundary", pde.boundary_type());
    out.attribute("/grid/y", "length", pde.ly);
  }
  std::vector<double> split(static_cast<std::size_t>(members));
  for (long m = 0; m < members; ++m) split[m] = m < cfg.train ? 0 : m < cfg.train + cfg.validation ? 1 : 2;
  out.write("/split", split);
  out.attribute("/split", "names", std::vector<std::string>{"train", "validation", "test"});

  h5::Shape shape{static_cast<hsize_t>(members), static_cast<hsize_t>(nt), static_cast<hsize_t>(pde.nx)};
  if (pde.dim == 2) shape.push_back(static_cast<hsize_t>(pde.ny));
  // One dataset per observed component (/fields/u; cylinder_wake: /fields/u and /fields/v).
  const auto ncomp = static_cast<long>(pde.fields.size());
  std::vector<h5::Handle> dsets, cleans;
  for (const auto& f : pde.fields) {
    dsets.push_back(out.create("/fields/" + f, shape));
    if (cfg.clean) cleans.push_back(out.create("/fields/" + f + "_clean", shape));
  }
  for (const auto& f : pde.fields)
    for (const std::string& name : {"/fields/" + f, "/fields/" + f + "_clean"}) {
      const bool noisy_set = name == "/fields/" + f;
      if (!cfg.clean && !noisy_set) continue;
      out.attribute(name, "ts_dt", cfg.dt);
      out.attribute(name, "save_every", static_cast<std::int64_t>(cfg.save_every));
      out.attribute(name, "burn_in", cfg.burn_in);
      out.attribute(name, "integrator", solver.integrator());
      out.attribute(name, "noise", noisy_set ? cfg.noise : 0.0);
      if (!pde.observed.empty()) out.attribute(name, "observed", pde.observed);
      out.attribute(name, "dims",
                    std::vector<std::string>(pde.dim == 1 ? std::vector<std::string>{"member", "time", "x"}
                                                          : std::vector<std::string>{"member", "time", "x", "y"}));
    }

  // Time chunks of the same length on every rank (collective writes), each at most ~64 MB per rank.
  long max_loc = nloc;
  MPI_Allreduce(&nloc, &max_loc, 1, MPI_LONG, MPI_MAX, comm);
  const std::int64_t chunk =
      std::max<std::int64_t>(1, std::min<std::int64_t>(nt, (8 << 20) / std::max(1L, max_loc * ncomp)));
  // Snapshot s of component c at [(s * ncomp + c) * nloc]; `slab` gathers one component's snapshots.
  std::vector<double> buf(static_cast<std::size_t>(chunk * nloc * ncomp)), noisy(buf.size());
  std::vector<double> slab(ncomp > 1 ? static_cast<std::size_t>(chunk * nloc) : 0);
  Progress progress("simulate", static_cast<double>(rounds * nt), cfg.progress);
  std::int64_t steps = 0;
  MPI_Barrier(comm);
  const double t_start = MPI_Wtime();
  for (std::int64_t round = 0; round < rounds; ++round) {
    const std::int64_t m = mine.begin + round;
    const bool have = m < mine.end;
    if (have) {
      solver.set_initial(pde.draw(Philox(cfg.seed, static_cast<std::uint64_t>(m), Purpose::initial_condition)));
      if (burn_steps > 0) {
        solver.start(-static_cast<double>(burn_steps) * cfg.dt);
        solver.advance(burn_steps);
      }
      solver.start(0.0);
    }
    const Philox noise_rng(cfg.seed, static_cast<std::uint64_t>(std::max<std::int64_t>(m, 0)), Purpose::observation_noise);
    for (std::int64_t k0 = 0; k0 < nt; k0 += chunk) {
      const std::int64_t ns = std::min(chunk, nt - k0);
      if (have)
        for (std::int64_t s = 0; s < ns; ++s) {
          const std::int64_t k = k0 + s;
          solver.advance(k * cfg.save_every);
          double* v = &buf[s * nloc * ncomp];
          solver.local_values(v);
          double* w = &noisy[s * nloc * ncomp];
          std::copy(v, v + nloc * ncomp, w);
          for (long q = 0; q < nloc * ncomp; ++q)
            if (!std::isfinite(v[q]))
              throw RuntimeError("simulate: the field diverged (non-finite) at t = " + std::to_string(time[k]) +
                                 "; reduce -ts_dt");
          // Component c's noise counters follow the previous components' (nx * ny each).
          if (cfg.noise > 0)
            for (long c = 0; c < ncomp; ++c)
              for (long i = 0; i < solver.xm(); ++i)
                add_noise(noise_rng, static_cast<std::uint64_t>(k),
                          static_cast<std::uint64_t>(c * pde.nx * pde.ny + (solver.xs() + i) * pde.ny + solver.ys()),
                          solver.ym(), cfg.noise, w + c * nloc + i * solver.ym());
        }
      h5::Shape off{static_cast<hsize_t>(have ? m : 0), static_cast<hsize_t>(k0), static_cast<hsize_t>(solver.xs())};
      h5::Shape cnt{have ? 1u : 0u, static_cast<hsize_t>(have ? ns : 0), static_cast<hsize_t>(have ? solver.xm() : 0)};
      if (pde.dim == 2) {
        off.push_back(static_cast<hsize_t>(solver.ys()));
        cnt.push_back(static_cast<hsize_t>(have ? solver.ym() : 0));
      }
      for (long c = 0; c < ncomp; ++c) {
        auto component = [&](const std::vector<double>& from) {
          if (ncomp == 1) return from.data();
          for (std::int64_t s = 0; have && s < ns; ++s)
            std::copy_n(&from[(s * ncomp + c) * nloc], nloc, &slab[s * nloc]);
          return static_cast<const double*>(slab.data());
        };
        out.write_slab(dsets[c], off, cnt, component(noisy));
        if (cfg.clean) out.write_slab(cleans[c], off, cnt, component(buf));
      }
      progress.update(static_cast<double>(round * nt + k0 + ns));
    }
    if (have) steps = std::max(steps, solver.total_steps());
  }
  double seconds = MPI_Wtime() - t_start, max_seconds = 0;
  MPI_Allreduce(&seconds, &max_seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  std::int64_t max_steps = 0;
  MPI_Allreduce(&steps, &max_steps, 1, MPI_INT64_T, MPI_MAX, comm);
  out.commit();
  if (me == 0) write_text_atomically(xmf_path(cfg.output), xdmf(pde, base_name(cfg.output), members, nt, time));
  progress.finish();

  FieldsStats st;
  st.seconds = max_seconds;
  st.nt = nt;
  st.groups = ngroups;
  st.integrator = solver.integrator();
  st.steps = max_steps;
  return st;
}

}  // namespace msrom::pde
