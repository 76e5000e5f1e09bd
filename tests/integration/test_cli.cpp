// The msrom program end to end on small inputs: outputs per the contracts, bitwise equality across rank
// counts, statistics against known answers, and the bad-input suite (exit 2, one line naming the culprit,
// no output left behind).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "msrom/analysis/fields.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/nn/kernel.hpp"
#include "msrom/vi/train.hpp"
#include "harness.hpp"

namespace {

using msrom::it::interrupted;
using msrom::it::kExe;
using msrom::it::kInputs;
using msrom::it::run;
using msrom::it::scratch;
using msrom::it::slurp;

bool exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

long lines(const std::string& s) {
  long n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A bad-input case: the msrom arguments, and what the one-line message must name (an option or a file).
struct BadInput {
  std::string args, culprit;
};

// Every case exits 2 with one line on stderr naming its culprit, and leaves none of `outputs` behind.
void check_bad_inputs(const std::vector<BadInput>& cases, const std::vector<std::string>& outputs) {
  for (const auto& c : cases) {
    const auto r = run(c.args);
    INFO("msrom " << c.args << "\nstderr: " << r.err);
    CHECK(r.code == 2);
    CHECK(lines(r.err) == 1);
    CHECK(r.err.find(c.culprit) != std::string::npos);
    for (const auto& o : outputs) CHECK_FALSE(exists(o));
  }
}

}  // namespace

TEST_CASE("simulate output is bitwise identical on 1, 2 and 4 ranks", "[integration][Parallel]") {
  std::vector<std::vector<double>> states;
  for (int np : {1, 2, 4}) {
    const std::string out = scratch() + "/sim_np" + std::to_string(np) + ".h5";
    const auto r = run("simulate -options_file_yaml " + kInputs + "bistable_ci.yaml -members 5 -ts_max_time 50 -output " + out, np);
    INFO(r.err);
    REQUIRE(r.code == 0);
    auto f = msrom::h5::File::open(out);
    CHECK(f.shape("/state") == msrom::h5::Shape{5, 5000, 1});
    CHECK(f.shape("/time") == msrom::h5::Shape{5000});
    CHECK(f.read_double_attribute("/", "nranks") == np);
    CHECK(f.read_double_attribute("/", "seed") == 7);
    CHECK(f.read_string_attribute("/", "system") == "bistable");
    CHECK(f.read_strings_attribute("/state", "names") == std::vector<std::string>{"x"});
    CHECK(f.read_string_attribute("/", "options").find("-system_type bistable") != std::string::npos);
    for (const char* a : {"msrom_version", "git_sha", "command", "created"}) CHECK(f.has_attribute("/", a));
    states.push_back(f.read("/state"));
  }
  CHECK(states[0] == states[1]);
  CHECK(states[0] == states[2]);
}

TEST_CASE("stats of a sine wave: exact moments, transitions and residence times", "[integration]") {
  // x = 2 sin(2 pi t / 40), dt = 0.01, t in [0, 4000): mean 0, std 2/sqrt(2), kurtosis 3/2; with the
  // threshold 0.7 a transition every half period, so residence time 20 and 199 transitions.
  const std::string data = scratch() + "/sine.h5";
  const std::size_t n = 400000;
  std::vector<double> x(n), t(n);
  for (std::size_t i = 0; i < n; ++i) {
    t[i] = 0.01 * static_cast<double>(i);
    x[i] = 2 * std::sin(2 * M_PI * t[i] / 40);
  }
  {
    msrom::h5::OutputFile f(data, MPI_COMM_SELF);
    f.write("/time", t);
    f.write("/state", {1, n, 1}, x.data());
    f.commit();
  }
  const auto r = run("stats " + data + " -output " + scratch() + "/sine_stats -stats_max_lag 30");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto m = msrom::Metrics::read(scratch() + "/sine_stats/metrics.json");
  CHECK(m.get("mean.data") == Approx(0).margin(1e-9));
  CHECK(m.get("std.data") == Approx(std::sqrt(2.0)).epsilon(1e-6));
  CHECK(m.get("kurtosis.data") == Approx(1.5).epsilon(1e-5));
  CHECK(m.get("transitions.data") == 199);
  CHECK(m.get("residence_time.data") == Approx(20).epsilon(1e-3));
  // Windowed definition (window 8 < half period): every zero crossing after the first full window.
  CHECK(m.get("residence_time_windowed.data") == Approx(20).epsilon(1e-3));
  CHECK(exists(scratch() + "/sine_stats/stats.h5"));
}

TEST_CASE("pipeline on the ci bistable case matches the reference statistics", "[integration]") {
  // Reference (method doc, independent implementation, T = 1e5): std 0.93, kurtosis 1.37, mean residence
  // time 24. The ci case has 4 x 2000 time units and ~340 transitions: the residence time's standard error
  // is ~24/sqrt(340) = 5%, hence a 15% band; std and kurtosis are tighter.
  const std::string dir = scratch() + "/pipe";
  const auto r = run("pipeline -options_file_yaml " + kInputs + "bistable_ci.yaml -output " + dir, 2);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto m = msrom::Metrics::read(dir + "/metrics.json");
  CHECK(m.get("std.data") == Approx(0.93).epsilon(0.03));
  CHECK(m.get("kurtosis.data") == Approx(1.37).epsilon(0.05));
  CHECK(m.get("residence_time.data") == Approx(24).epsilon(0.15));
  CHECK(m.get("lyapunov_exponent.bistable") == Approx(3.62).epsilon(0.08));
  CHECK(exists(dir + "/data.h5"));
  CHECK(exists(dir + "/stats.h5"));
  CHECK(exists(dir + "/figures/pdf.png"));
  // learn-score stage: model.h5 per the contract. The ci validation split holds only ~160 correlation
  // times (tau_int ~ 10 in 4 x 400 time units), so its own PDF is uncertain by a few 1e-2 in KL; the paper-size
  // acceptance figure (KL < 0.01, measured 0.003) is in docs/score.md.
  CHECK(m.get("kl.score_density") < 0.06);
  CHECK(m.get("kgmm_clusters") > 150);
  auto model = msrom::h5::File::open(dir + "/model.h5");
  const auto k = static_cast<hsize_t>(m.get("kgmm_clusters"));
  CHECK(model.shape("/score/centroids") == msrom::h5::Shape{k, 1});
  CHECK(model.shape("/score/values") == msrom::h5::Shape{k, 1});
  CHECK(model.shape("/score/divergence") == msrom::h5::Shape{k});
  CHECK(model.shape("/score/counts") == msrom::h5::Shape{k});
  CHECK(model.read_double_attribute("/score/values", "sigma") == 0.05);
  CHECK(model.read("/normalization/std")[0] == Approx(m.get("std.data")).epsilon(0.05));
  CHECK(model.exists("/score/mlp/params"));
  // learn-drift, ensemble, evaluate: the Langevin model against the data. The ci data are short (see
  // above), so the bounds are loose; the paper-size acceptance figures are in docs/langevin.md.
  CHECK(model.exists("/langevin/Phi"));
  CHECK(model.read_string_attribute("/langevin/Phi", "source") == "acf");
  CHECK(m.get("phi_acf") > 0);
  CHECK(m.get("kl.langevin") < 0.15);
  CHECK(m.get("residence_time_ratio.langevin") == Approx(1).margin(0.35));
  CHECK(m.get("diverged.langevin") == 0);
  CHECK(exists(dir + "/rollouts.h5"));
  CHECK(exists(dir + "/figures/pdf_overlay.png"));
  CHECK(exists(dir + "/figures/acf_overlay.png"));
}

TEST_CASE("learn-score: dsm behind the same interface; kgmm agrees across rank counts", "[integration]") {
  const std::string data = scratch() + "/pipe/data.h5";
  REQUIRE(exists(data));
  const auto dsm = run("learn-score " + data + " -score_method dsm -score_dsm_samples 20000 -score_dsm_epochs 20 -output " +
                       scratch() + "/dsm.h5");
  INFO(dsm.out << dsm.err);
  REQUIRE(dsm.code == 0);
  CHECK(dsm.out.find("kl.score_density") != std::string::npos);
  std::vector<std::vector<double>> values;
  for (int np : {1, 2}) {
    const std::string out = scratch() + "/kgmm_np" + std::to_string(np) + ".h5";
    const auto r = run("learn-score -data " + data + " -score_clusters 100 -score_epochs 100 -output " + out, np);
    INFO(r.err);
    REQUIRE(r.code == 0);
    values.push_back(msrom::h5::File::open(out).read("/score/values"));
  }
  REQUIRE(values[0].size() == values[1].size());
  double diff = 0;
  for (std::size_t i = 0; i < values[0].size(); ++i) diff = std::max(diff, std::abs(values[0][i] - values[1][i]));
  CHECK(diff < 1e-9);  // the all-reduced cluster sums add in another order; nothing else differs
}

TEST_CASE("ensemble of the learned MLP-drift model: bitwise identical on 1, 2 and 4 ranks for every kernel",
          "[integration][Parallel]") {
  // The pipeline's model (Phi s(x) with the score MLP): 13 members split unevenly over the ranks.
  const std::string model = scratch() + "/pipe/model.h5";
  REQUIRE(exists(model));
  const std::string base = "ensemble -model " + model + " -members 13 -ts_dt 1e-3 -ts_max_steps 400 -ensemble_burn_in 0 "
                           "-ensemble_save_every 10 -ensemble_stats_every 10 -ensemble_max_lag 0.1 -seed 4 ";
  std::vector<std::vector<double>> simd;
  std::vector<double> generic_state;
  for (auto k : {msrom::nn::Kernel::generic, msrom::nn::Kernel::avx2, msrom::nn::Kernel::avx512}) {
    if (!msrom::nn::available(k)) continue;
    const std::string name = msrom::nn::to_string(k);
    CAPTURE(name);
    std::vector<double> first;
    for (int np : {1, 2, 4}) {
      const std::string out = scratch() + "/mlp_" + name + "_np" + std::to_string(np) + ".h5";
      const auto r = run(base + "-nn_kernel " + name + " -output " + out, np);
      INFO(r.err);
      REQUIRE(r.code == 0);
      const auto state = msrom::h5::File::open(out).read("/ensemble/state");
      if (np == 1) first = state;
      else CHECK(state == first);
    }
    if (k == msrom::nn::Kernel::generic) generic_state = first;
    else simd.push_back(first);
  }
  // The SIMD kernels agree with each other bit for bit, and with the generic one to rounding.
  for (const auto& s : simd) {
    CHECK(s == simd.front());
    REQUIRE(s.size() == generic_state.size());
    double diff = 0;
    for (std::size_t i = 0; i < s.size(); ++i) diff = std::max(diff, std::abs(s[i] - generic_state[i]));
    CHECK(diff < 1e-9);
    CHECK(diff > 0);  // different arithmetic: if this fails, -nn_kernel is not reaching the network
  }
  // A kernel this CPU lacks is refused by name.
  for (auto k : {msrom::nn::Kernel::avx2, msrom::nn::Kernel::avx512})
    if (!msrom::nn::available(k)) {
      const auto r = run(base + "-nn_kernel " + msrom::nn::to_string(k) + " -output " + scratch() + "/mlp_no.h5");
      CHECK(r.code == 2);
      CHECK(r.err.find("-nn_kernel") != std::string::npos);
    }
}

TEST_CASE("-help lists every option with its default", "[integration]") {
  const auto r = run("pipeline -help");
  CHECK(r.code == 0);
  for (const char* opt : {"-ts_dt", "-members", "-system_type", "-stats_threshold", "-pipeline_stages", "-lyapunov_norm"})
    CHECK(r.out.find(opt) != std::string::npos);
  CHECK(run("").code == 2);
  CHECK(run("-help").code == 0);
  // Every command answers -help with exit 0 and its options, whatever else is missing.
  for (const char* cmd : {"simulate", "stats", "lyapunov", "learn-score", "learn-drift", "ensemble", "evaluate"}) {
    const auto h = run(std::string(cmd) + " -help");
    CAPTURE(cmd, h.err);
    CHECK(h.code == 0);
    CHECK(h.out.find("[default: ") != std::string::npos);
  }
}

TEST_CASE("Bad input: exit 2, one line naming the culprit, no output", "[integration][bad_input]") {
  const std::string out = scratch() + "/bad.h5";
  const std::string junk = scratch() + "/junk.h5";
  std::ofstream(junk) << "this is not HDF5";
  const std::string bad_yaml = scratch() + "/bad.yaml";
  std::ofstream(bad_yaml) << "system: [\n  type: bistable\n";
  const std::string typo_yaml = scratch() + "/typo.yaml";
  std::ofstream(typo_yaml) << "system:\n  type: bistable\n  sigmaa: 1\n";
  const std::string sim = "simulate -ts_max_time 1 -output " + out + " ";
  const std::string pipe = scratch() + "/pipe/";  // the ci pipeline's data, model and rollouts (an earlier case)
  const std::vector<BadInput> cases = {
      {sim + "-system_type nope", "-system_type"},
      {sim + "-ts_dt 0", "-ts_dt"},
      {sim + "-ts_dt -1e-3", "-ts_dt"},
      {sim + "-ts_dt abc", "-ts_dt"},
      {sim + "-members two", "-members"},
      {sim + "-members 0", "-members"},
      {sim + "-simulate_save_every 2.5", "-simulate_save_every"},
      {sim + "-system_eps 0", "-system_eps"},
      {sim + "-simulate_save none", "-simulate_save"},
      {sim + "-foo 1", "-foo"},
      {sim + "-options_file_yaml " + scratch() + "/missing.yaml", "-options_file_yaml"},
      {sim + "-options_file_yaml " + bad_yaml, "-options_file_yaml"},
      {sim + "-options_file_yaml " + typo_yaml, "-system_sigmaa"},
      {"simulate -ts_max_time 1 -output /nonexistent_dir/x.h5", "-output"},
      {"simulate -ts_max_time 1 -output " + scratch(), "-output"},
      {"simulate -ts_max_time 1e-4 -output " + out, "-ts_max_time"},
      {"stats -data " + scratch() + "/missing.h5 -output " + out, "-data"},
      {"stats -data " + junk + " -output " + out, "-data"},
      {"stats -data " + scratch() + "/sim_np1.h5 -dataset /nope -output " + out, "/nope"},
      {"stats -data " + scratch() + "/sim_np1.h5 -stats_variable 3 -output " + out, "-stats_variable"},
      {"stats", "-data"},
      {"lyapunov -lyapunov_time 0.01", "-lyapunov_time"},
      {"learn-score -output " + out, "-data"},
      {"learn-score -data " + junk + " -output " + out, "-data"},
      {"learn-score -data " + scratch() + "/sim_np1.h5 -score_method magic -output " + out, "-score_method"},
      {"learn-score -data " + scratch() + "/sim_np1.h5 -score_clusters 100000 -output " + out, "-score_clusters"},
      {"learn-score -data " + scratch() + "/sim_np1.h5 -score_hidden 10,x -output " + out, "-score_hidden"},
      {"pipeline -pipeline_stages simulate,bogus -output " + out, "-pipeline_stages"},
      {"ensemble -model double_well -ts_max_steps 10 -nn_kernel sse9 -output " + out, "-nn_kernel"},
      {"learn-score -data " + pipe + "data.h5 -score_clock_scale 0 -output " + out, "-score_clock_scale"},
      {"learn-score -data " + pipe + "data.h5 -score_symmetry sideways -output " + out, "-score_symmetry"},
      {"learn-score -data " + pipe + "data.h5 -score_lr_schedule warm -output " + out, "-score_lr_schedule"},
      {"learn-drift -data " + pipe + "data.h5", "-model"},
      {"learn-drift -data " + pipe + "data.h5 -model " + junk, "-model"},
      {"learn-drift -data " + pipe + "data.h5 -model " + pipe + "model.h5 -langevin_phi magic", "-langevin_phi"},
      {"learn-drift -data " + pipe + "data.h5 -model " + pipe + "model.h5 -langevin_generator_lag 0",
       "-langevin_generator_lag"},
      {"learn-drift -data " + pipe + "data.h5 -model " + pipe + "model.h5 -langevin_generator_v maybe",
       "-langevin_generator_v"},
      {"ensemble -model " + scratch() + "/missing.h5 -output " + out, "-model"},
      {"ensemble -model " + junk + " -output " + out, "-model"},
      {"ensemble -model " + pipe + "data.h5 -output " + out, "-model"},  // a data file, not a model
      {"ensemble -model double_well -members 0 -output " + out, "-members"},
      {"ensemble -model double_well -ts_dt -1 -output " + out, "-ts_dt"},
      {"ensemble -model " + pipe + "model.h5 -langevin_phi magic -output " + out, "-langevin_phi"},
      {"evaluate -data " + pipe + "data.h5 -output " + out, "-rollouts"},
      {"evaluate -data " + pipe + "data.h5 -rollouts " + junk + " -output " + out, "-rollouts"},
      {"evaluate -data " + pipe + "data.h5 -rollouts " + pipe + "rollouts.h5 -evaluate_wells 1,-1 -output " + out,
       "-evaluate_wells"},
      {"frobnicate", "frobnicate"},
  };
  check_bad_inputs(cases, {out, out + ".part"});
  // Under MPI every rank sees the same input: exit 2, msrom's line once (mpiexec adds its own banner).
  const auto r = run(sim + "-ts_dt 0", 2);
  CHECK(r.code == 2);
  CHECK(r.err.find("msrom simulate: -ts_dt: must be > 0") != std::string::npos);
  CHECK(r.err.find("-ts_dt", r.err.find("-ts_dt") + 1) == std::string::npos);
}

TEST_CASE("ensemble: a signal checkpoints and stops; -restart finishes bit for bit; kill -9 keeps the checkpoint",
          "[integration][restart]") {
  // ~2 s of work, so that a signal after 0.7 s lands mid-run.
  const std::string base = "ensemble -model double_well -ensemble_phi 0.7 -members 200 -ts_dt 0.01 -ts_max_time 4000 "
                           "-ensemble_save_every 500 -ensemble_stats_every 10 -ensemble_max_lag 1 -seed 5 ";
  const std::string ref = scratch() + "/ens_ref.h5";
  REQUIRE(run(base + "-output " + ref).code == 0);
  const auto want_state = msrom::h5::File::open(ref).read("/ensemble/state");
  const auto want_hist = msrom::h5::File::open(ref).read("/ensemble/stats/histogram");
  const auto want_acf = msrom::h5::File::open(ref).read("/ensemble/stats/acf/rho");

  auto check_same = [&](const std::string& out) {
    const auto f = msrom::h5::File::open(out);
    CHECK(f.read("/ensemble/state") == want_state);
    CHECK(f.read("/ensemble/stats/histogram") == want_hist);
    CHECK(f.read("/ensemble/stats/acf/rho") == want_acf);
    CHECK_FALSE(exists(out + ".ckpt"));  // removed when the run completes
    CHECK_FALSE(exists(out + ".part"));
  };
  SECTION("SIGTERM, one rank") {
    const std::string out = scratch() + "/ens_term.h5";
    CHECK(interrupted(base + "-output " + out, out + ".part", "TERM", "0.3") == 3);
    CHECK(exists(out + ".ckpt"));
    CHECK_FALSE(exists(out));
    // A restart with other options refuses the checkpoint (and keeps it).
    const auto wrong = run(base + "-ts_dt 0.02 -restart -output " + out);
    CHECK(wrong.code == 2);
    CHECK(wrong.err.find("-ts_dt") != std::string::npos);
    CHECK(exists(out + ".ckpt"));
    const auto r = run(base + "-restart -output " + out);
    INFO(r.err);
    REQUIRE(r.code == 0);
    check_same(out);
  }
  SECTION("SIGUSR1 through mpiexec, two ranks (the same ensemble on 2 ranks equals the 1-rank run)") {
    const std::string out = scratch() + "/ens_usr1.h5";
    CHECK(interrupted(base + "-output " + out, out + ".part", "USR1", "0.3", 2) == 3);
    const auto r = run(base + "-restart -output " + out, 2);
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto f = msrom::h5::File::open(out);
    CHECK(f.read("/ensemble/state") == want_state);
  }
  SECTION("kill -9 between periodic checkpoints") {
    const std::string out = scratch() + "/ens_kill.h5";
    CHECK(interrupted(base + "-ensemble_checkpoint_every 20000 -output " + out, out + ".ckpt", "9", "0.2") == 137);
    REQUIRE(exists(out + ".ckpt"));
    CHECK_FALSE(exists(out));
    const auto r = run(base + "-ensemble_checkpoint_every 20000 -restart -output " + out);
    INFO(r.err);
    REQUIRE(r.code == 0);
    check_same(out);
  }
}

TEST_CASE("Clock-augmented Langevin model of the tristable system: 3-D score, x evolved with the true clock",
          "[integration][clock]") {
  const std::string dir = scratch() + "/tri";
  msrom::make_output_directory("test", dir);
  REQUIRE(run("simulate -options_file_yaml " + kInputs + "tristable_ci.yaml -ts_max_time 3000 -simulate_save_every 100 "
              "-output " + dir + "/data.h5").code == 0);
  auto r = run("learn-score -data " + dir + "/data.h5 -score_clock_frequency 0.002 -score_clusters 200 "
               "-score_epochs 300 -output " + dir + "/model.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto model = msrom::h5::File::open(dir + "/model.h5");
  CHECK(model.read("/normalization/mean").size() == 3);  // [sin wt, cos wt, x]
  CHECK(model.read_double_attribute("/score/mlp", "clock_frequency") == 0.002);
  r = run("learn-drift -data " + dir + "/data.h5 -model " + dir + "/model.h5 -langevin_fit_members 8 "
          "-langevin_fit_time 500 -langevin_fit_iterations 2");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto updated = msrom::h5::File::open(dir + "/model.h5");
  CHECK(updated.shape("/langevin/Phi") == msrom::h5::Shape{1, 1});  // x only is evolved
  CHECK(updated.read_double_attribute("/langevin/Phi_acf", "iterations") == 2);
  r = run("ensemble -model " + dir + "/model.h5 -members 4 -ts_dt 5e-3 -ts_max_time 500 -ensemble_save_every 20 "
          "-output " + dir + "/rollouts.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto ro = msrom::h5::File::open(dir + "/rollouts.h5");
  CHECK(ro.shape("/ensemble/state") == msrom::h5::Shape{4, 5000, 1});
  // No member diverges, and the members visit both outer wells (x ~ -1.6 and +1.6). (At this ci size the
  // MLP's extrapolation beyond the clustered range is weak: excursions reach |x| ~ 4.)
  for (double s : ro.read("/ensemble/status")) CHECK(s == 0);
  double xmin = 0, xmax = 0;
  for (double x : ro.read("/ensemble/state")) xmin = std::min(xmin, x), xmax = std::max(xmax, x);
  CHECK(xmin < -1.2);
  CHECK(xmax > 1.2);
}

TEST_CASE("simulate a field case: KdV ci input gives /fields/u, grid, time, split and an XDMF sidecar",
          "[integration][pde]") {
  const std::string out = scratch() + "/kdv.h5";
  const auto r = run("simulate -options_file_yaml " + kInputs + "kdv_ci.yaml -output " + out);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto f = msrom::h5::File::open(out);
  CHECK(f.shape("/fields/u") == msrom::h5::Shape{5, 101, 1000});
  CHECK(f.shape("/grid/x") == msrom::h5::Shape{1000});
  CHECK_FALSE(f.exists("/grid/y"));
  const auto t = f.read("/time"), x = f.read("/grid/x");
  REQUIRE(t.size() == 101);
  CHECK(t[0] == 0.0);
  CHECK(t[100] == Approx(0.1).epsilon(1e-12));
  CHECK(x[1] == Approx(0.01).epsilon(1e-12));
  CHECK(f.read("/split") == std::vector<double>{0, 0, 0, 1, 2});
  CHECK(f.read_strings_attribute("/split", "names") == std::vector<std::string>{"train", "validation", "test"});
  CHECK(f.read_string_attribute("/", "system") == "kdv");
  CHECK(f.read_double_attribute("/", "system_dispersion") == 0.02);
  CHECK(f.read_double_attribute("/fields/u", "noise") == 0.01);
  CHECK(f.read_string_attribute("/fields/u", "integrator") == "arkimex/3");
  for (const char* a : {"msrom_version", "git_sha", "command", "created", "options", "seed", "nranks"})
    CHECK(f.has_attribute("/", a));
  // The soliton train stays bounded; the noise is there (1e-2) but small.
  double umax = 0;
  for (double v : f.read("/fields/u")) umax = std::max(umax, std::abs(v));
  CHECK(umax > 1.5);
  CHECK(umax < 3.0);
  const std::string xmf = slurp(scratch() + "/kdv.xmf");
  CHECK(xmf.find("kdv.h5:/fields/u") != std::string::npos);
  CHECK(xmf.find("Dimensions=\"5 101 1000\"") != std::string::npos);
  CHECK_FALSE(exists(out + ".part"));

  // Same file from 2 ranks sharing each mesh (-pde_ranks_per_member 2): bitwise equal fields.
  const std::string out2 = scratch() + "/kdv_np2.h5";
  const auto r2 = run("simulate -options_file_yaml " + kInputs + "kdv_ci.yaml -pde_ranks_per_member 2 -output " + out2, 2);
  INFO(r2.err);
  REQUIRE(r2.code == 0);
  CHECK(msrom::h5::File::open(out2).read("/fields/u") == f.read("/fields/u"));

  // 2-D: Burgers on its ci input.
  const std::string b2 = scratch() + "/b2.h5";
  const auto rb = run("simulate -options_file_yaml " + kInputs + "burgers2d_ci.yaml -output " + b2);
  INFO(rb.err);
  REQUIRE(rb.code == 0);
  const auto g = msrom::h5::File::open(b2);
  CHECK(g.shape("/fields/u") == msrom::h5::Shape{4, 51, 64, 64});
  CHECK(g.shape("/grid/y") == msrom::h5::Shape{64});
  CHECK(exists(scratch() + "/b2.xmf"));
}

TEST_CASE("simulate a field case: bad input exits 2 with one line naming the culprit", "[integration][pde][bad_input]") {
  const std::string out = scratch() + "/badpde.h5";
  const std::string sim = "simulate -system_type kdv -ts_max_time 0.01 -output " + out + " ";
  const std::vector<BadInput> cases = {
      {sim + "-simulate_train -1", "-simulate_train"},
      {sim + "-simulate_train 0 -simulate_validation 0 -simulate_test 0", "-simulate_train"},
      {sim + "-simulate_noise -0.1", "-simulate_noise"},
      {sim + "-pde_ranks_per_member 0", "-pde_ranks_per_member"},
      {sim + "-system_n 4", "-system_n"},
      {sim + "-system_stencil upwind", "-system_stencil"},
      {sim + "-ts_type bogus", "-ts_type"},
      {sim + "-ts_dt 0", "-ts_dt"},
      {sim + "-ts_max_time 1e-4", "-ts_max_time"},
      {sim + "-system_nu 1", "-system_nu"},  // not a parameter of kdv: nothing reads it
  };
  check_bad_inputs(cases, {out, out + ".part"});
}

TEST_CASE("coarse-dns on the KdV ci data: rollouts, per-time eps, metrics.json and figures", "[integration][pde][coarse_dns]") {
  const std::string data = scratch() + "/cdns_kdv.h5", dir = scratch() + "/cdns_kdv";
  const auto s = run("simulate -options_file_yaml " + kInputs + "kdv_ci.yaml -progress never -output " + data);
  INFO(s.err);
  REQUIRE(s.code == 0);
  const auto r = run("coarse-dns -data " + data + " -coarse_nx 20 -progress never -output " + dir);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto ro = msrom::h5::File::open(dir + "/rollouts.h5");
  CHECK(ro.shape("/ensemble/fields/u") == msrom::h5::Shape{1, 101, 1000});
  CHECK(ro.shape("/ensemble/fields/u_coarse") == msrom::h5::Shape{1, 101, 20});
  CHECK(ro.read("/ensemble/members") == std::vector<double>{4});  // the one test trajectory
  CHECK(ro.read("/ensemble/status") == std::vector<double>{0});
  CHECK(ro.read("/time") == msrom::h5::File::open(data).read("/time"));
  CHECK(ro.read_string_attribute("/", "model") == "coarse_dns");
  CHECK(ro.read_string_attribute("/", "integrator") == "arkimex/3");
  const auto eh = msrom::h5::File::open(dir + "/eps.h5");
  CHECK(eh.shape("/eps") == msrom::h5::Shape{1, 101});
  const auto m = msrom::Metrics::read(dir + "/metrics.json");
  const auto eps = eh.read("/eps");
  double mean = 0;
  for (double e : eps) mean += e / static_cast<double>(eps.size());
  CHECK(m.get("eps_mean.coarse_dns") == Approx(mean).epsilon(1e-12));
  // Measured: 0.116 +- 0.024 over t in [0, 0.1] (the paper-size set, t in [0, 1], gives 0.547; docs/pde.md).
  CHECK(m.get("eps_mean.coarse_dns") > 0.05);
  CHECK(m.get("eps_mean.coarse_dns") < 0.25);
  CHECK(m.get("eps_initial.coarse_dns") == eps.front());
  CHECK(exists(dir + "/figures/eps.png"));
  CHECK(exists(dir + "/figures/fields.png"));

  // Kuramoto-Sivashinsky ci input, 128 -> 32: another periodic case through the same path.
  const std::string ks = scratch() + "/cdns_ks.h5";
  REQUIRE(run("simulate -options_file_yaml " + kInputs + "ks22_ci.yaml -progress never -output " + ks).code == 0);
  CHECK(msrom::h5::File::open(ks).shape("/fields/u") == msrom::h5::Shape{4, 41, 128});
  const auto rk = run("coarse-dns -data " + ks + " -coarse_nx 32 -coarse_dns_figures 0 -progress never -output " + dir + "_ks");
  INFO(rk.err);
  REQUIRE(rk.code == 0);
  CHECK(msrom::h5::File::open(dir + "_ks/rollouts.h5").shape("/ensemble/fields/u") == msrom::h5::Shape{1, 41, 128});
}

TEST_CASE("coarse-dns: bad input exits 2 with one line naming the option or file", "[integration][pde][coarse_dns][bad_input]") {
  const std::string data = scratch() + "/cdns_bad.h5", out = scratch() + "/cdns_bad_out";
  REQUIRE(run("simulate -options_file_yaml " + kInputs + "kdv_ci.yaml -ts_max_time 0.01 -progress never -output " + data).code == 0);
  const std::string ok = "coarse-dns -coarse_dns_figures 0 -output " + out + " ";
  const std::vector<BadInput> cases = {
      {ok, "-data"},
      {ok + "-data " + scratch() + "/missing.h5", "missing.h5"},
      {ok + "-data " + scratch() + "/stdout", "stdout"},  // not HDF5
      {ok + "-data " + data + " -coarse_nx 2000", "-coarse_nx"},
      {ok + "-data " + data + " -coarse_nx 4", "-coarse_nx"},
      {ok + "-data " + data + " -coarse_ny 8", "-coarse_ny"},
      {ok + "-data " + data + " -coarse_dns_split bogus", "-coarse_dns_split"},
      {ok + "-data " + data + " -ts_dt 3e-4", "-ts_dt"},
      {ok + "-data " + data + " -ts_type bogus", "-ts_type"},
      {ok + "-data " + data + " -coarse_bogus 1", "-coarse_bogus"},
  };
  check_bad_inputs(cases, {out + "/rollouts.h5", out + "/metrics.json"});
  // A data file that is not a field data set (an ODE ensemble's rollouts have no /fields/u).
  const std::string ode = scratch() + "/cdns_ode.h5";
  REQUIRE(run("simulate -system_type bistable -members 1 -ts_max_time 1 -progress never -output " + ode).code == 0);
  const auto r = run(ok + "-data " + ode);
  INFO(r.err);
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("-data") != std::string::npos);
  CHECK(r.err.find("/fields/u") != std::string::npos);
}

// ---- learn-forcing (issue 5, stage 1): the neural-ODE forcing on the ci pipeline's output.
#include "msrom/analysis/statistics.hpp"
#include "msrom/rom/langevin.hpp"
#include "msrom/score/score_model.hpp"

TEST_CASE("learn-forcing on the ci pipeline output: /forcing per the contract, the same on 1 and 2 ranks",
          "[integration][node]") {
  const std::string dir = scratch() + "/forcing_ci";
  const auto p = run("pipeline -options_file_yaml " + kInputs +
                     "bistable_ci.yaml -pipeline_stages simulate,learn-score,learn-drift -progress never -output " + dir);
  INFO(p.out << p.err);
  REQUIRE(p.code == 0);
  // Small networks and few steps: this checks the plumbing and the numbers it can check exactly.
  const std::string small = " -forcing_hidden 16,16 -forcing_members 3 -forcing_iterations 20 -forcing_window 20 "
                            "-forcing_check_trajectories 4 -forcing_check_time 4 -progress never ";
  std::vector<std::vector<double>> params;
  for (int np : {1, 2}) {
    const std::string model = dir + "/model_np" + std::to_string(np) + ".h5";
    REQUIRE(std::system(("cp " + dir + "/model.h5 " + model).c_str()) == 0);
    const auto r = run("learn-forcing -data " + dir + "/data.h5 -model " + model + small, np);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(r.out.find("acf_error.node") != std::string::npos);
    auto f = msrom::h5::File::open(model);
    CHECK(f.exists("/langevin/Phi"));  // updated in place, the rest kept
    std::vector<double> all;
    for (int i = 0; i < 3; ++i) {
      const std::string g = "/forcing/node/" + std::to_string(i);
      CHECK(f.read(g + "/widths") == std::vector<double>{10, 16, 16, 10});
      const auto v = f.read(g + "/params");
      all.insert(all.end(), v.begin(), v.end());
    }
    params.push_back(all);
    CHECK(f.read_double_attribute("/forcing", "m") == 10);
    CHECK(f.read_double_attribute("/forcing", "members") == 3);
    CHECK(f.shape("/forcing/loss") == msrom::h5::Shape{3, 20});
    // tau: 0.25 x the first lag where the stored residual ACF drops below 0.2.
    const auto rho = f.read("/forcing/residual_acf");
    const double dt = f.read_double_attribute("/forcing", "dt");
    CHECK(dt == Approx(0.01).epsilon(1e-12));
    std::size_t k = 1;
    while (k < rho.size() && rho[k] >= 0.2) ++k;
    REQUIRE(k < rho.size());
    const double tau_samples = std::max(1.0, std::round(0.25 * static_cast<double>(k)));
    CHECK(f.read_double_attribute("/forcing", "tau_samples") == tau_samples);
    CHECK(f.read_double_attribute("/forcing", "tau") == Approx(tau_samples * dt).epsilon(1e-12));
    // The residual's normalisation, recomputed here from its definition: r_n = (u_{n+1} - u_n)/dt - Phi s(u_n)
    // over the training part (first 80%) of every member, pairs inside a member.
    const auto lm = msrom::rom::LangevinModel::load(msrom::h5::File::open(model));
    const auto td = msrom::score::read_training_data(dir + "/data.h5", "/state", 0.8, 2, MPI_COMM_SELF);
    const Eigen::MatrixXd u = (td.train.array() - lm.score.mean(0)) / lm.score.std(0);
    Eigen::MatrixXd F(1, u.cols());
    msrom::nn::Workspace ws;
    lm.drift(0, u, F, ws);
    double s1 = 0, s2 = 0, n = 0;
    for (Eigen::Index i = 0; i + 1 < u.cols(); ++i) {
      if (td.series_start[static_cast<std::size_t>(i + 1)]) continue;
      const double rn = (u(0, i + 1) - u(0, i)) / dt - F(0, i);
      s1 += rn;
      s2 += rn * rn;
      n += 1;
    }
    const double mean = s1 / n, sd = std::sqrt(s2 / n - mean * mean);
    CHECK(f.read("/forcing/normalization/mean")[0] == Approx(mean).epsilon(1e-6));
    CHECK(f.read("/forcing/normalization/std")[0] == Approx(sd).epsilon(1e-9));
    // The amplitude fit (step 6): the residual's long-run variance by batch means, recomputed here with the
    // block the rule gives (4 x the ACF's first zero, at most half of a free run of max(lags + 2, 4 / dt)
    // steps); sigma_L^2 S_node = D of the Langevin model; gain = sigma_L sqrt(2 / dt) / std_r.
    std::size_t zero = 1;
    while (zero < rho.size() && rho[zero] > 0) ++zero;
    const auto run_steps = std::max<std::size_t>(rho.size() + 1, 400);
    const auto block = std::min<std::size_t>(4 * zero, run_steps / 2);
    CHECK(f.read_double_attribute("/forcing/long_run_variance", "block") == Approx(block * dt).epsilon(1e-12));
    msrom::analysis::BatchMeans bm{block};
    std::vector<double> seg;
    for (Eigen::Index i = 0; i + 1 < u.cols(); ++i) {
      if (td.series_start[static_cast<std::size_t>(i + 1)]) {
        bm.add(seg.data(), seg.size());
        seg.clear();
        continue;
      }
      seg.push_back(((u(0, i + 1) - u(0, i)) / dt - F(0, i) - mean) / sd);
    }
    bm.add(seg.data(), seg.size());
    CHECK(f.read("/forcing/long_run_variance/residual")[0] == Approx(bm.long_run_variance()).epsilon(1e-6));
    const double s_node = f.read("/forcing/long_run_variance/node")[0];
    const double sigma_l = f.read("/forcing/sigma_L")[0], D = lm.sigma(0, 0) * lm.sigma(0, 0);
    CHECK(s_node > 0);
    CHECK(sigma_l * sigma_l * s_node == Approx(D).epsilon(1e-12));
    CHECK(f.read("/forcing/gain")[0] == Approx(sigma_l * std::sqrt(2 / dt) / sd).epsilon(1e-12));
    CHECK(f.shape("/forcing/node_mean") == msrom::h5::Shape{3, 1});
    CHECK(f.read("/forcing/white_diffusion")[0] ==
          Approx(std::max(0.0, D - sd * sd * s_node * dt / 2)).epsilon(1e-12).margin(1e-15));
  }
  CHECK(params[0] == params[1]);  // bitwise, member groups and data-parallel blocks alike
  // -forcing_refit: the check and the fit again on the stored NODEs, no training: the same group, bit for bit.
  {
    const std::string model = dir + "/model_np1.h5", refit = dir + "/model_refit.h5";
    REQUIRE(std::system(("cp " + model + " " + refit).c_str()) == 0);
    // Training options that would change every number if it trained (it must not).
    const auto r = run("learn-forcing -forcing_refit -data " + dir + "/data.h5 -model " + refit +
                       " -forcing_iterations 5 -forcing_lr 0.5 -forcing_check_trajectories 4 -forcing_check_time 4 "
                       "-progress never", 2);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto a = msrom::h5::File::open(model), b = msrom::h5::File::open(refit);
    for (const char* ds : {"/forcing/node/0/params", "/forcing/node/2/params", "/forcing/loss", "/forcing/sigma_L",
                           "/forcing/gain", "/forcing/node_mean", "/forcing/acf_node", "/forcing/initial_states",
                           "/forcing/long_run_variance/node", "/forcing/white_diffusion"})
      CHECK(a.read(ds) == b.read(ds));
  }
  // -forcing_continue: more training of the stored NODEs. With 0 steps it is the refit, bit for bit; with 5
  // steps of another window the loss rows grow by 5 after the stored 20, the NODEs move, and the window
  // attribute is the new one.
  {
    const std::string model = dir + "/model_np1.h5", c0 = dir + "/model_c0.h5", c5 = dir + "/model_c5.h5";
    REQUIRE(std::system(("cp " + model + " " + c0 + " && cp " + model + " " + c5).c_str()) == 0);
    const std::string check = " -forcing_check_trajectories 4 -forcing_check_time 4 -progress never";
    auto r = run("learn-forcing -forcing_continue -forcing_iterations 0 -data " + dir + "/data.h5 -model " + c0 +
                     " -forcing_window 20" + check, 2);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    r = run("learn-forcing -forcing_continue -forcing_iterations 5 -forcing_window 30 -forcing_lr 1e-3 -seed 7 -data " +
                dir + "/data.h5 -model " + c5 + check, 2);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto a = msrom::h5::File::open(model), b = msrom::h5::File::open(c0), c = msrom::h5::File::open(c5);
    for (const char* ds : {"/forcing/node/0/params", "/forcing/node/2/params", "/forcing/loss", "/forcing/sigma_L",
                           "/forcing/node_mean", "/forcing/acf_node"})
      CHECK(a.read(ds) == b.read(ds));
    CHECK(c.shape("/forcing/loss") == msrom::h5::Shape{3, 25});
    const auto l0 = a.read("/forcing/loss"), l5 = c.read("/forcing/loss");
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t k = 0; k < 20; ++k) CHECK(l5[i * 25 + k] == l0[i * 20 + k]);
    CHECK(a.read("/forcing/node/1/params") != c.read("/forcing/node/1/params"));
    CHECK(c.read_double_attribute("/forcing", "window") == 30);
    CHECK(c.read_double_attribute("/forcing", "tau_samples") == a.read_double_attribute("/forcing", "tau_samples"));
  }
  const auto h = run("learn-forcing -help");
  CHECK(h.code == 0);
  for (const char* opt : {"-forcing_m", "-forcing_tau", "-forcing_hidden", "-forcing_members", "-forcing_window",
                          "-forcing_iterations", "-forcing_lr"})
    CHECK(h.out.find(opt) != std::string::npos);
}

TEST_CASE("learn-forcing: bad input exits 2 with one line naming the option or file", "[integration][node][bad_input]") {
  const std::string dir = scratch() + "/forcing_bad";
  const auto p = run("pipeline -options_file_yaml " + kInputs +
                     "bistable_ci.yaml -pipeline_stages simulate,learn-score -ts_max_time 200 -score_epochs 50 "
                     "-progress never -output " + dir);
  INFO(p.out << p.err);
  REQUIRE(p.code == 0);
  const std::string data = dir + "/data.h5", model = dir + "/model.h5";  // model: score only, no /langevin
  const std::string ok = "learn-forcing -progress never ";
  const std::vector<BadInput> cases = {
      {ok + "-model " + model, "-data"},
      {ok + "-data " + data, "-model"},
      {ok + "-data " + scratch() + "/missing.h5 -model " + model, "missing.h5"},
      {ok + "-data " + data + " -model " + scratch() + "/missing_model.h5", "missing_model.h5"},
      {ok + "-data " + data + " -model " + model, "learn-drift"},  // no /langevin yet
      {ok + "-data " + data + " -model " + data, "-model"},        // not a model file
      {ok + "-data " + data + " -model " + model + " -forcing_m 0", "-forcing_m"},
      {ok + "-data " + data + " -model " + model + " -forcing_hidden 0", "-forcing_hidden"},
      {ok + "-data " + data + " -model " + model + " -forcing_lr -1", "-forcing_lr"},
      {ok + "-data " + data + " -model " + model + " -forcing_activation bogus", "-forcing_activation"},
      {ok + "-data " + data + " -model " + model + " -forcing_bogus 1", "-forcing_bogus"},
      {ok + "-data " + data + " -model " + model + " -forcing_refit", "-model"},  // nothing to refit
      {ok + "-data " + data + " -model " + model + " -forcing_continue", "-model"},  // nothing to continue
      {ok + "-data " + data + " -model " + model + " -forcing_continue -forcing_refit", "-forcing_continue"},
      {ok + "-data " + data + " -model " + model + " -forcing_gain_block 100 -forcing_check_time 20",
       "-forcing_gain_block"},
  };
  check_bad_inputs(cases, {});
  CHECK_FALSE(msrom::h5::File::open(model).exists("/forcing"));
}

TEST_CASE("hybrid ROM ensembles and transition forecasts on the ci pipeline: rank-count equality, exact one-step hits",
          "[integration][node][forecast]") {
  const std::string dir = scratch() + "/hybrid_ci";
  const auto p = run("pipeline -options_file_yaml " + kInputs +
                     "bistable_ci.yaml -pipeline_stages simulate,lyapunov,learn-score,learn-drift -progress never "
                     "-output " + dir);
  INFO(p.out << p.err);
  REQUIRE(p.code == 0);
  const std::string data = dir + "/data.h5", model = dir + "/model.h5";
  const std::string small = " -forcing_hidden 16,16 -forcing_members 2 -forcing_iterations 20 -forcing_window 6 "
                            "-forcing_check_trajectories 2 -forcing_check_time 2 -progress never ";
  // A forecast needs the baseline too; ensemble -ensemble_forcing node needs /forcing.
  const auto no_forcing = run("ensemble -model " + model + " -ensemble_forcing node -output " + dir + "/h.h5");
  CHECK(no_forcing.code == 2);
  CHECK(no_forcing.err.find("learn-forcing") != std::string::npos);
  REQUIRE(run("learn-forcing -data " + data + " -model " + model + small).code == 0);
  REQUIRE(run("learn-forcing -data " + data + " -model " + model + small + " -forcing_series state -forcing_tau 0.02")
              .code == 0);
  {
    auto f = msrom::h5::File::open(model);
    CHECK(f.read_string_attribute("/baseline_node", "series") == "state");
    CHECK(f.read_string_attribute("/forcing", "series") == "residual");
    CHECK(f.shape("/forcing/initial_states") == msrom::h5::Shape{256, 10});
    CHECK_FALSE(f.exists("/baseline_node/sigma_L"));
  }

  // The hybrid ensemble: only the slow variable is saved; bitwise the same on 1 and 2 ranks.
  std::vector<std::vector<double>> states;
  for (int np : {1, 2}) {
    const std::string out = dir + "/hybrid_np" + std::to_string(np) + ".h5";
    const auto r = run("ensemble -model " + model + " -ensemble_forcing node -members 6 -ts_dt 0.02 -ts_max_time 20 "
                       "-ensemble_save_every 5 -ensemble_burn_in 1 -progress never -output " + out, np);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto f = msrom::h5::File::open(out);
    CHECK(f.shape("/ensemble/state") == msrom::h5::Shape{6, 200, 1});
    CHECK(f.read_string_attribute("/", "model") == "hybrid");
    states.push_back(f.read("/ensemble/state"));
  }
  CHECK(states[0] == states[1]);
  const auto bad_dt = run("ensemble -model " + model + " -ensemble_forcing node -ts_dt 0.015 -output " + dir + "/b.h5");
  CHECK(bad_dt.code == 2);
  CHECK(bad_dt.err.find("-ts_dt") != std::string::npos);

  // Forecasts: the same on 1 and 2 ranks. At a lead of ONE sample with no perturbation the hybrid's first step
  // rebuilds the true next sample exactly (its forcing is the residual of that step), so every hybrid member
  // crosses at the true crossing time: a hit rate of exactly 1 and a timing error of 0.
  const double lyap = msrom::Metrics::read(dir + "/metrics.json").get("lyapunov_time.bistable");
  const std::string one_sample = std::to_string(0.01 / lyap * 1.0000001);
  std::vector<std::vector<double>> skill;
  for (int np : {1, 2}) {
    const std::string out = dir + "/forecast_np" + std::to_string(np) + ".h5";
    const auto r = run("forecast -data " + data + " -model " + model + " -forecast_members 4 -forecast_leads " +
                       one_sample + ",0.5 -forecast_perturbation 0 -forecast_tolerance 0.1 -forecast_figures false "
                       "-forecast_check_time 2 -forcing_closure none -progress never -output " + out, np);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    auto f = msrom::h5::File::open(out);
    const auto hit = f.read("/skill/hybrid/hit_rate");
    REQUIRE(hit.size() == 2);
    CHECK(hit[0] == 1.0);
    CHECK(f.read("/skill/hybrid/timing_error")[0] == 0.0);
    CHECK(f.read_double_attribute("/leads", "lyapunov_time") == lyap);  // from the metrics.json beside the model
    CHECK(f.shape("/examples/hybrid")[1] == 4);
    std::vector<double> all;
    for (const char* m : {"hybrid", "langevin", "node_x"})
      for (const char* q : {"/hit", "/rmse", "/hit_rate_mean"}) {
        const auto v = f.read(std::string("/skill/") + m + q);
        for (double x : v) CHECK((x >= 0 && x <= (std::string(q) == "/rmse" ? 10.0 : 1.0)));
        all.insert(all.end(), v.begin(), v.end());
      }
    skill.push_back(all);
    const auto mj = msrom::Metrics::read(dir + "/metrics.json");
    CHECK(mj.has("hit_rate.hybrid.0.5TL"));
  }
  CHECK(skill[0] == skill[1]);

  const std::string ok = "forecast -progress never -data " + data + " -model " + model + " ";
  const std::vector<BadInput> cases = {
      {"forecast -model " + model, "-data"},
      {"forecast -data " + data, "-model"},
      {ok + "-forecast_leads -1", "-forecast_leads"},
      {ok + "-forecast_leads_time 0", "-forecast_leads_time"},
      {ok + "-forecast_members 0", "-forecast_members"},
      {ok + "-forecast_leads 1e6", "-forecast_leads"},  // no transition leaves room
      {ok + "-output " + scratch() + "/no_such_dir/f.h5", "-output"},
      {"forecast -progress never -data " + data + " -model " + dir + "/../forcing_bad_missing.h5", "-model"},
  };
  check_bad_inputs(cases, {dir + "/forecast.h5"});
}

// ---- msrom merge (issue 9): an ensemble run in parts (Slurm array tasks) joined into one run's file ----
#include <cstring>

namespace {

// Bit patterns, so that NaN rows (diverged members) compare equal to themselves.
bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// The datasets of a rollouts file (rom/ensemble.hpp); h5diff below also catches any dataset not listed.
const char* const kRolloutDatasets[] = {"/time", "/ensemble/state", "/ensemble/status", "/ensemble/stats/grid",
                                        "/ensemble/stats/histogram", "/ensemble/stats/acf/lag", "/ensemble/stats/acf/rho",
                                        "/ensemble/stats/partial/counts", "/ensemble/stats/partial/nodes",
                                        "/ensemble/stats/partial/sums"};

const std::string kMergeBase = "ensemble -model double_well -ensemble_phi 0.7 -members 13 -ts_dt 0.01 -ts_max_time 300 "
                               "-ensemble_save_every 25 -ensemble_stats_every 5 -ensemble_max_lag 2 -seed 11 -progress never ";

}  // namespace

TEST_CASE("merge: an ensemble run in parts on 1 and 2 ranks equals one run of all members bit for bit",
          "[integration][merge]") {
  const std::string dir = scratch() + "/merge";
  msrom::make_output_directory("test", dir);
  const std::string full = dir + "/full.h5", full2 = dir + "/full_np2.h5";
  REQUIRE(run(kMergeBase + "-output " + full).code == 0);
  REQUIRE(run(kMergeBase + "-output " + full2, 2).code == 0);
  // Parts of uneven size on different rank counts: members 0..6 on 2 ranks, 7..8 and 9..12 on one.
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 0 -ensemble_member_count 7 -output " + dir + "/part_a.h5", 2).code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 7 -ensemble_member_count 2 -output " + dir + "/part_b.h5").code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 9 -output " + dir + "/part_c.h5").code == 0);  // count 0: the rest

  const auto f = msrom::h5::File::open(full);
  const auto part_c = msrom::h5::File::open(dir + "/part_c.h5");
  CHECK(part_c.shape("/ensemble/state") == msrom::h5::Shape{4, 1200, 1});
  CHECK(part_c.read_double_attribute("/", "member_begin") == 9);
  CHECK(part_c.read_double_attribute("/", "member_count") == 4);
  CHECK(part_c.read_double_attribute("/", "members_total") == 13);
  // A part's rows are the full run's rows of the same global members (streams keyed by the global index),
  // and its statistics are its own (not the whole ensemble's).
  const auto state = f.read("/ensemble/state");
  CHECK(same_bits(part_c.read("/ensemble/state"), std::vector<double>(state.begin() + 9 * 1200, state.end())));
  CHECK_FALSE(same_bits(part_c.read("/ensemble/stats/histogram"), f.read("/ensemble/stats/histogram")));

  // The parts given as a list in any order, or as a glob: every dataset equals the single run's.
  const std::string merged = dir + "/merged.h5", merged_glob = dir + "/merged_glob.h5";
  const auto r = run("merge -inputs " + dir + "/part_c.h5," + dir + "/part_a.h5," + dir + "/part_b.h5 -output " + merged);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("transitions.double_well") != std::string::npos);
  REQUIRE(run("merge -inputs '" + dir + "/part_*.h5' -output " + merged_glob, 2).code == 0);
  // The job-array form: part i of N equal blocks (-ensemble_part/-ensemble_parts), here 3 parts of 13.
  for (int i = 0; i < 3; ++i)
    REQUIRE(run(kMergeBase + "-ensemble_part " + std::to_string(i) + " -ensemble_parts 3 -output " + dir + "/array_" +
                std::to_string(i) + ".h5").code == 0);
  CHECK(msrom::h5::File::open(dir + "/array_1.h5").read_double_attribute("/", "member_begin") == 5);
  const std::string merged_array = dir + "/merged_array.h5";
  REQUIRE(run("merge -inputs '" + dir + "/array_*.h5' -output " + merged_array).code == 0);
  for (const auto& other : {full2, merged, merged_glob, merged_array}) {
    CAPTURE(other);
    const auto g = msrom::h5::File::open(other);
    for (const char* d : kRolloutDatasets) {
      CAPTURE(d);
      CHECK(same_bits(g.read(d), f.read(d)));
    }
    CHECK(g.read_double_attribute("/ensemble/stats/acf/rho", "tau_int") ==
          f.read_double_attribute("/ensemble/stats/acf/rho", "tau_int"));
    for (const char* a : {"seed", "members_total", "member_begin", "member_count", "dt", "steps"})
      CHECK(g.read_double_attribute("/", a) == f.read_double_attribute("/", a));
    // h5diff: every object under /ensemble and /time, with the attributes of datasets (exit 0: no difference).
    for (const char* obj : {"/ensemble", "/time"})
      CHECK(std::system(("h5diff -q " + full + " " + other + " " + obj).c_str()) == 0);
  }
  // The check can fail: another seed differs.
  REQUIRE(run(kMergeBase + "-seed 12 -output " + dir + "/other_seed.h5").code == 0);
  CHECK(std::system(("h5diff -q " + full + " " + dir + "/other_seed.h5 /ensemble > /dev/null").c_str()) != 0);
  // Merged parts are themselves a part: merging the merged file alone gives the same file again.
  REQUIRE(run("merge -inputs " + merged + " -output " + dir + "/remerged.h5").code == 0);
  CHECK(std::system(("h5diff -q " + full + " " + dir + "/remerged.h5 /ensemble").c_str()) == 0);
}

TEST_CASE("merge: bad input exits 2 with one line naming the file or option, no output", "[integration][merge][bad_input]") {
  const std::string dir = scratch() + "/merge_bad";
  msrom::make_output_directory("test", dir);
  const std::string a = dir + "/a.h5", b = dir + "/b.h5", c = dir + "/c.h5";
  REQUIRE(run(kMergeBase + "-ensemble_member_count 7 -output " + a).code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 7 -output " + b).code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 5 -output " + dir + "/overlap.h5").code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 7 -ts_dt 0.02 -ts_max_steps 30000 -output " + dir + "/dt.h5").code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 7 -seed 3 -output " + dir + "/seed.h5").code == 0);
  REQUIRE(run(kMergeBase + "-ensemble_member_begin 7 -ensemble_max_lag 1 -output " + dir + "/lag.h5").code == 0);
  REQUIRE(run("ensemble -model ou -members 13 -ts_dt 0.01 -ts_max_time 300 -ensemble_save_every 25 -ensemble_stats_every 5 "
              "-ensemble_max_lag 2 -seed 11 -progress never -ensemble_member_begin 7 -output " + dir + "/ou.h5").code == 0);
  REQUIRE(run(kMergeBase + "-members 14 -ensemble_member_begin 7 -output " + dir + "/m14.h5").code == 0);
  const std::string junk = dir + "/junk.h5";
  std::ofstream(junk) << "not HDF5";
  const std::string data = scratch() + "/sim_np1.h5";  // an earlier case's data file: not rollouts
  const std::string out = dir + "/merged.h5";
  const std::string m = "merge -output " + out + " -inputs ";
  const std::vector<BadInput> cases = {
      {"merge -output " + out, "-inputs"},
      {m + a + "," + dir + "/missing.h5", dir + "/missing.h5"},
      {m + a + "," + junk, junk},
      {m + "'" + dir + "/nothing_*.h5'", dir + "/nothing_*.h5"},
      {m + a, a},                                   // members 7..12 missing after a.h5
      {m + b, b},                                   // members 0..6 missing before b.h5
      {m + a + "," + dir + "/overlap.h5", dir + "/overlap.h5"},
      {m + a + "," + dir + "/dt.h5", dir + "/dt.h5"},
      {m + a + "," + dir + "/seed.h5", dir + "/seed.h5"},
      {m + a + "," + dir + "/lag.h5", dir + "/lag.h5"},
      {m + a + "," + dir + "/ou.h5", dir + "/ou.h5"},
      {m + a + "," + dir + "/m14.h5", dir + "/m14.h5"},
      {m + a + "," + data, data},
      {"merge -inputs " + a + "," + b + " -output /nonexistent_dir/x.h5", "-output"},
      {"merge -inputs " + a + "," + b + " -merge_typo 1 -output " + out, "-merge_typo"},
      {kMergeBase + "-ensemble_member_begin 13 -output " + out, "-ensemble_member_begin"},
      {kMergeBase + "-ensemble_member_begin 10 -ensemble_member_count 4 -output " + out, "-ensemble_member_count"},
      {kMergeBase + "-ensemble_member_begin -1 -output " + out, "-ensemble_member_begin"},
      {kMergeBase + "-ensemble_part 2 -ensemble_parts 2 -output " + out, "-ensemble_part"},
      {kMergeBase + "-ensemble_parts 14 -output " + out, "-ensemble_parts"},  // more parts than members
      {kMergeBase + "-ensemble_parts 2 -ensemble_member_begin 3 -output " + out, "-ensemble_parts"},
  };
  check_bad_inputs(cases, {out, out + ".part"});
  // The parts themselves are fine: the good pair merges, and -help lists the options.
  CHECK(run(m + a + "," + b).code == 0);
  const auto h = run("merge -help");
  CHECK(h.code == 0);
  CHECK(h.out.find("-inputs") != std::string::npos);
  CHECK(run("ensemble -help").out.find("-ensemble_member_count") != std::string::npos);
}

// ---- Issue 7, stage 2: the learned stochastic multiscale model (learn-msde, ensemble -model with /msde,
// evaluate-msde) on the KdV ci input.
namespace {
std::string msde_data() {
  static std::string path = [] {
    const std::string p = scratch() + "/msde_kdv.h5";
    const auto r = run("simulate -options_file_yaml " + kInputs + "kdv_ci.yaml -output " + p);
    if (r.code != 0) FAIL("simulate kdv_ci: " << r.err);
    return p;
  }();
  return path;
}
}  // namespace

TEST_CASE("learn-msde on the KdV ci input: 1 and 2 ranks bitwise; ensemble rollout; the eps table",
          "[integration][msde]") {
  const std::string data = msde_data(), dir = scratch() + "/msde";
  msrom::make_output_directory("test", dir);
  msrom::make_output_directory("test", dir + "/np2");
  const std::string learn = "learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -output ";
  auto r = run(learn + dir + "/model.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("n_eta = 1: 7137 parameters") != std::string::npos);
  r = run(learn + dir + "/np2/model.h5", 2);
  REQUIRE(r.code == 0);
  {
    const auto a = msrom::h5::File::open(dir + "/model.h5"), b = msrom::h5::File::open(dir + "/np2/model.h5");
    CHECK(a.read("/msde/stages") == std::vector<double>{0, 1});
    CHECK(a.read_double_attribute("/msde", "final") == 1);
    for (const char* s : {"/msde/eta_0", "/msde/eta_1"}) {
      const std::string g = s;
      CHECK(a.read(g + "/params") == b.read(g + "/params"));  // bitwise on 1 and 2 ranks
      CHECK(a.read(g + "/history/loss") == b.read(g + "/history/loss"));
      CHECK(a.read(g + "/history/loss").size() == 4);
      CHECK(a.shape(g + "/history/validation") == msrom::h5::Shape{2, 2});  // steps 2 and 4
      CHECK(a.read_string_attribute(g, "activation") == "leaky_relu");
      CHECK(a.has_attribute(g, "norm_mean"));
      CHECK(a.read_double_attribute(g, "norm_scale") > 0);
    }
    CHECK(a.shape("/msde/eta_0/params") == msrom::h5::Shape{2308});
    CHECK(a.read_double_attribute("/", "nranks") == 1);
    CHECK(b.read_double_attribute("/", "nranks") == 2);
    // eta_1 starts from eta_0: the learning rates of the two stages (1e-3 and 1e-4).
    CHECK(a.read("/msde/eta_0/history/lr")[0] == 1e-3);
    CHECK(a.read("/msde/eta_1/history/lr")[0] == 1e-4);
    CHECK(a.read("/msde/eta_0/history/beta")[2] == 2.0 / 1600);
  }
  const auto m = msrom::Metrics::read(dir + "/metrics.json");
  for (const char* k : {"val_loss.eta_0", "val_loss.eta_1", "train_loss.eta_1", "norm_scale", "iterations.eta_1",
                        "loss_curve.eta_1.000000004", "val_curve.eta_0.000000002"})
    CHECK(m.has(k));
  CHECK(m.get("iterations.eta_1") == 4);
  CHECK(!exists(dir + "/model.h5.ckpt"));

  // The learned SDE rolled out by `msrom ensemble -model model.h5`, on 1 and 2 ranks.
  const std::string ens = "ensemble -model " + dir + "/model.h5 -data " + data + " -predict_samples 8 -output ";
  r = run(ens + dir + "/roll.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("multiscale model n_eta = 1") != std::string::npos);
  REQUIRE(run(ens + dir + "/np2/roll.h5", 2).code == 0);
  const auto ra = msrom::h5::File::open(dir + "/roll.h5"), rb = msrom::h5::File::open(dir + "/np2/roll.h5");
  CHECK(ra.shape("/ensemble/fields/u") == msrom::h5::Shape{1, 101, 1000});
  CHECK(ra.read("/ensemble/fields/u") == rb.read("/ensemble/fields/u"));
  const auto eps = ra.read("/ensemble/eps");
  REQUIRE(eps.size() == 101);
  for (double e : eps) CHECK(std::isfinite(e));

  // The table: coarse DNS | DMD | POD-SINDy | implicit-scale | multiscale.
  r = run("evaluate-msde -data " + data + " -model " + dir + "/model.h5 -predict_samples 8 -output " + dir + "/eval");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("| coarse DNS        | DMD               | POD-SINDy         | implicit-scale    | multiscale") !=
        std::string::npos);
  const auto t = msrom::Metrics::read(dir + "/eval/metrics.json");
  for (const char* n : {"coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"}) {
    CHECK(t.has(std::string("eps_mean.") + n));
    CHECK(t.has(std::string("eps_std.") + n));
  }
  // The same rollouts as the ensemble's (same seed, samples, trajectory index).
  double mean = 0;
  for (double e : eps) mean += e / double(eps.size());
  CHECK(t.get("eps_mean.multiscale") == Approx(mean).epsilon(1e-12));
  // The coarse DNS column is the coarse-dns command's number; the linear baseline fits this short run well.
  const auto cd = msrom::Metrics::read(dir + "/eval/coarse_dns/metrics.json");
  CHECK(t.get("eps_mean.coarse_dns") == Approx(cd.get("eps_mean.coarse_dns")).epsilon(1e-12));
  CHECK(t.get("eps_mean.dmd") < 0.05);
  CHECK(t.get("eps_mean.pod_sindy") < 0.1);
  const auto ev = msrom::h5::File::open(dir + "/eval/msde_eval.h5");
  CHECK(ev.shape("/eps/multiscale") == msrom::h5::Shape{1, 101});
  CHECK(ev.shape("/fields/truth") == msrom::h5::Shape{101, 1000});
  for (const char* png : {"eps.png", "fields.png", "spectra.png"}) CHECK(exists(dir + "/eval/figures/" + png));
}

TEST_CASE("learn-msde: a signal checkpoints and stops; -restart finishes bit for bit", "[integration][msde][restart]") {
  const std::string data = msde_data(), dir = scratch() + "/msde_restart";
  msrom::make_output_directory("test", dir);
  const std::string plain = "learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data +
                            " -msde_iterations 400 -msde_val_every 100 -msde_checkpoint_every 25";
  const std::string out = dir + "/model.h5";
  // Once the first checkpoint exists: SIGTERM (one rank) or SIGUSR1 through mpiexec (two ranks: mpiexec forwards USR1; a TERM would end mpiexec
  // itself). Once more with -msde_ema, whose running average the checkpoint carries.
  for (const auto& [np, extra] : {std::pair<int, std::string>{0, ""}, {2, ""}, {0, " -msde_ema 0.99"}}) {
    const std::string base = plain + extra + " -output ";
    if (np == 0) REQUIRE(run(base + dir + "/ref.h5").code == 0);
    CHECK(interrupted(base + out, out + ".ckpt", np > 0 ? "USR1" : "TERM", "0", np) == 3);
    CHECK(exists(out + ".ckpt"));
    CHECK_FALSE(exists(out));
    // Other options: the checkpoint is refused and kept.
    const auto wrong = run(base + out + " -msde_lr 2e-3 -restart");
    CHECK(wrong.code == 2);
    CHECK(wrong.err.find("-restart") != std::string::npos);
    CHECK(exists(out + ".ckpt"));
    const auto r = run(base + out + " -restart", np);
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK_FALSE(exists(out + ".ckpt"));
    const auto a = msrom::h5::File::open(dir + "/ref.h5"), b = msrom::h5::File::open(out);
    for (const char* g : {"/msde/eta_0", "/msde/eta_1"}) {
      CHECK(a.read(std::string(g) + "/params") == b.read(std::string(g) + "/params"));
      CHECK(a.read(std::string(g) + "/history/loss") == b.read(std::string(g) + "/history/loss"));
      CHECK(a.read(std::string(g) + "/history/validation") == b.read(std::string(g) + "/history/validation"));
    }
    std::remove(out.c_str());
  }
  // A stage shorter than the cadence: every stage after the first starts with a checkpoint, so a run killed
  // outright early in stage 1 (SIGKILL: no handler runs) continues from there, bit for bit.
  const std::string base = "learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data +
                           " -msde_iterations 30,400 -msde_checkpoint_every 1000 -output ";
  REQUIRE(run(base + dir + "/ref2.h5").code == 0);
  CHECK(interrupted(base + out, out + ".ckpt", "KILL") == 137);
  REQUIRE(exists(out + ".ckpt"));
  {
    const auto ck = msrom::h5::File::open(out + ".ckpt");
    CHECK(ck.read_double_attribute("/checkpoint", "stage") == 1);
    CHECK(ck.read_double_attribute("/checkpoint", "next_iteration") == 0);
  }
  const auto r = run(base + out + " -restart");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("continuing from") != std::string::npos);
  const auto a = msrom::h5::File::open(dir + "/ref2.h5"), b = msrom::h5::File::open(out);
  for (const char* g : {"/msde/eta_0", "/msde/eta_1"})
    for (const char* d : {"/params", "/history/loss", "/history/validation"})
      CHECK(a.read(std::string(g) + d) == b.read(std::string(g) + d));
}

TEST_CASE("learn-msde -msde_init: a schedule run in two parts equals the one run bit for bit", "[integration][msde][init]") {
  const std::string data = msde_data(), dir = scratch() + "/msde_init";
  msrom::make_output_directory("test", dir);
  const std::string base = "learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -output ";
  REQUIRE(run(base + dir + "/whole.h5 -msde_iterations 6,4").code == 0);
  REQUIRE(run(base + dir + "/part0.h5 -msde_eta_schedule 0 -msde_iterations 6").code == 0);
  // The second part on 2 ranks: the training is rank-count independent.
  auto r = run(base + dir + "/part1.h5 -msde_init " + dir + "/part0.h5 -msde_eta_schedule 1 -msde_iterations 4", 2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto a = msrom::h5::File::open(dir + "/whole.h5"), b = msrom::h5::File::open(dir + "/part1.h5");
  CHECK(b.read("/msde/stages") == std::vector<double>{0, 1});
  for (const char* g : {"/msde/eta_0", "/msde/eta_1"})
    for (const char* d : {"/params", "/history/loss", "/history/lr", "/history/validation"})
      CHECK(a.read(std::string(g) + d) == b.read(std::string(g) + d));
  CHECK(a.read_double_attribute("/msde/eta_1", "norm_mean") == b.read_double_attribute("/msde/eta_1", "norm_mean"));

  // Continuing the final stage: 0 steps keep it as it was; 3 more steps append 3 rows and move it.
  r = run(base + dir + "/same.h5 -msde_init " + dir + "/part0.h5 -msde_eta_schedule 0 -msde_iterations 0");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto p0 = msrom::h5::File::open(dir + "/part0.h5");
  {
    const auto c = msrom::h5::File::open(dir + "/same.h5");
    CHECK(c.read("/msde/eta_0/params") == p0.read("/msde/eta_0/params"));
    CHECK(c.read("/msde/eta_0/history/loss") == p0.read("/msde/eta_0/history/loss"));
  }
  r = run(base + dir + "/more.h5 -msde_init " + dir + "/part0.h5 -msde_eta_schedule 0 -msde_iterations 3");
  REQUIRE(r.code == 0);
  {
    const auto c = msrom::h5::File::open(dir + "/more.h5");
    const auto l0 = p0.read("/msde/eta_0/history/loss"), l = c.read("/msde/eta_0/history/loss");
    REQUIRE(l.size() == l0.size() + 3);
    CHECK(std::equal(l0.begin(), l0.end(), l.begin()));
    CHECK(c.read("/msde/eta_0/params") != p0.read("/msde/eta_0/params"));
    const auto v = c.read("/msde/eta_0/history/validation");
    REQUIRE(v.size() >= 2);
    CHECK(v[v.size() - 2] == double(l.size()));  // the last validation at step 6 + 3
  }
  // Refused: a file that ends after the schedule's first stage, another architecture, no model file.
  check_bad_inputs({{base + dir + "/bad.h5 -msde_init " + dir + "/whole.h5 -msde_eta_schedule 0", "-msde_init"},
                    {base + dir + "/bad.h5 -msde_init " + dir + "/part0.h5 -msde_macro_hidden 8", "-msde_init"},
                    {base + dir + "/bad.h5 -msde_init " + data, "-msde_init"},
                    {base + dir + "/bad.h5 -msde_init " + dir + "/missing.h5", dir + "/missing.h5"}},
                   {dir + "/bad.h5", dir + "/bad.h5.part", dir + "/bad.h5.ckpt"});
}

// The mean over time of an ensemble file's eps(t): evaluate-msde's eps_mean of the same rollouts.
static double mean_eps(const msrom::h5::File& f) {
  const auto eps = f.read("/ensemble/eps");
  double e = 0;
  for (double x : eps) e += x / static_cast<double>(eps.size());
  return e;
}

TEST_CASE("learn-msde -msde_eta_field local: 1 and 2 ranks bitwise, stored as local, rolled out and scored",
          "[integration][msde][local]") {
  const std::string data = msde_data(), dir = scratch() + "/msde_local";
  msrom::make_output_directory("test", dir);
  const std::string learn = "learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -msde_eta_field local -data " +
                            data + " -output ";
  auto r = run(learn + dir + "/a.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = run(learn + dir + "/b.h5", 2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto a = msrom::h5::File::open(dir + "/a.h5"), b = msrom::h5::File::open(dir + "/b.h5");
  CHECK(a.read("/msde/eta_1/params") == b.read("/msde/eta_1/params"));
  CHECK(a.read_string_attribute("/msde/eta_1", "eta_field") == "local");
  const auto segs = a.read_strings_attribute("/msde/eta_1", "segments");
  CHECK(std::find(segs.begin(), segs.end(), "encoder/cell") != segs.end());
  CHECK(std::find(segs.begin(), segs.end(), "encoder/linear") == segs.end());
  r = run("evaluate-msde -data " + data + " -model " + dir + "/a.h5 -predict_samples 4 -evaluate_msde_figures false "
          "-output " + dir + "/eval");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto t = msrom::Metrics::read(dir + "/eval/metrics.json");
  CHECK(std::isfinite(t.get("eps_mean.multiscale")));
  CHECK(t.get("eps_mean.multiscale") < 1.5);
  // The representation's floor, decode(encode(y)): a column of its own, the same bits on 2 ranks.
  CHECK(t.get("eps_mean.reconstruction") > 0);
  {  // The observation noise's floor: sigma sqrt(n_y) / ||y(t)||, per test trajectory and snapshot.
    const auto test = msrom::vi::read_trajectories(data, 2);
    REQUIRE(test.noise > 0);
    const auto fl = msrom::h5::File::open(dir + "/eval/msde_eval.h5").read("/eps/noise_floor");
    const auto nt = static_cast<std::size_t>(test.time.size());
    REQUIRE(fl.size() == test.u.size() * nt);
    for (std::size_t k = 0; k < test.u.size(); ++k)
      for (std::size_t n : {std::size_t{0}, nt - 1})
        CHECK(fl[k * nt + n] == Approx(test.noise * std::sqrt(double(test.u[k].rows())) /
                                       test.u[k].col(static_cast<Eigen::Index>(n)).norm()).epsilon(1e-12));
    CHECK(r.out.find("the observation noise's floor") != std::string::npos);
  }
  CHECK(r.out.find("reconstruction decode(encode(y(t)))") != std::string::npos);
  {
    const auto r2 = run("evaluate-msde -data " + data + " -model " + dir + "/a.h5 -predict_samples 1 "
                        "-evaluate_msde_coarse_dns false -evaluate_msde_figures false -output " + dir + "/eval2", 2);
    INFO(r2.err);
    REQUIRE(r2.code == 0);
    CHECK(msrom::h5::File::open(dir + "/eval/msde_eval.h5").read("/eps/reconstruction") ==
          msrom::h5::File::open(dir + "/eval2/msde_eval.h5").read("/eps/reconstruction"));
  }
  // The same rollouts with each member's cells split over 2 ranks: bitwise.
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_samples 4 -output " + dir + "/roll1.h5");
  REQUIRE(r.code == 0);
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_samples 4 -predict_ranks_per_member 2 -output " +
              dir + "/roll2.h5",
          2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  {
    const auto r1 = msrom::h5::File::open(dir + "/roll1.h5"), r2 = msrom::h5::File::open(dir + "/roll2.h5");
    CHECK(r1.read("/ensemble/fields/u") == r2.read("/ensemble/fields/u"));
    CHECK(mean_eps(r1) == Approx(t.get("eps_mean.multiscale")).epsilon(1e-12));  // evaluate-msde's rollouts
  }
  // The stochastic Heun scheme: other fields than EM's, and the same bits on a member split over 2 ranks.
  // Heun rollouts of `model` (4 samples) with each member on 1 rank and split over 2: dir/<out>1.h5, <out>2.h5.
  auto heun_split = [&](const std::string& model, const std::string& out) {
    for (int np : {1, 2}) {
      r = run("ensemble -model " + dir + "/" + model + " -data " + data + " -predict_samples 4 -predict_integrator heun "
              "-predict_ranks_per_member " + std::to_string(np) + " -output " + dir + "/" + out + std::to_string(np) + ".h5",
              np);
      INFO(r.err);
      REQUIRE(r.code == 0);
    }
  };
  heun_split("a.h5", "heun");
  {
    const auto h1 = msrom::h5::File::open(dir + "/heun1.h5"), h2 = msrom::h5::File::open(dir + "/heun2.h5");
    CHECK(h1.read("/ensemble/fields/u") == h2.read("/ensemble/fields/u"));
    CHECK(h1.read("/ensemble/fields/u") != msrom::h5::File::open(dir + "/roll1.h5").read("/ensemble/fields/u"));
  }
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_integrator rk4 -output " + dir + "/bad.h5");
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("-predict_integrator") != std::string::npos);
  CHECK(!exists(dir + "/bad.h5"));
  // -predict_noise_scale 0 from the encoder mean: every sample is the drift's ODE, so 3 samples average to
  // the 1-sample rollout, on a member split over 2 ranks too; a negative scale exits 2.
  const std::string ode = "ensemble -model " + dir + "/a.h5 -data " + data +
                          " -predict_noise_scale 0 -predict_sample_initial false ";
  r = run(ode + "-predict_samples 1 -output " + dir + "/ode1.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = run(ode + "-predict_samples 3 -predict_ranks_per_member 2 -output " + dir + "/ode3.h5", 2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  {
    const auto o1 = msrom::h5::File::open(dir + "/ode1.h5").read("/ensemble/fields/u");
    const auto o3 = msrom::h5::File::open(dir + "/ode3.h5").read("/ensemble/fields/u");
    REQUIRE(o1.size() == o3.size());
    double diff = 0, size = 0;
    for (std::size_t i = 0; i < o1.size(); ++i) diff = std::max(diff, std::abs(o1[i] - o3[i])), size = std::max(size, std::abs(o1[i]));
    CHECK(diff <= 1e-13 * size);
    CHECK(o1 != msrom::h5::File::open(dir + "/heun1.h5").read("/ensemble/fields/u"));
  }
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_noise_scale -1 -output " + dir + "/bad.h5");
  CHECK(r.code == 2);
  CHECK(lines(r.err) == 1);
  CHECK(r.err.find("-predict_noise_scale") != std::string::npos);
  CHECK(!exists(dir + "/bad.h5"));
  // A global model's member is not split.
  REQUIRE(run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -output " + dir + "/g.h5").code == 0);
  const auto gl = run("ensemble -model " + dir + "/g.h5 -data " + data +
                          " -predict_ranks_per_member 2 -output " + dir + "/roll3.h5",
                      2);
  CHECK(gl.code == 2);
  CHECK(gl.err.find("-predict_ranks_per_member") != std::string::npos);
  // A local stage does not continue a global run.
  const auto g = run(learn + dir + "/c.h5 -msde_eta_schedule 1,2 -msde_init " + dir + "/a.h5 -msde_eta_field global");
  CHECK(g.code == 2);
  CHECK(g.err.find("-msde_init") != std::string::npos);
  // A drift of time, local: a member split over 2 ranks (Heun: the drift at both ends of a step) rolls out
  // bitwise as on 1; and global: stored as such and rolled out.
  r = run(learn + dir + "/t.h5 -msde_drift_time");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(msrom::h5::File::open(dir + "/t.h5").read_double_attribute("/msde/eta_1", "drift_time") == 1.0);
  heun_split("t.h5", "timeh");
  CHECK(msrom::h5::File::open(dir + "/timeh1.h5").read("/ensemble/fields/u") ==
        msrom::h5::File::open(dir + "/timeh2.h5").read("/ensemble/fields/u"));
  r = run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -msde_drift_time -output " + dir +
          "/gt.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(msrom::h5::File::open(dir + "/gt.h5").read_double_attribute("/msde/eta_1", "drift_time") == 1.0);
  CHECK(msrom::h5::File::open(dir + "/g.h5").read_double_attribute("/msde/eta_1", "drift_time") == 0.0);
  r = run("ensemble -model " + dir + "/gt.h5 -data " + data + " -output " + dir + "/rollt.h5");
  INFO(r.err);
  CHECK(r.code == 0);
}

// learn-msde on a 2-D ci data set (-> 8 x 8 coarse cells, 5 x 5 CNN kernels, n_eta 0 then 2, 20 + 20 steps) on
// 1 rank (dir/a.h5) and on 2 ranks (dir/b.h5): the trained parameters are bitwise the same, fine_ny is the grid's.
// Returns the learn-msde command up to its -output, for more runs.
static std::string learn_2d_one_and_two_ranks(const std::string& dir, const std::string& data, int window, int fine_ny,
                                              const std::string& sizes = "-msde_n_zeta 64") {
  const std::string learn = "learn-msde -data " + data + " " + sizes + " -msde_cnn_kernel 5 -msde_iterations 20,20 "
                            "-msde_eta_schedule 0,2 -msde_window " + std::to_string(window) +
                            " -msde_val_every 10 -progress never -output ";
  auto r = run(learn + dir + "/a.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = run(learn + dir + "/b.h5", 2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto a = msrom::h5::File::open(dir + "/a.h5"), b = msrom::h5::File::open(dir + "/b.h5");
  CHECK(a.read("/msde/eta_2/params") == b.read("/msde/eta_2/params"));
  CHECK(a.read_double_attribute("/msde/eta_2", "fine_ny") == static_cast<double>(fine_ny));
  return learn;
}

// msrom simulate of an input file into a new directory under scratch(); returns the data file's path.
static std::string simulate_into(const std::string& dir, const std::string& yaml) {
  msrom::make_output_directory("test", dir);
  const std::string data = dir + "/data.h5";
  const auto r = run("simulate -options_file_yaml " + kInputs + yaml + " -progress never -output " + data);
  INFO(r.err);
  REQUIRE(r.code == 0);
  return data;
}

// A local-eta model (`learn` + -msde_eta_field local) rolled out by ensemble on 1 rank and with each member's
// cells split over 2 ranks: the fields are bitwise the same. Returns the 1-rank file's shape of the fields.
// The local model trained with `extra` options into TAG.h5, rolled out into TAG1.h5 (1 rank) and TAG2.h5.
static msrom::h5::Shape local_rollouts_one_and_two_ranks(const std::string& dir, const std::string& learn,
                                                         const std::string& data, const std::string& extra = "",
                                                         const std::string& tag = "loc") {
  const std::string p = dir + "/" + tag;
  auto r = run(learn + p + ".h5 -msde_eta_field local " + extra);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const std::string roll = "ensemble -model " + p + ".h5 -data " + data + " -predict_samples 4 ";
  r = run(roll + "-output " + p + "1.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = run(roll + "-predict_ranks_per_member 2 -output " + p + "2.h5", 2);
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto r1 = msrom::h5::File::open(p + "1.h5"), r2 = msrom::h5::File::open(p + "2.h5");
  CHECK(r1.read("/ensemble/fields/u") == r2.read("/ensemble/fields/u"));
  const double e = mean_eps(r1);
  CHECK(std::isfinite(e));
  CHECK(e < 1.0);
  return r1.shape("/ensemble/fields/u");
}

TEST_CASE("learn-msde on a 2-D field (Burgers 2-D ci): 1 and 2 ranks bitwise, rolled out and scored on the grid",
          "[integration][msde][2d]") {
  const std::string dir = scratch() + "/msde_2d", data = simulate_into(dir, "burgers2d_ci.yaml");
  msrom::it::Result r;
  // 64 x 64 -> 8 x 8 cells (stride 8).
  const std::string learn = learn_2d_one_and_two_ranks(dir, data, 16, 64);
  const auto a = msrom::h5::File::open(dir + "/a.h5");
  CHECK(a.read_double_attribute("/msde/eta_2", "n_zeta") == 64.0);
  r = run("evaluate-msde -data " + data + " -model " + dir + "/a.h5 -predict_samples 4 -evaluate_msde_figures false "
          "-output " + dir + "/eval", 2);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto t = msrom::Metrics::read(dir + "/eval/metrics.json");
  for (const char* k : {"coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"}) {
    CAPTURE(k);
    CHECK(std::isfinite(t.get(std::string("eps_mean.") + k)));
  }
  CHECK(t.get("eps_mean.dmd") < 0.2);  // the bump moves little in t <= 0.05: DMD of 4096 points follows it
  CHECK(msrom::h5::File::open(dir + "/eval/msde_eval.h5").shape("/fields/truth") == msrom::h5::Shape{51, 64, 64});
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_samples 4 -output " + dir + "/roll.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  {
    const auto f = msrom::h5::File::open(dir + "/roll.h5");
    CHECK(f.shape("/ensemble/fields/u") == msrom::h5::Shape{1, 51, 64, 64});
    CHECK(mean_eps(f) == Approx(t.get("eps_mean.multiscale")).epsilon(1e-12));  // evaluate-msde's rollouts
  }
  // A 2-D model does not take 1-D data.
  r = run("ensemble -model " + dir + "/a.h5 -data " + msde_data() + " -output " + dir + "/roll1d.h5");
  CHECK(r.code == 2);
  CHECK(r.err.find("-data") != std::string::npos);
  CHECK(!exists(dir + "/roll1d.h5"));
  // A local eta on the 8 x 8 cells: each member's cells split over 2 ranks (a 1 x 2 DMDA) roll out bitwise as
  // on one rank.
  CHECK(local_rollouts_one_and_two_ranks(dir, learn, data) == msrom::h5::Shape{1, 51, 64, 64});
  // Stencils reading copies of the edge cells beyond the walls (Burgers 2-D has u = 0 there): stored, and split
  // over 2 ranks (the DMDA's ghosts beyond the edges read as the edge cells) bitwise as on one; the rollouts
  // differ from the periodic model's.
  CHECK(local_rollouts_one_and_two_ranks(dir, learn, data, "-msde_stencil_boundary replicate", "edge") ==
        msrom::h5::Shape{1, 51, 64, 64});
  CHECK(msrom::h5::File::open(dir + "/edge.h5").read_string_attribute("/msde/eta_2", "stencil_boundary") == "replicate");
  CHECK(msrom::h5::File::open(dir + "/loc.h5").read_string_attribute("/msde/eta_2", "stencil_boundary") == "periodic");
  CHECK(msrom::h5::File::open(dir + "/edge1.h5").read("/ensemble/fields/u") !=
        msrom::h5::File::open(dir + "/loc1.h5").read("/ensemble/fields/u"));
  r = run(learn + dir + "/bad_boundary.h5 -msde_stencil_boundary wall");
  CHECK(r.code == 2);
  CHECK(r.err.find("-msde_stencil_boundary") != std::string::npos);
  CHECK(!exists(dir + "/bad_boundary.h5"));
}

TEST_CASE("The multiscale model of a 2-component field split in time (cylinder wake ci): learned, scored, rolled out",
          "[integration][msde][cylinder_wake]") {
  const std::string dir = scratch() + "/msde_cyl", data = simulate_into(dir, "cylinder_wake_ci.yaml");
  msrom::it::Result r;
  // (u, v) on 40 x 20 points -> 2 x 10 x 5 cells (stride 4; two CNN strides of 2). Train t <= 0.2: 6 snapshots.
  const std::string learn = learn_2d_one_and_two_ranks(dir, data, 4, 40, "-msde_n_zeta 50 -msde_cnn_channels 4,8");
  const auto a = msrom::h5::File::open(dir + "/a.h5");
  CHECK(a.read_double_attribute("/msde/eta_2", "fields") == 2.0);
  CHECK(a.read_double_attribute("/msde/eta_2", "n_zeta") == 100.0);
  CHECK(a.read_double_attribute("/msde/eta_2", "n_y") == 1600.0);
  CHECK(a.exists("/msde/eta_2/history/validation"));  // the validation split is (0.2, 0.3] of the one member
  // The coarse DNS: the window alone on 10 x 5 cells of 4 x 4 points.
  r = run("evaluate-msde -data " + data + " -model " + dir + "/a.h5 -predict_samples 4 -evaluate_msde_figures false "
          "-coarse_nx 10 -output " + dir + "/eval");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("coarse DNS: the window alone") != std::string::npos);
  const auto t = msrom::Metrics::read(dir + "/eval/metrics.json");
  for (const char* k : {"coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"}) {
    CAPTURE(k);
    CHECK(std::isfinite(t.get(std::string("eps_mean.") + k)));
    CHECK(t.get(std::string("eps_mean.") + k) < 1.0);
  }
  {  // the test split: t >= 0.3, snapshots 8, 9, 10 (t = 0.32, 0.36, 0.4); the truth is the data's (u, v) there
    const auto e = msrom::h5::File::open(dir + "/eval/msde_eval.h5"), d = msrom::h5::File::open(data);
    REQUIRE(e.shape("/fields/truth") == (msrom::h5::Shape{3, 2, 40, 20}));
    CHECK(e.read_strings_attribute("/fields", "components") == std::vector<std::string>{"u", "v"});
    CHECK(e.read("/time").front() == Approx(0.32));
    const auto truth = e.read("/fields/truth");
    const auto u8 = d.read_slab("/fields/u", {0, 8, 0, 0}, {1, 1, 40, 20}), v8 = d.read_slab("/fields/v", {0, 8, 0, 0}, {1, 1, 40, 20});
    CHECK(std::equal(u8.begin(), u8.end(), truth.begin()));
    CHECK(std::equal(v8.begin(), v8.end(), truth.begin() + 800));
  }
  CHECK(t.get("eps_mean.coarse_dns") > 0.01);  // 10 x 5 cells do not hold the wake
  // The default coarse grid (blocks of 10 x 10 points, the paper's 32 x 8 on 320 x 80) gives 4 x 2 cells here,
  // too few for the solver: exit 2 naming -coarse_nx.
  r = run("evaluate-msde -data " + data + " -model " + dir + "/a.h5 -evaluate_msde_figures false -output " + dir + "/eval_bad");
  CHECK(r.code == 2);
  CHECK(r.err.find("-coarse_nx") != std::string::npos);
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_samples 4 -output " + dir + "/roll.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  {
    const auto f = msrom::h5::File::open(dir + "/roll.h5");
    CHECK(f.shape("/ensemble/fields/u") == (msrom::h5::Shape{1, 3, 2, 40, 20}));
    CHECK(mean_eps(f) == Approx(t.get("eps_mean.multiscale")).epsilon(1e-12));  // evaluate-msde's rollouts
  }
  // A model of one component does not take the two-component data.
  const std::string one = dir + "/one.h5";
  {
    const auto d = msrom::h5::File::open(data);
    const auto u = d.read("/fields/u");
    msrom::h5::OutputFile out(one, MPI_COMM_SELF);
    out.write("/fields/u", d.shape("/fields/u"), u.data());
    out.write("/time", d.read("/time"));
    out.write("/split", d.read("/split"));
    out.attribute("/", "system_train_end", 0.2);
    out.attribute("/", "system_validation_end", 0.3);
    out.commit();
  }
  std::string learn_one = learn;
  learn_one.replace(learn_one.find(data), data.size(), one);
  r = run(learn_one + dir + "/one_model.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = run("ensemble -model " + dir + "/one_model.h5 -data " + data + " -output " + dir + "/bad.h5");
  CHECK(r.code == 2);
  CHECK(r.err.find("-data") != std::string::npos);
  CHECK(r.err.find("2 field components, the model 1") != std::string::npos);
  CHECK(!exists(dir + "/bad.h5"));
  // A local eta on the 10 x 5 cells of both components: split over 2 ranks, bitwise as on one.
  CHECK(local_rollouts_one_and_two_ranks(dir, learn, data) == (msrom::h5::Shape{1, 3, 2, 40, 20}));
}

TEST_CASE("The 2-D cases' files drive learn-msde, evaluate-msde and ensemble (shallow water, cylinder wake ci)",
          "[integration][msde][inputs]") {
  // The msde: and predict: sections are the commands'; system:, ts: and simulate: are simulate's (a case
  // parsed for the coarse DNS does not make them evaluate-msde's).
  for (const std::string c : {"shallow_water", "cylinder_wake"}) {
    CAPTURE(c);
    const std::string dir = scratch() + "/msde_inputs_" + c, data = simulate_into(dir, c + "_ci.yaml");
    const std::string yaml = "-options_file_yaml " + kInputs + c + "_ci.yaml -data " + data + " ";
    auto r = run("learn-msde " + yaml + "-progress never -output " + dir + "/m.h5");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto m = msrom::h5::File::open(dir + "/m.h5");
    CHECK(m.read("/msde/stages") == std::vector<double>{0, 1});
    CHECK(m.exists("/msde/eta_1/history/selection") == (c == "cylinder_wake"));  // its file selects
    r = run("evaluate-msde " + yaml + "-model " + dir + "/m.h5 -evaluate_msde_figures false -output " + dir + "/eval" +
            (c == "cylinder_wake" ? " -coarse_nx 10" : ""));
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto t = msrom::Metrics::read(dir + "/eval/metrics.json");
    for (const char* k : {"coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"}) {
      CAPTURE(k);
      CHECK(std::isfinite(t.get(std::string("eps_mean.") + k)));
    }
    r = run("ensemble " + yaml + "-model " + dir + "/m.h5 -output " + dir + "/roll.h5");
    INFO(r.err);
    REQUIRE(r.code == 0);
    CHECK(msrom::h5::File::open(dir + "/roll.h5").read_double_attribute("/ensemble", "samples") == 4.0);
    // A misspelt option on the command line is still refused.
    r = run("evaluate-msde " + yaml + "-model " + dir + "/m.h5 -system_typo 1 -output " + dir + "/eval2");
    CHECK(r.code == 2);
    CHECK(r.err.find("-system_typo") != std::string::npos);
  }
}

TEST_CASE("learn-msde -msde_select_every: the final stage keeps the step with the lowest validation rollout eps",
          "[integration][msde][select]") {
  const std::string dir = scratch() + "/msde_select", data = simulate_into(dir, "cylinder_wake_ci.yaml");
  msrom::it::Result r;
  // A learning rate far too large makes the eps wander: the lowest is not the last (measured: step 320 of 400).
  const std::string base = "learn-msde -data " + data + " -msde_n_zeta 50 -msde_cnn_kernel 3 -msde_cnn_channels 2,4 "
                           "-msde_macro_hidden 16 -msde_micro_hidden 16 -msde_eta_schedule 0,1 -msde_iterations 1,400 "
                           "-msde_lr_stage 0.3 -msde_window 4 -msde_select_every 4 -progress never -output ";
  r = run(base + dir + "/ref.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto t = msrom::Metrics::read(dir + "/metrics.json");
  const double kept = t.get("selected_step.eta_1"), best = t.get("selected_val_eps.eta_1");
  CHECK(kept < 400);
  CHECK(best < t.get("final_val_eps.eta_1"));
  const auto ref = msrom::h5::File::open(dir + "/ref.h5");
  const auto curve = ref.read("/msde/eta_1/history/selection");  // (step, eps) pairs: 4, 8, .., 400
  REQUIRE(curve.size() == 200);
  for (std::size_t q = 0; q < curve.size(); q += 2) {
    CHECK(curve[q] == 4.0 * double(q / 2 + 1));
    CHECK(curve[q + 1] >= best);
  }
  CHECK(!ref.exists("/msde/eta_0/history/selection"));  // only the final stage is selected
  // The stored model IS the selected one: its validation rollouts (the same samples and seed) give that eps.
  r = run("evaluate-msde -data " + data + " -model " + dir + "/ref.h5 -predict_split validation -predict_samples 8 "
          "-evaluate_msde_figures false -evaluate_msde_coarse_dns false -output " + dir + "/eval");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(msrom::Metrics::read(dir + "/eval/metrics.json").get("eps_mean.multiscale") == Approx(best).epsilon(1e-12));
  // With 3 Euler-Maruyama steps per snapshot interval, as evaluate-msde -predict_substeps 3; this run with
  // -progress always into a file (a batch log): a line per milestone, each selection and each stage's end.
  std::string loud = base;
  loud.replace(loud.find("-progress never"), 15, "-progress always");
  r = run(loud + dir + "/sub.h5 -msde_select_substeps 3");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.find("learn-msde: stage n_eta = 0 done: 1 steps in ") != std::string::npos);
  CHECK(r.err.find("learn-msde: stage n_eta = 1, step 4: validation eps ") != std::string::npos);
  CHECK(r.err.find("learn-msde: stage n_eta = 1 done: 400 steps in ") != std::string::npos);
  {
    std::size_t notes = 0;
    for (std::size_t at = r.err.find(": validation eps "); at != std::string::npos; at = r.err.find(": validation eps ", at + 1))
      ++notes;
    CHECK(notes == 100);  // steps 4, 8, .., 400
  }
  const double best3 = msrom::Metrics::read(dir + "/metrics.json").get("selected_val_eps.eta_1");
  r = run("evaluate-msde -data " + data + " -model " + dir + "/sub.h5 -predict_split validation -predict_samples 8 "
          "-predict_substeps 3 -evaluate_msde_figures false -evaluate_msde_coarse_dns false -output " + dir + "/eval3");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(msrom::Metrics::read(dir + "/eval3/metrics.json").get("eps_mean.multiscale") == Approx(best3).epsilon(1e-12));
  // Interrupted after the kept step (the first checkpoint is at step 330) and continued: the kept parameters
  // come from the checkpoint, bit for bit.
  const std::string out = dir + "/model.h5", args = base + out + " -msde_checkpoint_every 330";
  CHECK(interrupted(args, out + ".ckpt", "TERM") == 3);
  r = run(args + " -restart");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const auto b = msrom::h5::File::open(out);
  CHECK(b.read("/msde/eta_1/params") == ref.read("/msde/eta_1/params"));
  CHECK(b.read("/msde/eta_1/history/selection") == curve);
  // Without a validation split there is nothing to select by.
  const std::string noval = dir + "/noval.h5";
  r = run("simulate -options_file_yaml " + kInputs + "kdv_ci.yaml -simulate_train 2 -simulate_validation 0 "
          "-simulate_test 1 -progress never -output " + noval);
  INFO(r.err);
  REQUIRE(r.code == 0);
  r = run("learn-msde -data " + noval + " -msde_select_every 4 -output " + dir + "/bad.h5");
  CHECK(r.code == 2);
  CHECK(r.err.find("-msde_select_every") != std::string::npos);
  CHECK(!exists(dir + "/bad.h5"));
}

TEST_CASE("evaluate-msde -evaluate_msde_statistics: spectrum, PDF and ACF of the data and of the models",
          "[integration][msde][statistics]") {
  const std::string data = msde_data(), dir = scratch() + "/msde_stats";
  msrom::make_output_directory("test", dir);
  REQUIRE(run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -output " + dir + "/m.h5").code == 0);
  const auto r = run("evaluate-msde -data " + data + " -model " + dir + "/m.h5 -evaluate_msde_statistics -stats_samples 3 "
                     "-stats_max_lag 20 -stats_bins 50 -evaluate_msde_coarse_dns false -evaluate_msde_figures false "
                     "-output " + dir + "/eval",
                     2);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("long-run statistics, multiscale") != std::string::npos);
  const auto m = msrom::Metrics::read(dir + "/eval/metrics.json");
  for (const char* k : {"stats_spectrum_error.multiscale", "stats_kl_pdf.implicit_scale", "stats_acf_error.multiscale"}) {
    CAPTURE(k);
    REQUIRE(m.has(k));
    CHECK(std::isfinite(m.get(k)));
  }
  const auto f = msrom::h5::File::open(dir + "/eval/msde_eval.h5");
  // The data's spectrum: the mean of power_spectrum over the snapshots of one split, recomputed here.
  const auto d = msrom::h5::File::open(data);
  const auto split = d.read("/split");
  const auto u = d.read("/fields/u");
  const auto sh = d.shape("/fields/u");
  auto mean_spectrum = [&](double which) {
    std::vector<double> want(sh[2] / 2 + 1, 0.0);
    double count = 0;
    for (std::size_t k = 0; k < sh[0]; ++k) {
      if (split[k] != which) continue;
      for (std::size_t n = 0; n < sh[1]; ++n) {
        const auto e = msrom::analysis::power_spectrum(&u[(k * sh[1] + n) * sh[2]], sh[2]);
        for (std::size_t q = 0; q < e.size(); ++q) want[q] += e[q];
        count += 1;
      }
    }
    for (double& w : want) w /= count;
    return want;
  };
  const auto want = mean_spectrum(2);
  const auto got = f.read("/stats/data/spectrum");
  REQUIRE(got.size() == want.size());
  for (std::size_t q = 0; q < want.size(); ++q) CHECK(got[q] == Approx(want[q]).epsilon(1e-12));
  CHECK(f.read_string_attribute("/stats", "split") == "test");
  // Densities integrate to 1 (no sample left the padded range on this short run), ACFs start at 1.
  const auto grid = f.read("/stats/pdf_grid");
  const double dx = grid[1] - grid[0];
  for (const char* g : {"/stats/data", "/stats/multiscale", "/stats/implicit_scale"}) {
    CAPTURE(g);
    double mass = 0;
    for (double p : f.read(std::string(g) + "/pdf")) mass += p * dx;
    CHECK(mass == Approx(1.0).epsilon(1e-9));
    const auto a = f.read(std::string(g) + "/acf");
    REQUIRE(a.size() == 21);
    CHECK(a[0] == Approx(1.0).epsilon(1e-12));
  }
  // Another reference (-stats_data FILE -stats_split S: a longer, independent DNS run): the data's
  // statistics are that split's, while the eps table still scores -predict_split.
  const auto r2 = run("evaluate-msde -data " + data + " -model " + dir + "/m.h5 -evaluate_msde_statistics -stats_samples 3 "
                      "-stats_max_lag 20 -stats_bins 50 -stats_data " + data + " -stats_split validation "
                      "-evaluate_msde_coarse_dns false -evaluate_msde_figures false -output " + dir + "/eval_val");
  INFO(r2.out << r2.err);
  REQUIRE(r2.code == 0);
  const auto f2 = msrom::h5::File::open(dir + "/eval_val/msde_eval.h5");
  const auto want_val = mean_spectrum(1);
  const auto got_val = f2.read("/stats/data/spectrum");
  REQUIRE(got_val.size() == want_val.size());
  for (std::size_t q = 0; q < want_val.size(); ++q) CHECK(got_val[q] == Approx(want_val[q]).epsilon(1e-12));
  CHECK(f2.read_string_attribute("/stats", "split") == "validation");
  CHECK(f2.read("/eps/multiscale") == f.read("/eps/multiscale"));
  CHECK(msrom::Metrics::read(dir + "/eval_val/metrics.json").get("stats_spectrum_error.multiscale") !=
        m.get("stats_spectrum_error.multiscale"));
  // Bad references exit 2 naming the option.
  const std::string e = "evaluate-msde -data " + data + " -model " + dir + "/m.h5 -evaluate_msde_coarse_dns false "
                        "-evaluate_msde_figures false -output " + dir + "/eval_bad ";
  // learn-msde -msde_select_by spectrum keeps the final-stage step whose validation rollouts have the lowest
  // spectrum error: evaluate-msde's figure for the kept model on the validation split (same samples, seed).
  const std::string sel = dir + "/sel.h5";
  const auto rs = run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -msde_iterations 4,12 "
                      "-msde_lr_stage 0.05 -msde_select_every 2 -msde_select_by spectrum -output " + sel);
  INFO(rs.err);
  REQUIRE(rs.code == 0);
  const auto ms = msrom::Metrics::read(dir + "/metrics.json");
  const auto curve = msrom::h5::File::open(sel).read("/msde/eta_1/history/selection");
  REQUIRE(curve.size() == 12);
  double lowest = INFINITY;
  for (std::size_t q = 1; q < curve.size(); q += 2) lowest = std::min(lowest, curve[q]);
  CHECK(ms.get("selected_val_eps.eta_1") == lowest);
  CHECK(ms.get("selected_step.eta_1") < 12);  // lr 0.05 makes the spectrum wander (measured: step 4 kept)
  const auto rv = run("evaluate-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -data " + data + " -model " + sel +
                      " -predict_split validation -evaluate_msde_statistics -stats_samples 8 -stats_max_lag 0 "
                      "-evaluate_msde_coarse_dns false -evaluate_msde_figures false -output " + dir + "/eval_sel");
  INFO(rv.err);
  REQUIRE(rv.code == 0);
  CHECK(msrom::Metrics::read(dir + "/eval_sel/metrics.json").get("stats_spectrum_error.multiscale") ==
        Approx(lowest).epsilon(1e-12));
  check_bad_inputs({{"learn-msde -data " + data + " -msde_select_by spectrum -output " + dir + "/bad.h5", "-msde_select_by"},
                    {"learn-msde -data " + data + " -msde_select_every 2 -msde_select_by rms -output " + dir + "/bad.h5",
                     "-msde_select_by"}},
                   {dir + "/bad.h5"});
  check_bad_inputs({{e + "-evaluate_msde_statistics -stats_data " + dir + "/missing.h5", dir + "/missing.h5"},
                    {e + "-stats_data " + data, "-stats_data"},
                    {e + "-evaluate_msde_statistics -stats_max_lag 100000 -stats_data " + data, "-stats_max_lag"}},
                   {dir + "/eval_bad/metrics.json"});
}

TEST_CASE("learn-msde, evaluate-msde, ensemble with /msde: bad input exits 2 with one line, no output",
          "[integration][msde][bad_input]") {
  const std::string data = msde_data(), dir = scratch() + "/msde_bad";
  msrom::make_output_directory("test", dir);
  const std::string out = dir + "/model.h5";
  const std::string l = "learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -output " + out + " -data ";
  const std::string foreign = dir + "/foreign.ckpt";
  { std::ofstream(foreign) << "not hdf5"; }
  check_bad_inputs({{"learn-msde -output " + out, "-data"},
                    {l + dir + "/missing.h5", dir + "/missing.h5"},
                    {l + data + " -msde_eta_schedule 1,0", "-msde_eta_schedule"},
                    {l + data + " -msde_eta_schedule 0,1.5", "-msde_eta_schedule"},
                    {l + data + " -msde_n_zeta 7", "-msde_n_zeta"},
                    {l + data + " -msde_window 500", "-msde_window"},
                    {l + data + " -msde_cnn_kernel 4", "-msde_cnn_kernel"},
                    {l + data + " -msde_lr -1", "-msde_lr"},
                    {l + data + " -msde_typo 1", "-msde_typo"},
                    {l + data + " -msde_iterations 4,4,4", "-msde_iterations"},  // 3 counts, 2 stages
                    {l + data + " -msde_shoot_stride 0", "-msde_shoot_stride"},
                    {l + data + " -msde_shoot_weight -1", "-msde_shoot_weight"},
                    {l + data + " -msde_ema 1", "-msde_ema"},
                    {l + data + " -msde_window_sampling edges", "-msde_window_sampling"},
                    {l + data + " -restart -msde_checkpoint " + foreign, foreign},
                    {"learn-msde -data " + data + " -output /nonexistent_dir/model.h5", "-output"}},
                   {out, out + ".part", dir + "/metrics.json"});
  // A model file to evaluate with: the ensemble and evaluate-msde refuse what does not fit.
  REQUIRE(run(l + data).code == 0);
  {  // -msde_iterations with one count per stage
    const std::string per = dir + "/per_stage.h5";
    const auto r = run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -output " + per + " -data " + data +
                       " -msde_iterations 3,5");
    INFO(r.err);
    REQUIRE(r.code == 0);
    const auto f = msrom::h5::File::open(per);
    CHECK(f.read("/msde/eta_0/history/loss").size() == 3);
    CHECK(f.read("/msde/eta_1/history/loss").size() == 5);
  }
  {  // -msde_shoot_horizon: the first step's loss (the same parameters) grows by the shooting term, beta = 1
    auto first_loss = [&](const std::string& name, const std::string& extra) {
      const std::string path = dir + "/" + name;
      const auto r = run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -output " + path + " -data " + data +
                         " -msde_eta_schedule 0 -msde_iterations 2 -msde_kl_anneal 0" + extra);
      INFO(r.err);
      REQUIRE(r.code == 0);
      return msrom::h5::File::open(path).read("/msde/eta_0/history/loss").at(0);
    };
    const double plain = first_loss("plain.h5", ""), shot = first_loss("shoot.h5", " -msde_shoot_horizon 4");
    CHECK(shot > plain);
    // -msde_window_sampling snapshots: other windows (vi::draw_window), so another first loss.
    CHECK(first_loss("by_snapshot.h5", " -msde_window_sampling snapshots") != plain);
  }
  {  // -msde_ema d: the stored parameters are the running average of the iterates theta_0..theta_3, which are
     // the parameters of the runs of 0..3 steps (the training is deterministic). A large learning rate makes
     // the selection's scores non-monotone, so the kept average is not the last one.
    auto params = [&](int steps, const std::string& extra) {
      const std::string path = dir + "/ema" + std::to_string(steps) + extra.substr(extra.empty() ? 0 : 1, 3) + ".h5";
      const auto r = run("learn-msde -options_file_yaml " + kInputs + "kdv_ci.yaml -output " + path + " -data " + data +
                         " -msde_eta_schedule 0 -msde_val_every 0 -msde_lr 3 -msde_iterations " +
                         std::to_string(steps) + extra);
      INFO(r.err);
      REQUIRE(r.code == 0);
      const auto v = msrom::h5::File::open(path).read("/msde/eta_0/params");
      return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size())).eval();
    };
    std::vector<Eigen::VectorXd> avg{params(0, "")};  // the averages after 0..3 steps
    for (int k = 1; k <= 3; ++k) avg.push_back(0.75 * avg.back() + (1 - 0.75) * params(k, ""));
    const Eigen::VectorXd got = params(3, " -msde_ema 0.75");
    CHECK((got - avg[3]).norm() <= 1e-14 * avg[3].norm());
    CHECK((got - params(3, "")).norm() > 1e-6 * avg[3].norm());
    // With the selection, the kept parameters are the average with the lowest score.
    const Eigen::VectorXd kept = params(3, " -msde_ema 0.75 -msde_select_every 1 -msde_select_samples 2");
    const auto sel = msrom::h5::File::open(dir + "/ema3-ms.h5").read("/msde/eta_0/history/selection");
    REQUIRE(sel.size() == 6);  // (step, eps) after steps 1, 2, 3
    std::size_t k = 0;
    for (std::size_t q = 1; q < 3; ++q)
      if (sel[2 * q + 1] < sel[2 * k + 1]) k = q;
    REQUIRE(k < 2);  // measured: eps 0.467, 0.492, 1.503
    CHECK((kept - avg[k + 1]).norm() <= 1e-14 * avg[k + 1].norm());
  }
  const std::string e = "evaluate-msde -data " + data + " -output " + dir + "/eval -model ";
  const std::string ens = "ensemble -model " + out + " -output " + dir + "/roll.h5 -data ";
  check_bad_inputs({{e + data, data},                                   // no /msde
                    {e + dir + "/missing.h5", dir + "/missing.h5"},
                    {"evaluate-msde -data " + data + " -output " + dir + "/eval", "-model"},
                    {e + out + " -dmd_rank 0", "-dmd_rank"},
                    {e + out + " -predict_split bogus", "-predict_split"},
                    {ens + data + " -predict_stage 3", "n_eta = 3"},
                    {"ensemble -model " + out + " -output " + dir + "/roll.h5", "-data"},
                    {ens + data + " -predict_samples 0", "-predict_samples"}},
                   {dir + "/eval/metrics.json", dir + "/eval/msde_eval.h5", dir + "/roll.h5", dir + "/roll.h5.part"});
}

TEST_CASE("Method B on shallow water (ci): simulate, learn-msde on 1 and 2 ranks, evaluate-msde, ensemble",
          "[integration][msde][shallow_water]") {
  const std::string dir = scratch() + "/msde_sw", data = dir + "/data.h5";
  msrom::make_output_directory("test", dir);
  auto r = run("simulate -options_file_yaml " + kInputs + "shallow_water_ci.yaml -progress never -output " + data);
  INFO(r.err);
  REQUIRE(r.code == 0);
  // 32 x 32 cells -> 8 x 8 (stride 4); 11 snapshots.
  learn_2d_one_and_two_ranks(dir, data, 8, 32);
  // The coarse-DNS column: the shallow-water solver on the model's 8 x 8 cells (the evaluate-msde default).
  r = run("evaluate-msde -data " + data + " -model " + dir + "/a.h5 -predict_samples 4 -evaluate_msde_figures false "
          "-output " + dir + "/eval", 2);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  const auto t = msrom::Metrics::read(dir + "/eval/metrics.json");
  for (const char* k : {"coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"}) {
    CAPTURE(k);
    CHECK(std::isfinite(t.get(std::string("eps_mean.") + k)));
  }
  {
    const auto cd = msrom::h5::File::open(dir + "/eval/coarse_dns/rollouts.h5");
    CHECK(cd.shape("/ensemble/fields/u_coarse") == msrom::h5::Shape{1, 11, 8, 8});
    CHECK(cd.read_string_attribute("/", "integrator") == "ssp/rks3");
    CHECK(cd.read("/ensemble/status") == std::vector<double>{0});
    CHECK(t.get("eps_mean.coarse_dns") > 0.05);  // the 8 x 8 cells smear the dam: well above the noise
    CHECK(t.get("eps_mean.coarse_dns") < 1.0);
  }
  CHECK(msrom::h5::File::open(dir + "/eval/msde_eval.h5").shape("/fields/truth") == msrom::h5::Shape{11, 32, 32});
  r = run("ensemble -model " + dir + "/a.h5 -data " + data + " -predict_samples 4 -output " + dir + "/roll.h5");
  INFO(r.err);
  REQUIRE(r.code == 0);
  {
    const auto f = msrom::h5::File::open(dir + "/roll.h5");
    CHECK(f.shape("/ensemble/fields/u") == msrom::h5::Shape{1, 11, 32, 32});
    CHECK(mean_eps(f) == Approx(t.get("eps_mean.multiscale")).epsilon(1e-12));  // evaluate-msde's rollouts
  }
}
