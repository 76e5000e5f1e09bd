#include "fuzz_common.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <petscsys.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <set>
#include <typeinfo>
#include <vector>

#include "msrom/analysis/data_stats.hpp"
#include "msrom/analysis/evaluate.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/session.hpp"
#include "msrom/rom/ensemble.hpp"
#include "msrom/rom/langevin.hpp"
#include "msrom/rom/roms.hpp"
#include "msrom/score/score_model.hpp"

namespace msrom::fuzz {

namespace {
Session* g_session = nullptr;
std::string g_scratch;
std::set<std::string> g_runtime_messages;
}  // namespace

void init(int* argc, char*** argv, const std::string& options_file) {
  (void)argc;
  // OpenMPI and PETSc install signal handlers (SIGSEGV, SIGABRT, ...) that print their own report and exit;
  // libFuzzer does not replace a handler that is already there, so it would never see the crash nor save the
  // input. Both are told not to.
  setenv("OMPI_MCA_opal_signal", "", 1);
  const char* petsc = std::getenv("PETSC_OPTIONS");
  setenv("PETSC_OPTIONS", (std::string(petsc ? petsc : "") + " -no_signal_handler").c_str(), 1);
  const char* tmp = std::getenv("TMPDIR");
  g_scratch = std::string(tmp && *tmp ? tmp : "/tmp") + "/msrom_fuzz_" + std::to_string(getpid());
  make_output_directory("scratch", g_scratch);
  // The Session sees only the program name (and the options file): libFuzzer's flags are not msrom options.
  static std::vector<std::string> words{(*argv)[0]};
  if (!options_file.empty()) words.insert(words.end(), {"-options_file_yaml", scratch_path(options_file)});
  static std::vector<char*> args;
  for (auto& w : words) args.push_back(w.data());
  args.push_back(nullptr);
  static int sargc = static_cast<int>(words.size());
  static char** sargv = args.data();
  g_session = new Session(sargc, sargv, /*petsc_args=*/false);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  // make_rom reads it (read_as_model builds the phase current itself, on a small grid).
  PetscOptionsSetValue(nullptr, "-langevin_phase_current", "false");
}

Session& session() { return *g_session; }
const std::string& scratch() { return g_scratch; }
std::string scratch_path(const std::string& name) { return g_scratch + "/" + name; }

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {
    std::fprintf(stderr, "fuzz: cannot write '%s'\n", path.c_str());
    std::abort();
  }
}

void stage(const char* name, const std::function<void()>& f) {
  // Debugging a finding: MSROM_FUZZ_TRACE=1 names each stage and prints HDF5's error stacks.
  if (std::getenv("MSROM_FUZZ_TRACE")) {
    std::fprintf(stderr, "fuzz: stage %s\n", name);
    H5Eset_auto2(H5E_DEFAULT, reinterpret_cast<H5E_auto2_t>(H5Eprint2), stderr);
  }
  try {
    f();
  } catch (const InputError& e) {
    if (std::getenv("MSROM_FUZZ_TRACE")) std::fprintf(stderr, "fuzz: stage %s: InputError: %s\n", name, e.what());
  } catch (const RuntimeError& e) {
    if (g_runtime_messages.size() < 20 && g_runtime_messages.insert(e.what()).second)
      std::fprintf(stderr, "fuzz: note: %s: RuntimeError (exit 1, not 2) on this input: %s\n", name, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: FINDING: %s: non-msrom exception %s: %s\n", name, typeid(e).name(), e.what());
    std::fflush(stderr);
    std::abort();
  }
}

std::string seed_file(const std::string& target, const std::string& name) {
  return std::string(MSROM_SOURCE_DIR) + "/tests/fuzz/corpus/" + target + "/" + name;
}

void read_as_data(const std::string& path) {
  // learn-score, learn-drift, learn-forcing: the training/validation split of the dataset.
  stage("read_training_data", [&] { score::read_training_data(path, "/state", 0.8, 2, MPI_COMM_SELF); });
  stage("read_training_data(clock)", [&] { score::read_training_data(path, "/state", 0.8, 2, MPI_COMM_SELF, 0.002); });
  // A tiny learn-score run of each method: the data go through normalisation, k-means and the fits.
  for (const char* method : {"kgmm", "dsm"}) {
    stage(method, [&] {
      score::LearnScoreConfig c;
      c.data = path;
      c.output = scratch_path("learned_model.h5");
      c.method = method;
      c.kgmm.clusters = 4;
      c.kgmm.partition_samples = 64;
      c.kgmm.lloyd_iterations = 3;
      c.kgmm.min_passes = 1;
      c.kgmm.max_passes = 2;
      c.hidden = {4};
      c.epochs = 2;
      c.batch = 8;
      c.dsm_samples = 32;
      c.dsm_epochs = 1;
      c.grid_points = 32;
      score::learn_score(c, MPI_COMM_SELF);
    });
  }
  // msrom stats.
  stage("stats", [&] {
    analysis::StatsConfig c;
    c.data = path;
    c.output_dir = scratch_path("stats");
    c.grid_points = 64;
    analysis::data_stats(c);
  });
  // msrom evaluate, the file as the data and as the rollouts.
  stage("evaluate(-data)", [&] {
    analysis::EvaluateConfig c;
    c.data = path;
    c.rollouts = seed_file("data_h5", "rollouts.h5");
    c.output_dir = scratch_path("evaluate");
    c.grid_points = 64;
    analysis::evaluate(c);
  });
  stage("evaluate(-rollouts)", [&] {
    analysis::EvaluateConfig c;
    c.data = seed_file("data_h5", "data.h5");
    c.rollouts = path;
    c.output_dir = scratch_path("evaluate");
    c.grid_points = 64;
    analysis::evaluate(c);
  });
}

void read_as_model(const std::string& path) {
  // learn-drift reads the score part only.
  stage("ScoreModel::load", [&] { score::ScoreModel::load(h5::File::open(path, "-model")); });
  // ensemble and learn-forcing: the whole Langevin model.
  stage("LangevinModel::load", [&] { rom::LangevinModel::load(h5::File::open(path, "-model")); });
  // The phase current of a clock model, as make_rom builds it, on a small grid (make_rom's 256 x 2048 table
  // would take most of the time of every input with a clock model; init() switches it off there).
  stage("phase_current", [&] {
    auto m = rom::LangevinModel::load(h5::File::open(path, "-model"));
    m.build_phase_current(8, 16);
    m.phase_current(0.3, 1.0);
  });
  // msrom ensemble: make_rom, then a drift evaluation and a short run.
  stage("ensemble", [&] {
    Options opts("ensemble");
    auto rom = rom::make_rom(path, opts);
    Eigen::MatrixXd u(rom->dim(), 5), f(rom->dim(), 5);
    for (Eigen::Index j = 0; j < u.cols(); ++j) u.col(j).setConstant(-2.0 + static_cast<double>(j));
    rom->drift(0.5, u, f);
    rom::EnsembleConfig c;
    c.members = 3;
    c.dt = 0.01;
    c.burn_in = 0.05;
    c.steps = 40;
    c.save_every = 4;
    c.stats_every = 2;
    c.max_lag = 0.1;
    c.bins = 16;
    c.integrator = "loop";
    c.output = scratch_path("rollouts.h5");
    c.checkpoint = "";
    c.progress = ProgressMode::never;
    rom::run_ensemble(*rom, c, MPI_COMM_SELF);
  });
}

}  // namespace msrom::fuzz
