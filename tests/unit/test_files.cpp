// HDF5 layer and small files: round trips, root attributes, no half-written file under a final name,
// input errors naming the file; metrics.json round trip.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"

namespace {
std::string tmp(const std::string& name) { return "/tmp/msrom_unit_" + std::to_string(getpid()) + "_" + name; }
bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }
}  // namespace

TEST_CASE("OutputFile writes datasets and attributes that File reads back", "[hdf5]") {
  const auto path = tmp("rt.h5");
  {
    msrom::h5::OutputFile out(path, MPI_COMM_SELF);
    out.write_root_attributes(17);
    auto d = out.create("/a/b/state", {2, 3, 1});
    const double v[6] = {1, 2, 3, 4, 5, 6};
    out.write_slab(d, {0, 0, 0}, {2, 3, 1}, v);
    out.write("/time", std::vector<double>{0.5, 1.0, 1.5});
    out.attribute("/a/b/state", "names", std::vector<std::string>{"x"});
    out.attribute("/time", "dt", 0.5);
    CHECK(exists(path + ".part"));
    CHECK_FALSE(exists(path));
    out.commit();
  }
  CHECK(exists(path));
  CHECK_FALSE(exists(path + ".part"));
  auto f = msrom::h5::File::open(path);
  CHECK(f.shape("/a/b/state") == msrom::h5::Shape{2, 3, 1});
  CHECK(f.read("/a/b/state") == std::vector<double>{1, 2, 3, 4, 5, 6});
  CHECK(f.read_slab("/a/b/state", {1, 1, 0}, {1, 2, 1}) == std::vector<double>{5, 6});
  CHECK(f.read_strings_attribute("/a/b/state", "names") == std::vector<std::string>{"x"});
  CHECK(f.read_double_attribute("/time", "dt") == 0.5);
  CHECK(f.read_double_attribute("/", "seed") == 17);
  CHECK(f.read_double_attribute("/", "nranks") == 1);
  for (const char* a : {"msrom_version", "git_sha", "command", "created", "options"}) {
    CAPTURE(a);
    CHECK(f.has_attribute("/", a));
  }
  CHECK_FALSE(f.exists("/a/c/missing"));
  CHECK_THROWS_WITH(f.read("/nope"), Catch::Contains(path) && Catch::Contains("no dataset /nope"));
  std::remove(path.c_str());
}

TEST_CASE("An uncommitted output leaves nothing behind", "[hdf5]") {
  const auto path = tmp("abandoned.h5");
  {
    msrom::h5::OutputFile out(path, MPI_COMM_SELF);
    out.write("/x", std::vector<double>{1});
  }
  CHECK_FALSE(exists(path));
  CHECK_FALSE(exists(path + ".part"));
}

TEST_CASE("Unreadable or non-HDF5 inputs are input errors naming the file", "[hdf5]") {
  CHECK_THROWS_AS(msrom::h5::File::open("/nonexistent/x.h5", "-data"), msrom::InputError);
  const auto junk = tmp("junk.h5");
  std::ofstream(junk) << "not hdf5";
  CHECK_THROWS_WITH(msrom::h5::File::open(junk, "-data"), Catch::Contains("-data") && Catch::Contains("not an HDF5"));
  std::remove(junk.c_str());
}

TEST_CASE("metrics.json round trip, sorted keys, null for non-finite", "[files]") {
  msrom::Metrics m;
  m.set("std.data", 0.9312345678901234);
  m.set("kl.langevin", 1e-5);
  m.set("bad.data", std::nan(""));
  const auto path = tmp("metrics.json");
  m.write(path);
  const auto r = msrom::Metrics::read(path);
  CHECK(r.get("std.data") == 0.9312345678901234);
  CHECK(r.get("kl.langevin") == 1e-5);
  CHECK(std::isnan(r.get("bad.data")));
  CHECK(m.json().find("\"bad.data\": null") < m.json().find("\"kl.langevin\""));
  std::remove(path.c_str());
  CHECK_THROWS_AS(msrom::check_output_path("-output", "/nonexistent_dir/x.h5"), msrom::InputError);
}
