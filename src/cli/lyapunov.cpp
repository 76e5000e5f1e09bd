// msrom lyapunov: the largest Lyapunov exponent of a system by Benettin renormalisation
// (systems/simulate.hpp), needed to express forecast lead times in Lyapunov times.
//
// Sample runs:
//   msrom lyapunov -system_type bistable -lyapunov_norm fast        # the driver's exponent, ~3.6
//   msrom lyapunov -system_type lorenz63 -system_eps 1               # classical Lorenz-63, ~0.906
#include <cstdio>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/options.hpp"
#include "msrom/systems/simulate.hpp"

namespace msrom::cli {

LyapunovConfig read_lyapunov_options(const Options& o, bool read_output) {
  LyapunovConfig c;
  c.seed = static_cast<std::uint64_t>(o.integer("seed", 1, "random seed (initial condition, perturbation)", 0));
  c.dt = o.positive("ts_dt", c.dt, "RK4 time step");
  c.time = o.positive("lyapunov_time", c.time, "averaging time");
  c.transient = o.real("lyapunov_transient", c.transient, "time discarded before averaging", 0.0);
  c.renorm_every = o.integer("lyapunov_renorm_every", c.renorm_every, "steps between renormalisations", 1);
  c.d0 = o.positive("lyapunov_d0", c.d0, "size of the perturbation");
  c.norm = o.choice("lyapunov_norm", c.norm, {"all", "fast"}, "components measured: all, or the fast ones");
  if (read_output) {
    c.output = o.string("output", "", "metrics.json to write (none if empty)");
    if (!c.output.empty()) check_output_path("-output", c.output);
  }
  return c;
}

Metrics run_lyapunov(const systems::System& system, const LyapunovConfig& c) {
  const auto r = systems::largest_lyapunov(system, c.seed, c.dt, c.time, c.transient, c.renorm_every, c.d0, c.norm);
  Metrics m;
  m.set("lyapunov_exponent." + system.type(), r.exponent);
  m.set("lyapunov_exponent_stderr." + system.type(), r.standard_error);
  m.set("lyapunov_time." + system.type(), r.lyapunov_time);
  if (rank() == 0)
    std::printf("lyapunov: %s, norm on %s components: lambda = %.4f +- %.4f (Lyapunov time %.4f)\n",
                system.type().c_str(), c.norm.c_str(), r.exponent, r.standard_error, r.lyapunov_time);
  return m;
}

int lyapunov(Session&) {
  Options sys("system");
  auto system = systems::make_system(sys);
  Options opts("lyapunov");
  const auto cfg = read_lyapunov_options(opts, true);
  if (finish_options("usage: msrom lyapunov [-system_type T] [-lyapunov_time T] [-lyapunov_norm all|fast] [-output metrics.json]"))
    return 0;
  const auto m = run_lyapunov(*system, cfg);
  if (!cfg.output.empty() && rank() == 0) m.write(cfg.output);
  return 0;
}

}  // namespace msrom::cli
