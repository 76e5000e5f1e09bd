// msrom simulate -system_type cylinder_wake end to end (inputs/cylinder_wake_ci.yaml): the documented layout of
// data.h5 (/fields/u and /fields/v [1, nt, nx, ny], the window's grid, the time split), 1 and 2 ranks in
// agreement to the pressure solver's tolerance, and bad input (exit 2, one line naming the option, no output).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "harness.hpp"

namespace {

using msrom::it::kInputs;
using msrom::it::run;
using msrom::it::scratch;

}  // namespace

TEST_CASE("simulate cylinder_wake (ci): layout, 1 vs 2 ranks, bad input", "[integration][pde][cylinder_wake]") {
  const std::string one = scratch() + "/cyl1.h5", two = scratch() + "/cyl2.h5";
  const std::string args = "simulate -options_file_yaml " + kInputs + "cylinder_wake_ci.yaml -progress never ";
  auto r = run(args + "-output " + one);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto f = msrom::h5::File::open(one);
  // 40 x 20 window points, 11 snapshots (t = 0, 0.04, .., 0.4), one member.
  const msrom::h5::Shape shape{1, 11, 40, 20};
  CHECK(f.shape("/fields/u") == shape);
  CHECK(f.shape("/fields/v") == shape);
  CHECK(f.read("/time").back() == Approx(0.4));
  CHECK(f.read("/grid/x").front() == Approx(1.1375));
  CHECK(f.read("/grid/y").back() == Approx(0.7375));
  CHECK(f.read_string_attribute("/", "system") == "cylinder_wake");
  CHECK(f.read_double_attribute("/", "system_train_end") == 0.2);
  CHECK(f.read_double_attribute("/", "system_validation_end") == 0.3);
  CHECK(f.read_double_attribute("/", "system_re") == 160.0);
  CHECK(f.read_double_attribute("/fields/v", "noise") == 0.0);
  CHECK(f.read_string_attribute("/fields/u", "integrator") == "projection/ab2-quick");
  const auto u = f.read("/fields/u"), v = f.read("/fields/v");
  double umean = 0, vmax = 0;
  for (double x : u) umean += x / static_cast<double>(u.size());
  for (double x : v) vmax = std::max(vmax, std::abs(x));
  CHECK(umean > 0.3);  // a wake: slower than the stream on the axis, faster beside it
  CHECK(umean < 1.2);
  CHECK(vmax > 1e-3);  // the initial bump makes the wake asymmetric

  // Two ranks share the mesh: the same fields to the Poisson tolerance (GAMG's aggregates follow the ranks).
  r = run(args + "-pde_ranks_per_member 2 -output " + two, 2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto g = msrom::h5::File::open(two);
  const auto u2 = g.read("/fields/u"), v2 = g.read("/fields/v");
  REQUIRE(u2.size() == u.size());
  double du = 0;
  for (std::size_t q = 0; q < u.size(); ++q) du = std::max({du, std::abs(u[q] - u2[q]), std::abs(v[q] - v2[q])});
  CHECK(du < 1e-6);

  // Bad input: exit 2, one line naming the option, nothing left behind.
  for (const auto& [opt, culprit] : std::vector<std::pair<std::string, std::string>>{
           {"-system_window_x0 3.9", "-system_window_x0"},
           {"-ts_dt 0.05", "-ts_dt"},
           {"-system_walls sticky", "-system_walls"},
           {"-ts_type rk", "-ts_type"}}) {
    const std::string bad = scratch() + "/cyl_bad.h5";
    r = run(args + opt + " -output " + bad);
    INFO(opt << ": " << r.err);
    CHECK(r.code == 2);
    CHECK(r.err.find(culprit) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(access(bad.c_str(), F_OK) != 0);
  }
}
