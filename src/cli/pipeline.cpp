// msrom pipeline: the stages a case file names, in order, into one directory, with the figures and one
// merged metrics.json.
//
//   DIR/data.h5        simulate
//   DIR/stats.h5       stats (PDF, ACF, residence times of the data)
//   DIR/model.h5       learn-score, learn-drift, learn-forcing (/forcing, and /baseline_node when the stages
//                      include forecast, which needs it)
//   DIR/rollouts.h5    ensemble; DIR/evaluate.h5 evaluate; DIR/forecast.h5 forecast
//   DIR/metrics.json   every stage's metrics, merged
//   DIR/figures/*.png  tools/plot_stats.py (Debian's python3-matplotlib), unless -pipeline_figures false
//
// Sample runs:
//   msrom pipeline -options_file_yaml inputs/bistable.yaml -output runs/bistable
//   mpiexec -n 2 msrom pipeline -options_file_yaml inputs/bistable_ci.yaml -output /tmp/ci -pipeline_figures false
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "commands.hpp"
#include "msrom/analysis/data_stats.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/options.hpp"
#include "msrom/analysis/evaluate.hpp"
#include "msrom/node/learn_forcing.hpp"
#include "msrom/rom/forecast.hpp"
#include "msrom/rom/learn_drift.hpp"
#include "msrom/rom/roms.hpp"
#include "msrom/score/score_model.hpp"
#include "msrom/systems/simulate.hpp"

namespace msrom::cli {

namespace {

// Stage headings on rank 0, flushed so they stay in order with the children's output when piped.
void heading(const std::string& text) {
  if (rank() != 0) return;
  std::printf("== %s\n", text.c_str());
  std::fflush(stdout);
}

}  // namespace

int pipeline(Session&) {
  // 1. Options of the pipeline and of every stage it runs (all read before any work).
  Options p("pipeline");
  const std::string dir = p.string("output", "run", "output directory");
  const auto stages = p.strings("pipeline_stages", {"simulate", "stats"}, "stages to run, in order "
                                "(simulate, stats, lyapunov, learn-score, learn-drift, learn-forcing, ensemble, "
                                "evaluate, forecast)");
  const bool figures = p.flag("pipeline_figures", true, "draw PNG figures with tools/ (python3-matplotlib)");
  bool do_sim = false, do_stats = false, do_lyap = false, do_score = false, do_drift = false, do_ens = false,
       do_eval = false, do_forcing = false, do_forecast = false;
  for (const auto& s : stages) {
    if (s == "simulate") do_sim = true;
    else if (s == "stats") do_stats = true;
    else if (s == "lyapunov") do_lyap = true;
    else if (s == "learn-score") do_score = true;
    else if (s == "learn-drift") do_drift = true;
    else if (s == "ensemble") do_ens = true;
    else if (s == "evaluate") do_eval = true;
    else if (s == "learn-forcing") do_forcing = true;
    else if (s == "forecast") do_forecast = true;
    else throw InputError("-pipeline_stages: unknown stage '" + s + "' (simulate, stats, lyapunov, learn-score, "
                          "learn-drift, learn-forcing, ensemble, evaluate, forecast)");
  }
  Options sys("system");
  auto system = systems::make_system(sys);
  Options sim_opts("simulate");
  auto sim = systems::read_simulate_options(sim_opts, false);
  Options stats_opts("stats");
  auto st = analysis::read_stats_options(stats_opts, false);
  Options lyap_opts("lyapunov");
  const auto lyap = read_lyapunov_options(lyap_opts, false);
  Options score_opts("learn-score");
  auto score_cfg = score::read_learn_score_options(score_opts, false);
  Options drift_opts("learn-drift");
  auto drift_cfg = rom::read_learn_drift_options(drift_opts, false);
  Options forcing_opts("learn-forcing");
  auto forcing_cfg = node::read_learn_forcing_options(forcing_opts, false);
  Options ens_opts("ensemble");
  auto ens_cfg = rom::read_ensemble_options(ens_opts, false, "ensemble_");
  const double ens_phi = ens_opts.positive("ensemble_phi", 1.0, "Phi of the analytic models (ou, double_well)");
  (void)ens_phi;  // read here so a case file may set it; the pipeline's ensemble is the learned model
  Options eval_opts("evaluate");
  auto eval_cfg = analysis::read_evaluate_options(eval_opts, false);
  Options forecast_opts("forecast");
  auto forecast_cfg = rom::read_forecast_options(forecast_opts, false);
  read_nn_kernel_option();
  if (finish_options("usage: msrom pipeline -options_file_yaml inputs/CASE.yaml -output DIR")) return 0;

  make_output_directory("-output", dir);
  sim.output = join_path(dir, "data.h5");
  st.data = sim.output;
  st.output_dir = dir;
  score_cfg.data = sim.output;
  score_cfg.output = join_path(dir, "model.h5");
  drift_cfg.data = sim.output;
  drift_cfg.model = score_cfg.output;
  forcing_cfg.data = sim.output;
  forcing_cfg.model = score_cfg.output;
  forecast_cfg.data = sim.output;
  forecast_cfg.model = score_cfg.output;
  forecast_cfg.output = join_path(dir, "forecast.h5");
  ens_cfg.model = score_cfg.output;
  ens_cfg.output = join_path(dir, "rollouts.h5");
  ens_cfg.checkpoint = ens_cfg.output + ".ckpt";
  eval_cfg.data = sim.output;
  eval_cfg.rollouts = ens_cfg.output;
  eval_cfg.output_dir = dir;
  Metrics metrics;

  // 2. The stages, in the order of the data flow.
  if (do_sim) {
    heading("simulate -> " + sim.output);
    const auto r = systems::simulate(*system, sim, MPI_COMM_WORLD);
    metrics.set("simulate_seconds", r.seconds);
    metrics.set("simulate_steps_per_second_per_rank", r.steps_per_second_per_rank);
  }
  if (do_stats) {
    heading("stats of " + st.data);
    metrics.merge(analysis::data_stats(st));
  }
  if (do_lyap) {
    heading("lyapunov of " + system->type());
    metrics.merge(run_lyapunov(*system, lyap));
  }

  if (do_score) {
    heading("learn-score (" + score_cfg.method + ") -> " + score_cfg.output);
    metrics.merge(score::learn_score(score_cfg, MPI_COMM_WORLD));
  }

  if (do_drift) {
    heading("learn-drift -> " + drift_cfg.model + " (/langevin)");
    metrics.merge(rom::learn_drift(drift_cfg, MPI_COMM_WORLD));
  }
  if (do_forcing) {
    heading("learn-forcing -> " + forcing_cfg.model + " (/forcing)");
    const Metrics fm = node::learn_forcing(forcing_cfg, MPI_COMM_WORLD);
    metrics.merge(fm);
    if (do_forecast) {
      // The forecast's baseline: the same NODE procedure on x itself, with the forcing's embedding.
      auto base = forcing_cfg;
      base.series = "state";
      base.group = "/baseline_node";
      base.tau = fm.get("tau.forcing");
      heading("learn-forcing -forcing_series state -> " + base.model + " (/baseline_node)");
      const Metrics bm = node::learn_forcing(base, MPI_COMM_WORLD);
      for (const auto& [k, v] : bm.values()) metrics.set(k + "_baseline", v);
    }
  }
  if (do_ens) {
    heading("ensemble of " + ens_cfg.model + " -> " + ens_cfg.output);
    Options rom_opts("ensemble");
    auto model = rom::make_rom(ens_cfg.model, rom_opts);
    rom::install_signal_handlers();
    const auto r = rom::run_ensemble(*model, ens_cfg, MPI_COMM_WORLD);
    if (r.interrupted) return rom::kExitCheckpointed;
    metrics.set("ensemble_seconds", r.seconds);
    metrics.set("ensemble_member_steps_per_second", r.member_steps_per_second);
    // The streaming statistics as <metric>.<model>_stream (evaluate reports the trajectories' below).
    for (const auto& [k, v] : r.metrics.values()) metrics.set(k + "_stream", v);
  }
  if (do_eval) {
    heading("evaluate " + eval_cfg.rollouts + " against " + eval_cfg.data);
    // evaluate's data metrics come from the validation part: keep stats' full-data ones under .data.
    const Metrics evaluated = analysis::evaluate(eval_cfg);
    for (const auto& [k, v] : evaluated.values()) {
      const auto dot = k.rfind(".data");
      metrics.set(dot != std::string::npos && dot + 5 == k.size() ? k.substr(0, dot) + ".data_validation" : k, v);
    }
  }

  if (do_forecast) {
    heading("forecast of " + forecast_cfg.data + " -> " + forecast_cfg.output);
    if (forecast_cfg.lyapunov_time == 0 && metrics.has("lyapunov_time." + system->type()))
      forecast_cfg.lyapunov_time = metrics.get("lyapunov_time." + system->type());
    metrics.merge(rom::forecast(forecast_cfg, MPI_COMM_WORLD));
  }

  // 3. One merged metrics.json, the figures, the table.
  if (rank() == 0) {
    metrics.write(join_path(dir, "metrics.json"));
    if (figures && (do_stats || do_score || do_eval || do_forecast)) heading("figures -> " + join_path(dir, "figures"));
    if (figures && do_eval) run_figures("plot_evaluate.py", "'" + dir + "'");
    if (figures && do_stats) run_figures("plot_stats.py", "'" + dir + "'");
    if (figures && do_forecast) run_figures("plot_forecast.py", "'" + forecast_cfg.output + "'");
    if (figures && do_score)
      run_figures("plot_score.py", "'" + score_cfg.output + "' --data '" + score_cfg.data + "' --out '" +
                                       join_path(dir, "figures") + "'");
  }
  heading("metrics (" + join_path(dir, "metrics.json") + ")");
  print_metrics(metrics);
  return 0;
}

}  // namespace msrom::cli
