// msrom coarse-dns: the coarse-DNS baseline of Method B (pde/coarse_dns.hpp). The data set's PDE on a
// coarse grid from the subsampled initial condition, upsampled by cubic spline to the fine grid, scored by
// eps(t) = ||y - y_hat|| / ||y||: DIR/rollouts.h5 (/ensemble/fields/u), DIR/eps.h5, DIR/metrics.json
// (eps_mean.coarse_dns, eps_std.coarse_dns, ...) and DIR/figures/*.png (tools/plot_coarse_dns.py).
//
// Sample runs:
//   msrom coarse-dns -data runs/kdv/data.h5 -coarse_nx 20 -output runs/kdv/coarse_dns
//   mpiexec -n 2 msrom coarse-dns -data runs/burgers2d/data.h5 -coarse_nx 8 -output runs/burgers2d/coarse_dns
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/pde/coarse_dns.hpp"

namespace msrom::cli {

int coarse_dns(Session& session) {
  Options opts("coarse_dns");
  const auto cfg = pde::read_coarse_dns_options(opts);
  const bool figures = opts.flag("coarse_dns_figures", true, "draw PNG figures with tools/plot_coarse_dns.py");
  if (!session.positionals().empty()) throw InputError("unexpected argument '" + session.positionals()[0] + "'");
  // The coarse solver reads PETSc's -ts_* options before the check for unread ones (not with -help).
  std::unique_ptr<pde::CoarseDns> run;
  if (!help_requested()) run = std::make_unique<pde::CoarseDns>(cfg, MPI_COMM_WORLD);
  if (finish_options("usage: msrom coarse-dns -data data.h5 [-coarse_nx 20 (-coarse_ny 8)] [-coarse_dns_split test] "
                     "-output DIR"))
    return 0;
  const auto r = run->run();
  if (rank() == 0) {
    std::printf("coarse-dns: %s, %zu %s trajectories x %lld snapshots, %ld%s -> %ld%s points, %s: eps = %.4f +- %.4f "
                "(t0 %.4f, end %.4f%s) in %.2f s -> %s\n",
                r.system.c_str(), r.members.size(), cfg.split.c_str(), static_cast<long long>(r.nt), r.nx,
                r.ny > 1 ? (" x " + std::to_string(r.ny)).c_str() : "", r.fine_nx,
                r.fine_ny > 1 ? (" x " + std::to_string(r.fine_ny)).c_str() : "", r.integrator.c_str(), r.eps_mean,
                r.eps_std, r.eps_initial, r.eps_final,
                r.diverged ? (", " + std::to_string(r.diverged) + " diverged").c_str() : "", r.seconds,
                cfg.output_dir.c_str());
    std::fflush(stdout);
    if (figures) run_figures("plot_coarse_dns.py", "'" + cfg.output_dir + "'");
  }
  return 0;
}

}  // namespace msrom::cli
