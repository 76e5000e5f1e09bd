// msrom evaluate (analysis/evaluate.hpp): known answers on small data/rollouts files written to /tmp.
//   identical series -> KL 0, ACF error 0, residence ratio 1 (validation split and all data);
//   AR(1) series     -> tau_int = dt (1/2 + a/(1-a)), metrics move the right way, coarser saving compared;
//   square waves     -> exact well occupancies (hysteresis and -evaluate_wells intervals);
//   diverged members -> excluded and counted, their NaNs poison nothing;
//   bad input        -> InputError naming the option and file.
#include <catch2/catch.hpp>

#include <petscsys.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "msrom/analysis/evaluate.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"

using msrom::InputError;
using msrom::Metrics;
using msrom::analysis::EvaluateConfig;

namespace {

std::string tmp(const std::string& name) { return "/tmp/msrom_unit_" + std::to_string(getpid()) + "_ev_" + name; }

// [members, nt, dims] in row-major order.
struct Array {
  std::size_t members = 1, nt = 0, dims = 1;
  std::vector<double> v;
  Array(std::size_t m, std::size_t n, std::size_t d) : members(m), nt(n), dims(d), v(m * n * d, 0.0) {}
  double& at(std::size_t m, std::size_t i, std::size_t j = 0) { return v[(m * nt + i) * dims + j]; }
  double at(std::size_t m, std::size_t i, std::size_t j = 0) const { return v[(m * nt + i) * dims + j]; }
  // Samples [t0, nt) of every member.
  Array tail(std::size_t t0) const {
    Array a(members, nt - t0, dims);
    for (std::size_t m = 0; m < members; ++m)
      for (std::size_t i = t0; i < nt; ++i)
        for (std::size_t j = 0; j < dims; ++j) a.at(m, i - t0, j) = at(m, i, j);
    return a;
  }
  // Every k-th sample, starting at sample k - 1.
  Array every(std::size_t k) const {
    Array a(members, nt / k, dims);
    for (std::size_t m = 0; m < members; ++m)
      for (std::size_t i = 0; i < a.nt; ++i)
        for (std::size_t j = 0; j < dims; ++j) a.at(m, i, j) = at(m, (i + 1) * k - 1, j);
    return a;
  }
};

std::vector<double> times(std::size_t n, double dt) {
  std::vector<double> t(n);
  for (std::size_t i = 0; i < n; ++i) t[i] = static_cast<double>(i + 1) * dt;
  return t;
}

void write_data(const std::string& path, const Array& a, double dt) {
  msrom::h5::OutputFile out(path, MPI_COMM_SELF);
  out.write("/state", {a.members, a.nt, a.dims}, a.v.data());
  out.write("/time", times(a.nt, dt));
  out.commit();
}

void write_rollouts(const std::string& path, const Array& a, double dt, const std::string& model,
                    std::vector<double> status = {}) {
  if (status.empty()) status.assign(a.members, 0.0);
  msrom::h5::OutputFile out(path, MPI_COMM_SELF);
  out.write("/ensemble/state", {a.members, a.nt, a.dims}, a.v.data());
  out.write("/ensemble/status", status);
  out.write("/time", times(a.nt, dt));
  if (!model.empty()) out.attribute("/", "model", model);
  out.commit();
}

// x_{i+1} = a x_i + sqrt(1 - a^2) s xi: stationary N(0, s^2), rho(k) = a^k.
Array ar1(std::size_t members, std::size_t nt, double a, double s, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Array x(members, nt, 1);
  const double b = std::sqrt(1 - a * a) * s;
  for (std::size_t m = 0; m < members; ++m) {
    double v = s * g(rng);
    for (std::size_t i = 0; i < nt; ++i) x.at(m, i) = v = a * v + b * g(rng);
  }
  return x;
}

// A noisy telegraph-like signal with transitions: sign of a slow sine plus noise.
Array switching(std::size_t members, std::size_t nt, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g;
  Array x(members, nt, 1);
  for (std::size_t m = 0; m < members; ++m)
    for (std::size_t i = 0; i < nt; ++i)
      x.at(m, i) = (std::sin(0.013 * static_cast<double>(i) + static_cast<double>(m)) > 0 ? 1.0 : -1.0) + 0.3 * g(rng);
  return x;
}

EvaluateConfig config(const std::string& name) {
  EvaluateConfig c;
  c.data = tmp(name + "_data.h5");
  c.rollouts = tmp(name + "_rollouts.h5");
  c.output_dir = tmp(name + "_out");
  c.max_lag_time = 5;
  return c;
}

void clean(const std::string& name) {
  for (const auto& e : std::filesystem::directory_iterator("/tmp"))
    if (e.path().filename().string().rfind("msrom_unit_" + std::to_string(getpid()) + "_ev_" + name + "_", 0) == 0)
      std::filesystem::remove_all(e.path());
}

}  // namespace

TEST_CASE("evaluate: a model identical to the data has KL 0, ACF error 0, residence ratio 1", "[evaluate]") {
  auto cfg = config("same");
  const double dt = 0.01;
  Array data = switching(2, 10000, 1);
  // The first 80% (training part) differs: only the last 20% may be compared.
  for (std::size_t m = 0; m < 2; ++m)
    for (std::size_t i = 0; i < 8000; ++i) data.at(m, i) = 5 + 0.5 * data.at(m, i);
  write_data(cfg.data, data, dt);
  write_rollouts(cfg.rollouts, data.tail(8000), dt, "langevin");

  const Metrics m = msrom::analysis::evaluate(cfg);
  CHECK(m.get("kl.langevin") == Approx(0).margin(1e-12));
  CHECK(m.get("kl_reverse.langevin") == Approx(0).margin(1e-12));
  CHECK(m.get("kl_symmetric.langevin") == Approx(0).margin(1e-12));
  CHECK(m.get("acf_error.langevin") == Approx(0).margin(1e-12));
  CHECK(m.get("residence_time_ratio.langevin") == Approx(1).epsilon(1e-12));
  CHECK(m.get("tau_int.langevin") == Approx(m.get("tau_int.data")).epsilon(1e-12));
  CHECK(m.get("std.langevin") == Approx(m.get("std.data")).epsilon(1e-12));
  CHECK(m.get("occupancy_pos.langevin") == Approx(m.get("occupancy_pos.data")).epsilon(1e-12));
  CHECK(m.get("transitions.data") > 4);
  CHECK(m.get("samples.data") == 4000);
  CHECK(m.get("diverged.langevin") == 0);
  CHECK(m.get("members.langevin") == 2);
  // Files for the plot tool, metrics.json equal to the returned metrics.
  CHECK(std::filesystem::exists(cfg.output_dir + "/evaluate.h5"));
  CHECK(Metrics::read(cfg.output_dir + "/metrics.json").get("kl.langevin") == Approx(0).margin(1e-12));
  auto f = msrom::h5::File::open(cfg.output_dir + "/evaluate.h5");
  CHECK(f.shape("/pdf/grid") == msrom::h5::Shape{2048});
  CHECK(f.read("/pdf/data") == f.read("/pdf/langevin"));
  CHECK(f.read_strings_attribute("/", "models") == std::vector<std::string>{"data", "langevin"});
  // The table: one column each for data and the model.
  const auto table = msrom::analysis::evaluate_table(m);
  CHECK(table.find("data") != std::string::npos);
  CHECK(table.find("langevin") != std::string::npos);
  CHECK(table.find("residence_time_ratio") != std::string::npos);

  SECTION("all data: the training part counts too, so the model no longer matches") {
    cfg.all_data = true;
    const Metrics a = msrom::analysis::evaluate(cfg);
    CHECK(a.get("samples.data") == 20000);
    CHECK(a.get("kl.langevin") > 1);
    write_rollouts(cfg.rollouts, data, dt, "");  // no model attribute: named "model"
    const Metrics b = msrom::analysis::evaluate(cfg);
    CHECK(b.get("kl.model") == Approx(0).margin(1e-12));
    CHECK(b.get("acf_error.model") == Approx(0).margin(1e-12));
  }
  clean("same");
}

TEST_CASE("evaluate: AR(1) series give the analytic tau_int and metrics that move the right way", "[evaluate]") {
  auto cfg = config("ar1");
  cfg.all_data = true;
  const double dt = 0.01, a_data = 0.9, a_slow = 0.95;
  const Array data = ar1(4, 100000, a_data, 1.0, 11);
  write_data(cfg.data, data, dt);
  write_rollouts(cfg.rollouts, ar1(4, 100000, a_slow, 1.0, 12), dt, "slow");
  const auto same = tmp("ar1_same.h5"), wide = tmp("ar1_wide.h5"), coarse = tmp("ar1_coarse.h5");
  write_rollouts(same, ar1(4, 100000, a_data, 1.0, 13), dt, "ignored");
  write_rollouts(wide, ar1(4, 100000, a_data, 1.5, 14), dt, "");
  write_rollouts(coarse, data.every(10), 10 * dt, "");  // the data saved every 0.1
  cfg.baselines = {{"same", same}, {"wide", wide}, {"coarse", coarse}};

  const Metrics m = msrom::analysis::evaluate(cfg);
  auto tau = [](double a, double h) { return h * (0.5 + a / (1 - a)); };
  // tau_int sums rho up to its first zero, so the noisy tail adds a right-skewed error: for 4 x 1e5 samples
  // of a = 0.9, 300 trials gave a relative spread of 2.6% and a 99.5th percentile of +10%. Hence 12%.
  CHECK(m.get("tau_int.data") == Approx(tau(a_data, dt)).epsilon(0.12));
  CHECK(m.get("tau_int.same") == Approx(tau(a_data, dt)).epsilon(0.12));
  CHECK(m.get("tau_int.wide") == Approx(tau(a_data, dt)).epsilon(0.12));
  CHECK(m.get("tau_int.slow") == Approx(tau(a_slow, dt)).epsilon(0.12));
  // Saved every 10 samples, the series is AR(1) with a^10: tau_int sums its own (coarser) samples.
  CHECK(m.get("tau_int.coarse") == Approx(tau(std::pow(a_data, 10), 10 * dt)).epsilon(0.12));
  // The same process compares well; the ACF of the data saved coarsely is the data's ACF at those lags.
  CHECK(m.get("kl.same") < 0.005);
  CHECK(m.get("acf_error.same") < 0.02);
  CHECK(m.get("acf_error.coarse") < 0.005);
  CHECK(m.get("residence_time_ratio.same") == Approx(1).epsilon(0.1));
  CHECK(m.get("residence_time_ratio.coarse") > 1);  // short excursions between saved samples are missed
  // A slower process: longer residence, ACF off; the same marginal, so a small KL.
  CHECK(m.get("residence_time_ratio.slow") > 1.3);
  CHECK(m.get("acf_error.slow") > 0.05);  // RMS of 0.95^k - 0.9^k over k <= 166 (the data's first zero): 0.10
  CHECK(m.get("kl.slow") < 0.01);
  // A wider marginal: KL far larger, both ways: KL(N(0,1) || N(0,s^2)) = ln s + 1/(2 s^2) - 1/2 = 0.1277 and
  // the reverse -ln s + s^2/2 - 1/2 = 0.2195 for s = 1.5. The reverse one is biased up: beyond the data's
  // largest sample its KDE falls off faster than the Gaussian's tail, where the wide model still has mass.
  CHECK(m.get("kl.wide") == Approx(0.1277).epsilon(0.05));
  CHECK(m.get("kl_reverse.wide") > 0.2195 * 0.95);
  CHECK(m.get("kl_reverse.wide") < 0.2195 * 1.25);
  CHECK(m.get("kl.wide") > 10 * m.get("kl.same"));
  CHECK(m.get("std.wide") == Approx(1.5).epsilon(0.03));
  clean("ar1");
}

TEST_CASE("evaluate: square waves have exact well occupancies", "[evaluate]") {
  auto cfg = config("square");
  cfg.all_data = true;
  cfg.max_lag_time = 1;
  const double dt = 0.01;
  // Data, three levels per period of 100 samples: -1 (20), 0 (30), +1 (50).
  // Model, two levels per period: +1 (70), -1 (30).
  Array tri(2, 10000, 1), two(2, 10000, 1);
  for (std::size_t m = 0; m < 2; ++m)
    for (std::size_t i = 0; i < 10000; ++i) {
      const std::size_t p = i % 100;
      tri.at(m, i) = p < 20 ? -1.0 : (p < 50 ? 0.0 : 1.0);
      two.at(m, i) = p < 70 ? 1.0 : -1.0;
    }
  write_data(cfg.data, tri, dt);
  write_rollouts(cfg.rollouts, two, dt, "wave");

  SECTION("hysteresis wells: the zero level stays in the well entered last") {
    const Metrics m = msrom::analysis::evaluate(cfg);
    CHECK(m.get("occupancy_neg.data") == Approx(0.5).margin(1e-15));
    CHECK(m.get("occupancy_pos.data") == Approx(0.5).margin(1e-15));
    CHECK(m.get("occupancy_neg.wave") == Approx(0.3).margin(1e-15));
    CHECK(m.get("occupancy_pos.wave") == Approx(0.7).margin(1e-15));
    CHECK(m.get("transitions.data") == 2 * (2 * 100 - 1));
    CHECK(m.get("residence_time.data") == Approx(50 * dt).epsilon(1e-12));
    CHECK_FALSE(m.has("occupancy_0.data"));
  }
  SECTION("-evaluate_wells: fractions of the samples in each interval") {
    cfg.wells = {-0.8, 0.8};
    const Metrics m = msrom::analysis::evaluate(cfg);
    CHECK(m.get("occupancy_0.data") == Approx(0.2).margin(1e-15));
    CHECK(m.get("occupancy_1.data") == Approx(0.3).margin(1e-15));
    CHECK(m.get("occupancy_2.data") == Approx(0.5).margin(1e-15));
    CHECK(m.get("occupancy_0.wave") == Approx(0.3).margin(1e-15));
    CHECK(m.get("occupancy_1.wave") == 0);
    CHECK(m.get("occupancy_2.wave") == Approx(0.7).margin(1e-15));
    CHECK(msrom::analysis::evaluate_table(m).find("occupancy_2") != std::string::npos);
  }
  clean("square");
}

TEST_CASE("evaluate: diverged members are excluded and counted", "[evaluate]") {
  auto cfg = config("div");
  const double dt = 0.01;
  const Array data = switching(2, 10000, 3);
  write_data(cfg.data, data, dt);
  const Array valid = data.tail(8000);
  // Members 0 and 2 are the data's two members; member 1 diverged (NaN after some steps).
  Array roll(3, valid.nt, 1);
  for (std::size_t i = 0; i < valid.nt; ++i) {
    roll.at(0, i) = valid.at(0, i);
    roll.at(1, i) = i < 100 ? 0.5 : std::nan("");
    roll.at(2, i) = valid.at(1, i);
  }
  write_rollouts(cfg.rollouts, roll, dt, "langevin", {0, 1, 0});
  const Metrics m = msrom::analysis::evaluate(cfg);
  CHECK(m.get("diverged.langevin") == 1);
  CHECK(m.get("members.langevin") == 2);
  CHECK(m.get("kl.langevin") == Approx(0).margin(1e-12));
  CHECK(m.get("acf_error.langevin") == Approx(0).margin(1e-12));
  CHECK(m.get("residence_time_ratio.langevin") == Approx(1).epsilon(1e-12));
  CHECK(std::isfinite(m.get("mean.langevin")));

  SECTION("every member diverged: bad input naming the file") {
    write_rollouts(cfg.rollouts, roll, dt, "langevin", {1, 1, 1});
    CHECK_THROWS_WITH(msrom::analysis::evaluate(cfg),
                      Catch::Contains("-rollouts") && Catch::Contains(cfg.rollouts) &&
                          Catch::Contains("all 3 members diverged"));
  }
  SECTION("non-finite values in a member with status 0: bad input") {
    write_rollouts(cfg.rollouts, roll, dt, "langevin", {0, 0, 0});
    CHECK_THROWS_WITH(msrom::analysis::evaluate(cfg), Catch::Contains(cfg.rollouts) && Catch::Contains("non-finite"));
  }
  clean("div");
}

TEST_CASE("evaluate: bad input is an InputError naming the option and file", "[evaluate]") {
  auto cfg = config("bad");
  const double dt = 0.01;
  const Array data(2, 1000, 2);
  Array d2 = switching(2, 1000, 5);
  Array two(2, 1000, 2);
  for (std::size_t m = 0; m < 2; ++m)
    for (std::size_t i = 0; i < 1000; ++i) two.at(m, i, 0) = d2.at(m, i), two.at(m, i, 1) = -d2.at(m, i);
  write_data(cfg.data, two, dt);
  auto throws = [&](const std::string& a, const std::string& b) {
    CHECK_THROWS_AS(msrom::analysis::evaluate(cfg), InputError);
    CHECK_THROWS_WITH(msrom::analysis::evaluate(cfg), Catch::Contains(a) && Catch::Contains(b));
  };
  SECTION("more variables in the rollouts than in the data") {
    write_rollouts(cfg.rollouts, Array(2, 200, 3), dt, "m");
    throws("-rollouts", cfg.rollouts);
  }
  SECTION("missing rollouts file") { throws("-rollouts", cfg.rollouts); }
  SECTION("missing data file") {
    cfg.data = tmp("bad_missing.h5");
    throws("-data", cfg.data);
  }
  SECTION("missing baseline file") {
    write_rollouts(cfg.rollouts, d2, dt, "m");
    cfg.baselines = {{"node", tmp("bad_node.h5")}};
    throws("-rollouts_baselines", tmp("bad_node.h5"));
  }
  SECTION("/time of the rollouts does not match /ensemble/state") {
    {
      msrom::h5::OutputFile out(cfg.rollouts, MPI_COMM_SELF);
      out.write("/ensemble/state", {2, 1000, 1}, d2.v.data());
      out.write("/time", times(999, dt));
      out.commit();
    }
    throws(cfg.rollouts, "/time");
  }
  SECTION("variable out of range") {
    write_rollouts(cfg.rollouts, d2, dt, "m");
    cfg.variable = 2;
    throws("-evaluate_variable", cfg.data);
  }
  SECTION("too few validation samples") {
    write_rollouts(cfg.rollouts, d2, dt, "m");
    cfg.train_fraction = 0.99;
    throws("-evaluate_train_fraction", cfg.data);
  }
  SECTION("a model name taken twice") {
    write_rollouts(cfg.rollouts, d2, dt, "m");
    cfg.baselines = {{"m", cfg.rollouts}};
    throws("-rollouts_baselines", "'m'");
  }
  (void)data;
  clean("bad");
}

TEST_CASE("evaluate options: baselines, wells and their validation", "[evaluate]") {
  struct Set {
    std::string name;
    Set(const std::string& n, const char* v) : name(n) { PetscOptionsSetValue(nullptr, ("-" + n).c_str(), v); }
    ~Set() { PetscOptionsClearValue(nullptr, ("-" + name).c_str()); }
  };
  msrom::Options o("evaluate");
  {
    Set a("rollouts_baselines", "gauss=g.h5,node=/x/n.h5"), b("evaluate_wells", "-0.8,0.8");
    Set c("evaluate_all_data", "1");
    const auto cfg = msrom::analysis::read_evaluate_options(o, false);
    REQUIRE(cfg.baselines.size() == 2);
    CHECK(cfg.baselines[1] == std::make_pair(std::string("node"), std::string("/x/n.h5")));
    CHECK(cfg.wells == std::vector<double>{-0.8, 0.8});
    CHECK(cfg.all_data);
    CHECK(cfg.train_fraction == 0.8);
    CHECK(cfg.grid_points == 2048);
  }
  {
    Set a("rollouts_baselines", "gauss");
    CHECK_THROWS_WITH(msrom::analysis::read_evaluate_options(o, false), Catch::Contains("-rollouts_baselines"));
  }
  {
    Set a("evaluate_wells", "0.8,-0.8");
    CHECK_THROWS_WITH(msrom::analysis::read_evaluate_options(o, false), Catch::Contains("-evaluate_wells"));
  }
  {
    Set a("rollouts_baselines", "data=d.h5");
    CHECK_THROWS_WITH(msrom::analysis::read_evaluate_options(o, false), Catch::Contains("reserved"));
  }
}
