#include "msrom/systems/simulate.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"

namespace msrom::systems {

SimulateConfig read_simulate_options(const Options& opts, bool read_output) {
  SimulateConfig c;
  c.members = opts.integer("members", c.members, "ensemble members (trajectories)", 1);
  c.seed = static_cast<std::uint64_t>(opts.integer("seed", 1, "random seed (initial conditions)", 0));
  c.dt = opts.positive("ts_dt", c.dt, "RK4 time step");
  const double max_time = opts.positive("ts_max_time", 100.0, "integration time after burn-in");
  const long max_steps = opts.integer("ts_max_steps", 0, "number of steps after burn-in (overrides -ts_max_time)", 0);
  c.save_every = opts.integer("simulate_save_every", c.save_every, "save every k steps", 1);
  c.burn_in = opts.real("simulate_burn_in", c.burn_in, "time integrated and discarded first", 0.0);
  c.save_all = opts.choice("simulate_save", "slow", {"slow", "all"}, "components written to /state") == "all";
  c.progress = read_progress_mode(opts);
  c.steps = max_steps > 0 ? max_steps : static_cast<std::int64_t>(std::llround(max_time / c.dt));
  if (c.steps / c.save_every < 1)
    throw InputError("-ts_max_time: shorter than one save interval (-simulate_save_every * -ts_dt)");
  if (read_output) {
    c.output = opts.string("output", "data.h5", "output HDF5 file");
    check_output_path("-output", c.output);
  }
  return c;
}

SimulateStats simulate(const System& system, const SimulateConfig& cfg, MPI_Comm comm) {
  const int nranks = size(comm), me = rank(comm);
  const Range mine = block_range(cfg.members, nranks, me);
  const int dim = system.dim(), nout = cfg.save_all ? dim : system.slow_dim();
  const std::int64_t nsave = cfg.steps / cfg.save_every;
  const std::int64_t burn_steps = static_cast<std::int64_t>(std::llround(cfg.burn_in / cfg.dt));

  h5::OutputFile out(cfg.output, comm);
  out.write_root_attributes(cfg.seed);
  out.attribute("/", "system", system.type());
  for (const auto& [k, v] : system.parameters()) out.attribute("/", "system_" + k, v);

  std::vector<double> time(static_cast<std::size_t>(nsave));
  for (std::int64_t i = 0; i < nsave; ++i) time[i] = static_cast<double>((i + 1) * cfg.save_every) * cfg.dt;
  out.write("/time", time);
  out.attribute("/time", "dt", cfg.dt * static_cast<double>(cfg.save_every));
  out.attribute("/time", "units", std::string("model time units; t = 0 is the end of the burn-in"));

  auto dset = out.create("/state", {static_cast<hsize_t>(cfg.members), static_cast<hsize_t>(nsave),
                                    static_cast<hsize_t>(nout)});
  auto names = system.names();
  names.resize(static_cast<std::size_t>(nout));
  out.attribute("/state", "names", names);
  out.attribute("/state", "dt", cfg.dt);
  out.attribute("/state", "save_every", static_cast<std::int64_t>(cfg.save_every));
  out.attribute("/state", "burn_in", cfg.burn_in);
  out.attribute("/state", "integrator", std::string("rk4"));

  // Initial conditions and burn-in.
  const std::int64_t nlocal = mine.count();
  std::vector<double> u(static_cast<std::size_t>(nlocal * dim));
  for (std::int64_t m = 0; m < nlocal; ++m) {
    Philox rng(cfg.seed, static_cast<std::uint64_t>(mine.begin + m), Purpose::initial_condition);
    system.initial_condition(rng, &u[m * dim]);
    if (burn_steps > 0) system.rk4(-cfg.burn_in, 0, cfg.dt, 1, burn_steps, &u[m * dim], nullptr, 0);
  }

  // Chunks in time: every rank makes the same number of collective writes (the chunk length depends only
  // on the largest block of members), each at most ~64 MB of buffer.
  const std::int64_t max_local = (cfg.members + nranks - 1) / nranks;
  const std::int64_t chunk = std::max<std::int64_t>(1, std::min<std::int64_t>(nsave, (8 << 20) / (max_local * nout)));
  std::vector<double> buf(static_cast<std::size_t>(nlocal * chunk * nout));
  Progress progress("simulate", static_cast<double>(nsave), cfg.progress);
  MPI_Barrier(comm);
  const double t_start = MPI_Wtime();
  for (std::int64_t s0 = 0; s0 < nsave; s0 += chunk) {
    const std::int64_t ns = std::min(chunk, nsave - s0);
    for (std::int64_t m = 0; m < nlocal; ++m)
      system.rk4(0.0, s0 * cfg.save_every, cfg.dt, ns, cfg.save_every, &u[m * dim], &buf[m * ns * nout], nout);
    const auto written = static_cast<std::size_t>(nlocal * ns * nout);
    for (std::size_t i = 0; i < written; ++i)
      if (!std::isfinite(buf[i])) throw RuntimeError("simulate: the trajectory diverged (non-finite state); reduce -ts_dt");
    out.write_slab(dset, {static_cast<hsize_t>(mine.begin), static_cast<hsize_t>(s0), 0},
                   {static_cast<hsize_t>(nlocal), static_cast<hsize_t>(ns), static_cast<hsize_t>(nout)}, buf.data());
    progress.update(static_cast<double>(s0 + ns));
  }
  double seconds = MPI_Wtime() - t_start, max_seconds = 0;
  MPI_Allreduce(&seconds, &max_seconds, 1, MPI_DOUBLE, MPI_MAX, comm);
  out.commit();
  progress.finish();

  SimulateStats st;
  st.seconds = max_seconds;
  st.nsave = nsave;
  st.steps_per_second_per_rank = static_cast<double>(max_local) * static_cast<double>(cfg.steps) / max_seconds;
  return st;
}

LyapunovResult largest_lyapunov(const System& system, std::uint64_t seed, double dt, double time, double transient,
                                std::int64_t renorm_every, double d0, const std::string& components) {
  const int n = system.dim();
  const int first = components == "fast" ? system.slow_dim() : 0;
  if (first >= n) throw InputError("-lyapunov_norm: the system has no fast components");
  Philox rng(seed, 0, Purpose::initial_condition);
  std::vector<double> u(n), v(n);
  system.initial_condition(rng, u.data());
  const auto transient_steps = static_cast<std::int64_t>(std::llround(transient / dt));
  if (transient_steps > 0) system.rk4(-transient, 0, dt, 1, transient_steps, u.data(), nullptr, 0);

  // Perturbation in a random direction of the chosen components.
  Philox prng(seed, 0, Purpose::perturbation);
  std::vector<double> dir(n, 0.0);
  prng.normals(0, dir.data() + first, static_cast<std::size_t>(n - first));
  auto norm = [&](const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (int i = first; i < n; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(s);
  };
  const double dn = norm(dir, std::vector<double>(n, 0.0));
  for (int i = 0; i < n; ++i) v[i] = u[i] + d0 * dir[i] / dn;

  const auto intervals = static_cast<std::int64_t>(time / (dt * static_cast<double>(renorm_every)));
  if (intervals < 20) throw InputError("-lyapunov_time: too short for 20 renormalisation intervals");
  std::vector<double> logs(static_cast<std::size_t>(intervals));
  std::int64_t step = 0;
  for (std::int64_t k = 0; k < intervals; ++k, step += renorm_every) {
    system.rk4(0.0, step, dt, 1, renorm_every, u.data(), nullptr, 0);
    system.rk4(0.0, step, dt, 1, renorm_every, v.data(), nullptr, 0);
    const double d = norm(u, v);
    if (!(d > 0) || !std::isfinite(d)) throw RuntimeError("lyapunov: perturbation collapsed or diverged");
    logs[k] = std::log(d / d0);
    for (int i = 0; i < n; ++i) v[i] = u[i] + (v[i] - u[i]) * (d0 / d);
  }
  // Exponent and its standard error from 20 block means.
  const double tau = dt * static_cast<double>(renorm_every);
  const int nb = 20;
  const std::int64_t per = intervals / nb;
  std::vector<double> blocks(nb, 0.0);
  double total = 0;
  for (std::int64_t k = 0; k < intervals; ++k) total += logs[k];
  for (int b = 0; b < nb; ++b) {
    for (std::int64_t k = b * per; k < (b + 1) * per; ++k) blocks[b] += logs[k];
    blocks[b] /= static_cast<double>(per) * tau;
  }
  LyapunovResult r;
  r.exponent = total / (static_cast<double>(intervals) * tau);
  double var = 0;
  for (double b : blocks) var += (b - r.exponent) * (b - r.exponent);
  r.standard_error = std::sqrt(var / (nb - 1) / nb);
  r.lyapunov_time = r.exponent > 0 ? 1.0 / r.exponent : 0;
  return r;
}

}  // namespace msrom::systems
