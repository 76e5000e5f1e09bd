// libFuzzer target: arbitrary bytes as a YAML case file (-options_file_yaml), loaded by the program's own path
// (Session::load_options: PETSc's YAML parser under the return error handler), then read by every command's
// option readers, as `msrom pipeline` and the single commands read them, and checked for unread options.
// Seeds: tests/fuzz/corpus/options and inputs/*.yaml; dictionary: tests/fuzz/options.dict.
//
// PETSc 3.18 leaks its libyaml parser (about 67 KB) on every file libyaml cannot parse:
// PetscOptionsInsertStringYAML returns from its parse-error check before yaml_parser_delete. The program exits
// right after that error (exit 2), so it costs nothing there; in a fuzzer process it adds up to gigabytes. So
// only the first kMalformed such files go to PETSc (the error path is covered by then; libFuzzer sees no new
// coverage in the rest), the others are dropped after a libyaml check of the same text (PETSc parses the
// file's text up to its first NUL).
#include <petscsys.h>
#include <yaml.h>

#include <cstring>

#include "fuzz_common.hpp"
#include "msrom/analysis/data_stats.hpp"
#include "msrom/analysis/evaluate.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/session.hpp"
#include "msrom/node/learn_forcing.hpp"
#include "msrom/pde/coarse_dns.hpp"
#include "msrom/pde/pde.hpp"
#include "msrom/pde/simulate.hpp"
#include "msrom/rom/ensemble.hpp"
#include "msrom/rom/learn_drift.hpp"
#include "msrom/rom/roms.hpp"
#include "msrom/score/score_model.hpp"
#include "msrom/systems/simulate.hpp"
#include "msrom/systems/system.hpp"

using namespace msrom;

namespace {

constexpr int kMalformed = 200;

bool libyaml_parses(const std::uint8_t* data, std::size_t size) {
  const auto* end = static_cast<const std::uint8_t*>(std::memchr(data, 0, size));
  const std::size_t n = end ? static_cast<std::size_t>(end - data) : size;
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) std::abort();
  yaml_parser_set_input_string(&parser, data, n);
  const bool ok = yaml_parser_load(&parser, &doc) != 0;
  if (ok) yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  return ok;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  fuzz::init(argc, argv, "input.yaml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static int malformed = 0;
  if (!libyaml_parses(data, size) && ++malformed > kMalformed) return 0;
  fuzz::write_file(fuzz::scratch_path("input.yaml"), data, size);
  if (PetscOptionsClear(nullptr)) std::abort();
  bool loaded = false;
  fuzz::stage("load_options", [&] {
    fuzz::session().load_options();
    loaded = true;
  });
  if (!loaded) return 0;
  // The readers of every command; each may reject its own options, the others still read theirs.
  fuzz::stage("pipeline", [] {
    Options p("pipeline");
    p.string("output", "run", "output directory");
    p.strings("pipeline_stages", {"simulate", "stats"}, "stages");
    p.flag("pipeline_figures", true, "figures");
  });
  fuzz::stage("simulate", [] {
    Options sys("system");
    std::vector<std::string> types;
    for (const auto& [t, d] : pde::case_types()) types.push_back(t);
    for (const auto& [t, d] : systems::system_types()) types.push_back(t);
    const std::string type = sys.choice("system_type", "bistable", types, "system");
    Options run("simulate");
    if (pde::is_case(type)) {
      const auto pde = pde::make_case(type, sys);
      pde::read_fields_options(pde, run, false);
    } else {
      systems::make_system(sys);
      systems::read_simulate_options(run, false);
    }
  });
  fuzz::stage("stats", [] { analysis::read_stats_options(Options("stats"), false); });
  fuzz::stage("learn-score", [] { score::read_learn_score_options(Options("learn-score"), false); });
  fuzz::stage("learn-drift", [] { rom::read_learn_drift_options(Options("learn-drift"), false); });
  fuzz::stage("learn-forcing", [] { node::read_learn_forcing_options(Options("learn-forcing"), false); });
  fuzz::stage("ensemble(pipeline)", [] { rom::read_ensemble_options(Options("ensemble"), false, "ensemble_"); });
  fuzz::stage("ensemble", [] {
    Options o("ensemble");
    rom::read_ensemble_options(o, false);
    rom::make_rom("double_well", o);
  });
  fuzz::stage("evaluate", [] { analysis::read_evaluate_options(Options("evaluate"), false); });
  fuzz::stage("coarse-dns", [] { pde::read_coarse_dns_options(Options("coarse-dns")); });
  // The check for options nothing read, with the program's list of sections (src/cli/common.cpp).
  fuzz::stage("reject_unused_options", [] {
    reject_unused_options({"system_", "simulate_", "stats_", "lyapunov_", "pipeline_", "score_", "ensemble_",
                           "langevin_", "evaluate_", "rollouts", "ts_", "members", "seed", "pde_", "nn_", "dataset",
                           "data", "progress"});
  });
  return 0;
}
