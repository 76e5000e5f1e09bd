// Ensembles under MPI (run by ctest at 1, 2 and 4 ranks): the simulate output, written collectively by
// however many ranks, is bitwise identical to each member integrated alone on one rank.
#include <catch2/catch.hpp>

#include <mpi.h>
#include <petscsys.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "msrom/core/comm.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/random.hpp"
#include "msrom/systems/simulate.hpp"

using namespace msrom;

TEST_CASE("block_range covers every item once", "[Parallel]") {
  for (int n : {0, 1, 5, 7, 64})
    for (int p : {1, 2, 3, 4}) {
      std::int64_t next = 0;
      for (int r = 0; r < p; ++r) {
        const auto g = block_range(n, p, r);
        CHECK(g.begin == next);
        CHECK(g.count() >= n / p);
        CHECK(g.count() <= n / p + 1);
        next = g.end;
      }
      CHECK(next == n);
    }
}

TEST_CASE("Simulated ensemble is bitwise identical to serial per-member integration", "[Parallel]") {
  const int nranks = size();
  // One file name for all ranks (rank 0's pid).
  std::string path = "/tmp/msrom_mpi_" + std::to_string(getpid()) + ".h5";
  broadcast(path);

  PetscOptionsSetValue(nullptr, "-system_type", "coupled5d");
  auto system = systems::make_system(Options("system"));
  PetscOptionsClearValue(nullptr, "-system_type");
  systems::SimulateConfig cfg;
  cfg.members = 7;  // not divisible by 2 or 4: uneven blocks
  cfg.seed = 11;
  cfg.steps = 3000;
  cfg.save_every = 10;
  cfg.burn_in = 0.5;
  cfg.save_all = true;
  cfg.output = path;
  cfg.progress = ProgressMode::never;
  systems::simulate(*system, cfg, MPI_COMM_WORLD);

  const auto file = h5::File::open(path);
  const auto shape = file.shape("/state");
  REQUIRE(shape == h5::Shape{7, 300, 5});
  const auto state = file.read("/state");
  CHECK(file.read_double_attribute("/", "nranks") == nranks);
  CHECK(file.read_strings_attribute("/state", "names") == std::vector<std::string>{"x1", "x2", "y1", "y2", "y3"});

  // Every rank recomputes all members alone and compares bit for bit.
  long mismatches = 0;
  for (int m = 0; m < 7; ++m) {
    std::vector<double> u(5), out(300 * 5);
    system->initial_condition(Philox(11, static_cast<std::uint64_t>(m), Purpose::initial_condition), u.data());
    system->rk4(-0.5, 0, 1e-3, 1, 500, u.data(), nullptr, 0);
    system->rk4(0.0, 0, 1e-3, 300, 10, u.data(), out.data(), 5);
    for (std::size_t i = 0; i < out.size(); ++i) mismatches += out[i] != state[m * 1500 + i];
  }
  CAPTURE(nranks);
  CHECK(mismatches == 0);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::remove(path.c_str());
}

TEST_CASE("broadcast gives every rank root's string", "[Parallel]") {
  std::string s = rank() == 0 ? std::string(10000, 'q') + "end" : "other";
  broadcast(s);
  CHECK(s.size() == 10003);
  CHECK(s.substr(10000) == "end");
}
