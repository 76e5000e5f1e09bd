// The cylinder-wake solver distributed over MPI_COMM_WORLD (ctest runs it at 1, 2 and 4 ranks) against the
// same problem on PETSC_COMM_SELF: drag, lift and the divergence agree to the pressure solver's tolerance
// (not bitwise: GAMG's aggregates and CG's reductions follow the decomposition).
#include <catch2/catch.hpp>

#include <mpi.h>
#include <petscsys.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/random.hpp"
#include "msrom/pde/cylinder_wake.hpp"
#include "msrom/pde/pde.hpp"

using namespace msrom;

TEST_CASE("cylinder wake: 1 rank and the world agree to the Poisson tolerance", "[mpi][cylinder_wake]") {
  using S = std::vector<std::pair<std::string, std::string>>;
  // The geometry on 128 x 32 cells (D / h = 4), a 16 x 8 window; 40 steps from the perturbed start.
  const auto p = pde::make_case("cylinder_wake", S{{"system_n", "32"}, {"system_window_nx", "16"},
                                                   {"system_window_ny", "8"}, {"system_window_dx", "0.0625"},
                                                   {"system_ksp_rtol", "1e-10"}});
  auto run = [&](MPI_Comm comm) {
    pde::CylinderWakeSolver s(p, comm, 0.01);
    s.set_initial(p.draw(Philox(1, 0, Purpose::initial_condition)));
    s.start(0.0);
    s.advance(40);
    return std::make_pair(s.forces(), s.max_divergence());
  };
  const auto [fw, dw] = run(MPI_COMM_WORLD);
  const auto [fs, ds] = run(PETSC_COMM_SELF);
  REQUIRE(fw.size() == 40);
  REQUIRE(fs.size() == 40);
  double dcd = 0, dcl = 0;
  for (std::size_t k = 0; k < fw.size(); ++k) {
    dcd = std::max(dcd, std::abs(fw[k].cd - fs[k].cd));
    dcl = std::max(dcl, std::abs(fw[k].cl - fs[k].cl));
  }
  CHECK(dcd < 1e-6);
  CHECK(dcl < 1e-6);
  CHECK(dw < 1e-8);
  CHECK(ds < 1e-8);
}
