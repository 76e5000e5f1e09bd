// Field trajectory sets under MPI (run by ctest at 1, 2 and 4 ranks): whatever the number of ranks and the
// group size (-pde_ranks_per_member), the written fields are bitwise those of each member integrated alone
// on one rank (PETSC_COMM_SELF), and the observation noise is the member's own stream.
#include <catch2/catch.hpp>

#include <mpi.h>
#include <petscsys.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "msrom/core/comm.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"
#include "msrom/pde/pde.hpp"
#include "msrom/pde/simulate.hpp"
#include "msrom/pde/solver.hpp"

using namespace msrom;

namespace {

pde::Pde make(const std::string& type, const std::string& n) {
  PetscOptionsSetValue(nullptr, "-system_n", n.c_str());
  auto p = pde::make_case(type, Options("system"));
  PetscOptionsClearValue(nullptr, "-system_n");
  return p;
}

// Member m integrated alone on this rank: the nt snapshots, in the file's order.
std::vector<double> serial_member(const pde::Pde& p, const pde::FieldsConfig& cfg, long m, std::int64_t nt) {
  pde::Solver s(p, PETSC_COMM_SELF, cfg.dt);
  s.set_initial(p.draw(Philox(cfg.seed, static_cast<std::uint64_t>(m), Purpose::initial_condition)));
  s.start(0.0);
  const auto n = static_cast<std::size_t>(s.local_size());
  std::vector<double> out(static_cast<std::size_t>(nt) * n);
  for (std::int64_t k = 0; k < nt; ++k) {
    s.advance(k * cfg.save_every);
    s.local_values(&out[static_cast<std::size_t>(k) * n]);
  }
  return out;
}

}  // namespace

TEST_CASE("Field trajectories are bitwise identical for any rank count and group size", "[Parallel][pde]") {
  const int nranks = size();
  std::string base = "/tmp/msrom_pde_mpi_" + std::to_string(getpid());
  broadcast(base);

  struct Case {
    std::string type, n;
    double dt;
    std::int64_t steps, save_every;
  };
  // KdV: ARKIMEX (the linear solve by the redundant LU); Burgers 2-D: Heun on a 2-D decomposition.
  for (const Case& c : {Case{"kdv", "200", 1e-3, 40, 4}, Case{"burgers2d", "32", 1e-3, 30, 5}}) {
    const auto p = make(c.type, c.n);
    pde::FieldsConfig cfg;
    cfg.seed = 21;
    cfg.train = 3, cfg.validation = 1, cfg.test = 1;  // 5 members: uneven over 2 and 4 groups
    cfg.noise = 1e-2;
    cfg.clean = true;
    cfg.dt = c.dt;
    cfg.steps = c.steps;
    cfg.save_every = c.save_every;
    cfg.progress = ProgressMode::never;
    const std::int64_t nt = c.steps / c.save_every + 1;

    std::vector<std::vector<double>> files;
    for (int per : {1, nranks}) {  // members spread over single ranks; every member on all ranks
      cfg.ranks_per_member = per;
      cfg.output = base + "_" + c.type + "_" + std::to_string(per) + ".h5";
      const auto st = pde::simulate_fields(p, cfg, MPI_COMM_WORLD);
      CHECK(st.nt == nt);
      CHECK(st.groups == nranks / per);
      const auto f = h5::File::open(cfg.output);
      h5::Shape shape{5, static_cast<hsize_t>(nt), static_cast<hsize_t>(p.nx)};
      if (p.dim == 2) shape.push_back(static_cast<hsize_t>(p.ny));
      REQUIRE(f.shape("/fields/u") == shape);
      CHECK(f.read("/split") == std::vector<double>{0, 0, 0, 1, 2});
      CHECK(f.read_double_attribute("/", "nranks") == nranks);
      files.push_back(f.read("/fields/u"));
      const auto clean = f.read("/fields/u_clean");
      const auto noisy = files.back();

      // Against each member alone on one rank (rank 0 checks; the file is the same for everyone).
      if (rank() == 0) {
        const std::size_t per_member = static_cast<std::size_t>(nt * p.nx * p.ny);
        for (long m = 0; m < 5; ++m) {
          const auto ref = serial_member(p, cfg, m, nt);
          bool same = true;
          for (std::size_t i = 0; i < per_member; ++i) same = same && clean[m * per_member + i] == ref[i];
          CAPTURE(c.type, per, m);
          CHECK(same);
          // Noise: Gaussian (snapshot k, node) of the member's observation stream.
          const Philox rng(cfg.seed, static_cast<std::uint64_t>(m), Purpose::observation_noise);
          double worst = 0;
          for (std::int64_t k = 0; k < nt; k += 3)
            for (long q = 0; q < p.nx * p.ny; q += 7) {
              const std::size_t i = m * per_member + static_cast<std::size_t>(k * p.nx * p.ny + q);
              worst = std::max(worst, std::abs(noisy[i] - clean[i] - cfg.noise * rng.normal(static_cast<std::uint64_t>(k),
                                                                                              static_cast<std::uint64_t>(q))));
            }
          CHECK(worst < 1e-14);
        }
      }
      MPI_Barrier(MPI_COMM_WORLD);
      if (rank() == 0) {
        std::remove(cfg.output.c_str());
        std::remove((cfg.output.substr(0, cfg.output.size() - 3) + ".xmf").c_str());
      }
    }
    CHECK(files[0] == files[1]);
  }
}

TEST_CASE("Shallow water: the file is bitwise identical for any rank count and group size", "[Parallel][pde][shallow_water]") {
  // The dam break on 24^2 cells (each rank of a group of 4 owns 12^2, or 6 x 24), 3 members over the groups,
  // against each member integrated alone on one rank through the same factory.
  const int nranks = size();
  std::string base = "/tmp/msrom_sw_mpi_" + std::to_string(getpid());
  broadcast(base);
  const auto p = pde::make_case("shallow_water", std::vector<std::pair<std::string, std::string>>{{"system_n", "24"}});
  pde::FieldsConfig cfg;
  cfg.seed = 5;
  cfg.train = 2, cfg.validation = 1, cfg.test = 0;
  cfg.noise = 1e-2;
  cfg.clean = true;
  cfg.dt = 1e-2;
  cfg.steps = 200;  // t = 2: the front (speed ~1.2) has left through the outflow edges
  cfg.save_every = 20;
  cfg.progress = ProgressMode::never;
  const std::int64_t nt = cfg.steps / cfg.save_every + 1;
  const std::size_t per_member = static_cast<std::size_t>(nt * p.nx * p.ny);

  std::vector<int> groups{1};
  if (nranks >= 2) groups.push_back(2);
  if (nranks > 2) groups.push_back(nranks);
  std::vector<std::vector<double>> files;
  for (int per : groups) {
    cfg.ranks_per_member = per;
    cfg.output = base + "_" + std::to_string(per) + ".h5";
    const auto st = pde::simulate_fields(p, cfg, MPI_COMM_WORLD);
    CHECK(st.integrator == "ssp/rks3");
    CHECK(st.groups == (nranks + per - 1) / per);
    const auto f = h5::File::open(cfg.output);
    REQUIRE(f.shape("/fields/u") == h5::Shape{3, static_cast<hsize_t>(nt), 24, 24});
    CHECK(f.read_string_attribute("/grid/x", "boundary") == "outflow");
    CHECK(f.read("/grid/x")[0] == -2.5 + 2.5 / 24);
    files.push_back(f.read("/fields/u"));
    const auto clean = f.read("/fields/u_clean");
    if (rank() == 0) {
      for (long m = 0; m < 3; ++m) {
        auto s = pde::make_field_solver(p, PETSC_COMM_SELF, cfg.dt);
        s->set_initial(p.draw(Philox(cfg.seed, static_cast<std::uint64_t>(m), Purpose::initial_condition)));
        s->start(0.0);
        std::vector<double> snap(static_cast<std::size_t>(s->local_size()));
        bool same = true;
        double top = -1;
        for (std::int64_t k = 0; k < nt; ++k) {
          s->advance(k * cfg.save_every);
          s->local_values(snap.data());
          for (std::size_t q = 0; q < snap.size(); ++q) {
            same = same && clean[m * per_member + static_cast<std::size_t>(k) * snap.size() + q] == snap[q];
            top = std::max(top, snap[q]);
          }
        }
        CAPTURE(per, m);
        CHECK(same);
        CHECK(top == 1.0);  // h - 1: the dam's height 2 at t = 0
        // At t = 2 the front has reached the edges: the middle of the edge x = -2.5 is above the rest level.
        CHECK(snap[12] > 1e-3);
      }
    }
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank() == 0) {
      std::remove(cfg.output.c_str());
      std::remove((cfg.output.substr(0, cfg.output.size() - 3) + ".xmf").c_str());
    }
  }
  for (std::size_t k = 1; k < files.size(); ++k) CHECK(files[k] == files[0]);
}
