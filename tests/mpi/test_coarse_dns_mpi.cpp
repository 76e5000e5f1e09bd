// The coarse-DNS baseline under MPI (run by ctest at 1, 2 and 4 ranks): the test trajectories spread over
// the ranks give bitwise the predictions and eps of one rank doing them all, for a periodic 1-D case whose
// coarse nodes are fine nodes (KdV, ARKIMEX) and a Dirichlet 2-D case whose are not (Burgers, Heun).
#include <catch2/catch.hpp>

#include <mpi.h>
#include <petscsys.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "msrom/analysis/fields.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/pde/coarse_dns.hpp"
#include "msrom/pde/pde.hpp"
#include "msrom/pde/simulate.hpp"

using namespace msrom;

TEST_CASE("Coarse DNS is bitwise identical for any rank count", "[Parallel][pde][coarse_dns]") {
  std::string base = "/tmp/msrom_cdns_mpi_" + std::to_string(getpid());
  broadcast(base);
  struct Case {
    std::string type, n;
    long coarse;
    std::int64_t steps, save_every;
  };
  for (const Case& c : {Case{"kdv", "200", 20, 60, 3}, Case{"burgers2d", "33", 8, 30, 5}}) {
    const auto p = pde::make_case(c.type, {{"system_n", c.n}});
    pde::FieldsConfig fc;
    fc.seed = 5;
    fc.train = 1, fc.validation = 1, fc.test = 3;  // 3 test trajectories: uneven over 2 and 4 ranks
    fc.noise = 1e-3;
    fc.dt = 1e-3;
    fc.steps = c.steps;
    fc.save_every = c.save_every;
    fc.progress = ProgressMode::never;
    fc.output = base + "_" + c.type + ".h5";
    pde::simulate_fields(p, fc, MPI_COMM_WORLD);
    const std::int64_t nt = c.steps / c.save_every + 1;

    pde::CoarseDnsConfig cfg;
    cfg.data = fc.output;
    cfg.nx = c.coarse;
    cfg.progress = ProgressMode::never;
    cfg.output_dir = base + "_" + c.type + "_all";
    const auto all = pde::CoarseDns(cfg, MPI_COMM_WORLD).run();
    CHECK(all.members == std::vector<long>{2, 3, 4});
    CHECK(all.nt == nt);
    CHECK(all.diverged == 0);
    REQUIRE(all.eps.size() == static_cast<std::size_t>(3 * nt));
    CHECK(all.eps_mean > 0);
    CHECK(all.eps_mean < 1);

    if (rank() == 0) {
      cfg.output_dir = base + "_" + c.type + "_one";
      const auto one = pde::CoarseDns(cfg, PETSC_COMM_SELF).run();
      CAPTURE(c.type);
      CHECK(one.eps == all.eps);
      CHECK(one.eps_mean == all.eps_mean);
      CHECK(one.eps_std == all.eps_std);
      const auto a = h5::File::open(base + "_" + c.type + "_all/rollouts.h5");
      const auto b = h5::File::open(cfg.output_dir + "/rollouts.h5");
      CHECK(a.read("/ensemble/fields/u") == b.read("/ensemble/fields/u"));
      CHECK(a.read("/ensemble/fields/u_coarse") == b.read("/ensemble/fields/u_coarse"));
      CHECK(a.read("/ensemble/status") == std::vector<double>{0, 0, 0});
      CHECK(h5::File::open(base + "_" + c.type + "_all/eps.h5").read("/eps") == all.eps);

      // eps(0) is the spline's error on the initial condition: recompute it from the data directly.
      const auto d = h5::File::open(fc.output);
      const auto fine = d.shape("/fields/u");
      const long fnx = static_cast<long>(fine[2]), fny = fine.size() == 4 ? static_cast<long>(fine[3]) : 1;
      const auto up = a.read("/ensemble/fields/u");
      const auto u = d.read("/fields/u");
      const std::size_t per = static_cast<std::size_t>(nt * fnx * fny);
      for (int q = 0; q < 3; ++q) {
        const double e0 = analysis::relative_error(&u[(2 + q) * per], &up[q * per], static_cast<std::size_t>(fnx * fny));
        CHECK(e0 == all.eps[static_cast<std::size_t>(q * nt)]);
      }
      if (c.type == "kdv") {
        // Periodic 200 -> 20: the coarse initial condition is every 10th observed node, bit for bit.
        const auto uc = a.read("/ensemble/fields/u_coarse");
        for (int q = 0; q < 3; ++q)
          for (long i = 0; i < 20; ++i) CHECK(uc[q * nt * 20 + i] == u[(2 + q) * per + i * 10]);
      } else {
        // Dirichlet: the coarse boundary nodes are 0 at every time.
        const auto uc = a.read("/ensemble/fields/u_coarse");
        for (std::int64_t k = 0; k < nt; ++k) {
          CHECK(uc[k * 64 + 0] == 0.0);
          CHECK(uc[k * 64 + 7 * 8 + 3] == 0.0);
        }
      }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {
      std::remove(fc.output.c_str());
      std::remove((base + "_" + c.type + ".xmf").c_str());
      for (const char* sub : {"_all", "_one"})
        for (const char* f : {"/rollouts.h5", "/eps.h5", "/metrics.json"})
          std::remove((base + "_" + c.type + sub + f).c_str());
      for (const char* sub : {"_all", "_one"}) rmdir((base + "_" + c.type + sub).c_str());
    }
  }
}
