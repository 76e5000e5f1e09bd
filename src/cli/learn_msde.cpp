// msrom learn-msde: the stochastic multiscale model of Ilersich & Nair (2025) learned by amortized
// variational inference (vi/train.hpp) on the train split of a field data set, through the augmentation
// schedule n_eta = 0 -> 1 -> ... (vi/msde_io.hpp) -> model.h5:/msde/eta_<k>, metrics.json beside it.
//
//   data:      y_model = (y - mean) / std, mean and std over the train split (stored: norm_mean, norm_scale)
//   stage k:   n_eta = schedule[k]; stage 0 from the seed (Xavier-normal, biases 0), stage k > 0 from stage
//              k - 1 (init_from_previous_stage), -msde_iterations Adam steps (one count, or one per stage),
//              lr -msde_lr at stage 0 and -msde_lr_stage after, times 0.9 every 2000 steps;
//              beta = clip((it - warm)/1600, 0, 1)
//              from it = 0 in every stage; windows of B = 64 snapshots shuffled across trajectories
//   validation: the mean -ELBO per snapshot (beta = 1) on tiled windows of the validation split, every
//              -msde_val_every steps and at the end of each stage
//   selection: with -msde_select_every N, the final stage's validation trajectories are rolled out from
//              their y_0 every N steps and at the end (-msde_select_samples samples, -msde_select_substeps
//              Euler-Maruyama steps per snapshot interval, seed -msde_seed), and
//              the stored final stage is the parameters with the lowest mean eps = ||y - y_hat|| / ||y||:
//              the ELBO scores one-step transitions of encoded windows, eps the whole rollout, and a lower
//              -ELBO need not give a lower eps (docs/vi.md section 15). History: /history/selection.
//              -msde_select_by spectrum scores the rollouts' long-run energy spectrum instead (the max relative
//              error over k = 1..n_zeta/2 against the validation trajectories', as evaluate-msde
//              -evaluate_msde_statistics): for chaotic systems, where eps saturates near 1 after a Lyapunov time.
//   shooting:  -msde_shoot_horizon K adds the multiple-shooting term of vi/elbo.hpp to every window's ELBO (each
//              encoded snapshot integrated K intervals by the drift, -msde_shoot_substeps Heun steps each, scored
//              against the encoded later snapshots, weight -msde_shoot_weight): beyond the paper, for rollouts
//              whose error is an accumulated drift bias (docs/vi.md section 4). The loss curves include it.
//   windows:   -msde_window_sampling snapshots draws a uniform snapshot and the window around it (vi/train.hpp),
//              so that a trajectory's early states (the sharpest, for a dam break or a decaying field) are not
//              seen (nt - B + 1) times less often than its middle ones.
//   averaging: -msde_ema d keeps theta_avg <- d theta_avg + (1 - d) theta after every step (from the stage's
//              first parameters); the validation loss and the selection score theta_avg, and each stage stores
//              it: the rollout eps of neighbouring checkpoints scatters far more than the ELBO moves (docs/vi.md
//              sections 14-16), and an average of the iterates is the usual cure. In the checkpoint too.
//   checkpoint: every -msde_checkpoint_every steps of a stage, at the start of every later stage (with that
//              option), and on SIGTERM/SIGUSR1 (then exit 3) to
//              -msde_checkpoint (default OUTPUT.ckpt): finished stages, the current parameters, Adam's
//              moments and step count, the history; -restart continues bit for bit (same options, any
//              rank count: the training is rank-count independent).
//   -msde_init FILE: extend another run. FILE's stages below the schedule's first n_eta are kept as they are,
//              the first stage starts from FILE's final stage (the same n_eta: that stage is trained further,
//              its history rows continue), and FILE's normalisation is used. `-msde_eta_schedule 0
//              -msde_iterations 20000` then `-msde_init stage0.h5 -msde_eta_schedule 1,2,3,4,5` equals the one
//              run `-msde_iterations 20000,N` bit for bit (tested). A continued stage restarts the KL annealing
//              and the lr schedule; -msde_kl_anneal 0 gives beta = 1 from its first step.
//
// Sample runs:
//   msrom learn-msde -data runs/kdv/data.h5 -output runs/kdv/model.h5
//   mpiexec -n 2 msrom learn-msde -options_file_yaml inputs/kdv_ci.yaml -data data.h5 -output model.h5
//   msrom learn-msde ... -msde_checkpoint_every 500; after a SIGTERM: msrom learn-msde ... -restart
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdio>
#include <memory>
#include <sstream>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/nn/kernel.hpp"
#include "msrom/core/progress.hpp"
#include "msrom/vi/msde_io.hpp"
#include "msrom/vi/predict.hpp"
#include "msrom/vi/train.hpp"

namespace msrom::cli {

namespace {

volatile std::sig_atomic_t g_msde_signal = 0;
extern "C" void on_msde_signal(int s) {
  g_msde_signal = s;
}

constexpr int kExitCheckpointedMsde = 3;  // as rom::kExitCheckpointed

std::vector<int> ints_of(const std::vector<double>& v, const std::string& option, int min) {
  std::vector<int> out;
  for (double x : v) {
    if (x != std::floor(x) || x < min || x > 1e6)
      throw InputError("-" + option + ": entries must be integers >= " + std::to_string(min));
    out.push_back(static_cast<int>(x));
  }
  return out;
}

std::string parent_dir(const std::string& path) {
  const auto p = path.find_last_of('/');
  return p == std::string::npos ? "." : (p == 0 ? "/" : path.substr(0, p));
}

struct Stage {
  std::unique_ptr<vi::MsdeModel> model;
  vi::StageHistory history;
  std::vector<std::pair<int, double>> val;  // (iteration, validation loss)
  std::vector<std::pair<int, double>> sel;  // (iteration, validation rollout eps): -msde_select_every
  double seconds = 0;
};

std::vector<double> flat_pairs(const std::vector<std::pair<int, double>>& v) {
  std::vector<double> out;
  for (const auto& [i, x] : v) {
    out.push_back(i);
    out.push_back(x);
  }
  return out;
}

// (step, value) pairs stored flat (the history's validation and selection curves), and back.
std::vector<std::pair<int, double>> pairs_of(const std::vector<double>& x) {
  std::vector<std::pair<int, double>> v;
  for (std::size_t q = 0; q + 1 < x.size(); q += 2) v.emplace_back(static_cast<int>(x[q]), x[q + 1]);
  return v;
}

void push(vi::StageHistory& h, const vi::TrainOptions::Report& r) {
  h.loss.push_back(r.loss);
  h.log_likelihood.push_back(r.log_likelihood);
  h.drift_residual.push_back(r.drift_residual);
  h.beta.push_back(r.beta);
  h.lr.push_back(r.lr);
}

void write_history(h5::OutputFile& out, const std::string& g, const vi::StageHistory& h) {
  out.write(g + "/loss", h.loss);
  out.write(g + "/log_likelihood", h.log_likelihood);
  out.write(g + "/drift_residual", h.drift_residual);
  out.write(g + "/beta", h.beta);
  out.write(g + "/lr", h.lr);
}

vi::StageHistory read_history(const h5::File& f, const std::string& g) {
  vi::StageHistory h;
  h.loss = f.read(g + "/loss");
  h.log_likelihood = f.read(g + "/log_likelihood");
  h.drift_residual = f.read(g + "/drift_residual");
  h.beta = f.read(g + "/beta");
  h.lr = f.read(g + "/lr");
  return h;
}

}  // namespace

int learn_msde(Session& session) {
  Options opts("learn_msde");
  const std::string data = opts.string("data", "", "field data set written by msrom simulate (train and validation splits)");
  const std::string output = opts.string("output", "model.h5", "model file to write (/msde/eta_<k>); metrics.json beside it");
  vi::MsdeConfig c;
  c.n_zeta = static_cast<int>(opts.integer("msde_n_zeta", 20, "coarse cells n_zeta (must divide the grid; per component of a multi-component field)", 1));
  auto schedule = ints_of(opts.reals("msde_eta_schedule", {0, 1, 2, 3, 4, 5},
                                     "augmentation schedule: n_eta of each stage (increasing; 0 = implicit-scale)"),
                          "msde_eta_schedule", 0);
  c.stencil_radius = static_cast<int>(opts.integer("msde_stencil_radius", 2, "macro drift stencil radius", 0, 50));
  c.macro_hidden = ints_of(opts.reals("msde_macro_hidden", {128, 128}, "macro drift hidden widths"), "msde_macro_hidden", 1);
  c.micro_hidden =
      ints_of(opts.reals("msde_micro_hidden", {128, 512, 128}, "micro drift hidden widths"), "msde_micro_hidden", 1);
  c.cnn_channels =
      ints_of(opts.reals("msde_cnn_channels", {4, 16, 64}, "eta encoder CNN channels (decoder mirrors)"), "msde_cnn_channels", 1);
  c.cnn_kernel = static_cast<int>(opts.integer("msde_cnn_kernel", 25, "CNN kernel width (odd)", 1, 1001));
  c.local_eta = opts.choice("msde_eta_field", "global", {"global", "local"},
                            "eta: n_eta global variables (the paper), or n_eta channels per coarse cell") == "local";
  c.stencil_boundary = nn::stencil_boundary_from_string(
      opts.choice("msde_stencil_boundary", "periodic", {"periodic", "zero", "replicate"},
                  "what the drifts' stencils read beyond the coarse grid's edges: the wrapped-around cells (the paper), "
                  "or, for fields with walls or outflow (Burgers 2-D, the cylinder window), zeros or copies of the edge "
                  "cell"));
  c.drift_time = opts.flag("msde_drift_time", false, "the micro drift also reads the time t (the authors' code does)");
  if (c.cnn_kernel % 2 == 0) throw InputError("-msde_cnn_kernel: must be odd (got " + std::to_string(c.cnn_kernel) + ")");
  c.seed = static_cast<std::uint64_t>(opts.integer("msde_seed", 1, "seed of the initial weights, windows and eps", 0));
  vi::TrainOptions to;
  to.seed = c.seed;
  auto iterations = ints_of(opts.reals("msde_iterations", {20000}, "Adam steps per stage: one value for every stage, "
                                                                   "or one per stage of the schedule"),
                            "msde_iterations", 0);
  if (iterations.size() == 1) iterations.assign(schedule.size(), iterations[0]);
  if (iterations.size() != schedule.size())
    throw InputError("-msde_iterations: " + std::to_string(iterations.size()) + " values for a schedule of " +
                     std::to_string(schedule.size()) + " stages (give one, or one per stage)");
  to.window = static_cast<int>(opts.integer("msde_window", 64, "B: snapshots per window", 2, 100000));
  to.windows_per_step = static_cast<int>(opts.integer("msde_windows_per_step", 1, "windows per Adam step (spread over ranks)", 1, 100000));
  to.sampling = opts.choice("msde_window_sampling", "starts", {"starts", "snapshots"}, "how windows are drawn: every "
                            "start alike (the paper's; a trajectory's first and last snapshots are in 1 of nt - B + 1 "
                            "windows), or a uniform snapshot and a window around it moved inside the trajectory (the "
                            "ends in about half as many windows as the middle)") == "snapshots"
                    ? vi::WindowSampling::snapshots
                    : vi::WindowSampling::starts;
  const double lr0 = opts.positive("msde_lr", 1e-3, "Adam learning rate of the first stage");
  const double lr_stage = opts.positive("msde_lr_stage", 1e-4, "Adam learning rate of the later stages");
  const double decay = opts.real("msde_lr_decay", 0.9, "learning-rate factor every -msde_lr_every steps", 0, 1, true);
  const long every = opts.integer("msde_lr_every", 2000, "steps between learning-rate decays", 1);
  to.schedule = nn::Schedule::step_decay(decay, every);
  to.kl_warmup = static_cast<int>(opts.integer("msde_kl_warmup", 0, "KL annealing: beta = clip((it - warmup) / anneal, 0, 1)", 0));
  to.kl_anneal = static_cast<int>(opts.integer("msde_kl_anneal", 1600, "KL annealing length (0: a step at warmup)", 0));
  const int val_every = static_cast<int>(opts.integer("msde_val_every", 1000, "steps between validation losses (0: stage ends only)", 0));
  const int val_windows = static_cast<int>(opts.integer("msde_val_windows", 16, "validation windows (tiling the split)", 1));
  const int select_every = static_cast<int>(opts.integer("msde_select_every", 0, "the final stage keeps the parameters "
      "whose validation rollouts have the lowest eps, scored every N steps and at the end (0: the last parameters)", 0));
  const int select_samples = static_cast<int>(opts.integer("msde_select_samples", 8, "latent samples per validation "
      "rollout of -msde_select_every", 1, 100000));
  const int select_substeps = static_cast<int>(opts.integer("msde_select_substeps", 1, "Euler-Maruyama steps per "
      "snapshot interval of the validation rollouts of -msde_select_every (as -predict_substeps)", 1, 100000));
  const auto select_integrator = vi::integrator_from_string(opts.choice("msde_select_integrator", "em", {"em", "heun"},
      "SDE scheme of the validation rollouts of -msde_select_every (as -predict_integrator)"), "-msde_select_integrator");
  const std::string select_by = opts.choice("msde_select_by", "eps", {"eps", "spectrum"}, "the score of -msde_select_every: "
      "the validation rollouts' eps, or the max relative error of their long-run energy spectrum over the resolved "
      "wavenumbers (chaotic systems, where pointwise eps saturates)");
  to.shooting.horizon = static_cast<int>(opts.integer("msde_shoot_horizon", 0, "multiple shooting: every window's "
      "encoded snapshots are integrated K snapshot intervals by the drift (Heun) and scored against the later ones, "
      "weighted by the k-interval transition variance (0: off, the paper's ELBO)", 0, 100000));
  to.shooting.substeps = static_cast<int>(opts.integer("msde_shoot_substeps", 1, "Heun steps per snapshot interval of "
      "-msde_shoot_horizon", 1, 100000));
  to.shooting.stride = static_cast<int>(opts.integer("msde_shoot_stride", 1, "the shooting starts from every N-th "
      "snapshot of a window (cost: horizon x substeps x window / N drift evaluations per window)", 1, 100000));
  to.shooting.weight = opts.real("msde_shoot_weight", 1.0, "lambda: the multiple-shooting term's weight in the ELBO", 0,
                                 1e12);
  const double ema = opts.real("msde_ema", 0, "parameter averaging: every stage keeps theta_avg <- d theta_avg + (1 - d) "
      "theta after each step, from the stage's first parameters, and stores, validates and selects theta_avg instead of "
      "theta (0: off; e.g. 0.999 averages over ~1000 steps)", 0, 1);
  if (ema >= 1) throw InputError("-msde_ema: must be below 1 (got " + std::to_string(ema) + ")");
  const int log_every = static_cast<int>(opts.integer("msde_log_every", 100, "steps per point of the loss curve in metrics.json", 1));
  const long ck_every = opts.integer("msde_checkpoint_every", 0, "checkpoint every N steps (0: on SIGTERM/SIGUSR1 only)", 0);
  const std::string ck_path = opts.string("msde_checkpoint", "", "checkpoint file (default: OUTPUT.ckpt)");
  const std::string init_path = opts.string("msde_init", "", "model file to start from: its stages below the schedule's "
                                                             "first are kept, and the first stage starts from its final one");
  const bool restart = opts.flag("restart", false, "continue from the checkpoint if there is one");
  const auto progress_mode = read_progress_mode(opts);
  read_nn_kernel_option();
  if (!session.positionals().empty()) throw InputError("unexpected argument '" + session.positionals()[0] + "'");
  if (finish_options("usage: msrom learn-msde -data data.h5 [-msde_eta_schedule 0,1,2,3,4,5] [-msde_iterations N|N0,N1,...] "
                     "[-msde_init model0.h5] [-restart] -output model.h5"))
    return 0;
  if (data.empty()) throw InputError("-data: no data file given");
  if (output.empty()) throw InputError("-output: no model file given");
  for (std::size_t k = 1; k < schedule.size(); ++k)
    if (schedule[k] <= schedule[k - 1]) throw InputError("-msde_eta_schedule: must increase");
  if (schedule.empty()) throw InputError("-msde_eta_schedule: no stage");
  check_output_path("-output", output);
  const std::string checkpoint = ck_path.empty() ? output + ".ckpt" : ck_path;
  check_output_path("-msde_checkpoint", checkpoint);
  const std::string metrics_path = join_path(parent_dir(output), "metrics.json");

  auto train = vi::read_trajectories(data, 0);
  std::unique_ptr<vi::Trajectories> val;
  {
    const auto f = h5::File::open(data, "-data");
    bool has_val = train.split_by_time;
    if (!has_val && f.exists("/split"))
      for (double v : f.read("/split")) has_val = has_val || v == 1;
    if (has_val) val = std::make_unique<vi::Trajectories>(vi::read_trajectories(data, 1));
  }
  // -msde_init: the stages of another run that this one extends (kept: those below the schedule's first n_eta)
  // and the final stage the first new stage starts from (the same n_eta: that stage is trained further). The
  // model was trained in that file's normalised coordinates, so its normalisation is used.
  std::vector<Stage> kept;
  std::unique_ptr<vi::MsdeModel> init_model;
  vi::StageHistory init_history;  // the final stage's, when the first new stage continues it
  std::vector<std::pair<int, double>> init_val;
  vi::Normalisation norm;
  if (!init_path.empty()) {
    const auto f = h5::File::open(init_path, "-msde_init");
    const auto stored = vi::msde_stages(f, "-msde_init");
    const int last = stored.back();
    if (last > schedule[0])
      throw InputError("-msde_init: '" + init_path + "' ends at n_eta = " + std::to_string(last) +
                       ", beyond the schedule's first stage n_eta = " + std::to_string(schedule[0]));
    auto read_val = [&](int k) {
      const std::string g = "/msde/eta_" + std::to_string(k) + "/history/validation";
      return f.exists(g) ? pairs_of(f.read(g)) : std::vector<std::pair<int, double>>{};
    };
    for (int k : stored) {
      if (k >= schedule[0]) continue;
      Stage st;
      st.model = std::make_unique<vi::MsdeModel>(vi::load_msde(f, k, "-msde_init").model);
      st.history = read_history(f, "/msde/eta_" + std::to_string(k) + "/history");
      st.val = read_val(k);
      kept.push_back(std::move(st));
    }
    auto loaded = vi::load_msde(f, last, "-msde_init");
    norm = loaded.norm;
    init_model = std::make_unique<vi::MsdeModel>(std::move(loaded.model));
    if (last == schedule[0]) {
      init_history = read_history(f, "/msde/eta_" + std::to_string(last) + "/history");
      init_val = read_val(last);
    }
  } else {
    norm = vi::fit_normalisation(train);
  }
  std::unique_ptr<vi::Trajectories> val_raw;  // the validation rollouts of -msde_select_every, in data units
  if (select_by != "eps" && select_every == 0) throw InputError("-msde_select_by: only with -msde_select_every");
  if (select_by == "spectrum" && train.fine_ny > 1)
    throw InputError("-msde_select_by spectrum: the energy spectrum is of 1-D fields; '" + data + "' is 2-D");
  if (select_every > 0) {
    if (!val) throw InputError("-msde_select_every: '" + data + "' has no validation split to select by");
    val_raw = std::make_unique<vi::Trajectories>(*val);
  }
  vi::normalise(train, norm);
  if (val) vi::normalise(*val, norm);
  c.n_y = static_cast<int>(train.u[0].rows());
  c.fine_ny = train.fine_ny;
  c.fields = train.fields();  // -msde_n_zeta counts the cells of one component; zeta has C channels on them
  c.n_zeta *= c.fields;
  {
    vi::MsdeConfig probe = c;  // the sizes are checked before any work (InputError names the cause)
    probe.n_eta = schedule.back();
    try {
      vi::MsdeModel check(probe);
    } catch (const InputError& e) {
      throw InputError(std::string("-msde_n_zeta / -msde_cnn_channels: ") + e.what());
    }
  }
  bool any_window = false;
  for (const auto& u : train.u) any_window = any_window || u.cols() >= to.window;
  if (!any_window) throw InputError("-msde_window: every train trajectory of '" + data + "' is shorter than " + std::to_string(to.window) + " snapshots");
  if (val) {
    bool vw = false;
    for (const auto& u : val->u) vw = vw || u.cols() >= to.window;
    if (!vw) val.reset();
  }

  if (init_model) {
    // Every parameter of the final stored stage must have its place in the first new stage.
    vi::MsdeConfig first = c;
    first.n_eta = schedule[0];
    vi::MsdeModel probe(first);
    try {
      vi::init_from_previous_stage(probe, *init_model);
    } catch (const InputError&) {
      throw InputError("-msde_init: '" + init_path + "': its final stage differs from this run's model in more than "
                       "n_eta (compare -msde_n_zeta, the widths, the CNN and the stencil options)");
    }
  }
  // The kept stages come first in the stored schedule; they take no steps.
  const std::size_t n_kept = kept.size();
  for (std::size_t k = n_kept; k-- > 0;) {
    schedule.insert(schedule.begin(), kept[k].model->n_eta);
    iterations.insert(iterations.begin(), 0);
  }

  // The run's identity: a checkpoint of another run is refused.
  std::ostringstream id;
  id << data << "|" << init_path << "|" << c.n_zeta << "|";
  for (int s : schedule) id << s << ",";
  id << "|";
  for (int n : iterations) id << n << ",";
  id << "|" << to.window << "|" << to.windows_per_step << "|" << lr0 << "|" << lr_stage << "|"
     << decay << "|" << every << "|" << to.kl_warmup << "|" << to.kl_anneal << "|" << c.seed << "|" << c.cnn_kernel
     << "|" << c.stencil_radius << "|" << c.local_eta << "|" << val_every << "|" << val_windows << "|" << nn::to_string(nn::kernel())
     << "|" << select_every << "|" << select_samples << "|" << select_substeps;
  // Options added later enter the identity only when not at their default, so older checkpoints still match.
  if (select_by != "eps") id << "|" << select_by;
  if (select_integrator != vi::Integrator::euler_maruyama) id << "|" << vi::to_string(select_integrator);
  if (ema > 0) id << "|ema" << ema;
  if (to.sampling == vi::WindowSampling::snapshots) id << "|snapshots";
  if (c.stencil_boundary != nn::StencilBoundary::periodic) id << "|boundary-" << nn::to_string(c.stencil_boundary);
  if (c.drift_time) id << "|time";
  if (to.shooting.horizon > 0)
    id << "|shoot" << to.shooting.horizon << "," << to.shooting.substeps << "," << to.shooting.stride << ","
       << to.shooting.weight;
  for (int h : c.macro_hidden) id << "m" << h;
  for (int h : c.micro_hidden) id << "u" << h;
  for (int h : c.cnn_channels) id << "c" << h;
  const std::string identity = id.str();

  std::vector<Stage> stages(schedule.size());
  for (std::size_t k = 0; k < n_kept; ++k) stages[k] = std::move(kept[k]);
  std::size_t si = n_kept;
  // A continued stage's rows follow the stored ones (the validation's step numbers too).
  const int continued_steps = static_cast<int>(init_history.loss.size());
  if (si < stages.size()) {
    stages[si].history = init_history;
    stages[si].val = init_val;
  }
  int start_it = 0;
  Eigen::VectorXd resume_theta, resume_m, resume_v, resume_best, resume_avg;
  std::int64_t resume_t = 0;
  bool resuming = false;
  if (restart && access(checkpoint.c_str(), R_OK) == 0) {
    const auto f = h5::File::open(checkpoint, "-restart");
    const std::string who = "-restart: '" + checkpoint + "': ";
    if (!f.exists("/checkpoint") || !f.has_attribute("/checkpoint", "identity"))
      throw InputError(who + "not a learn-msde checkpoint (no /checkpoint)");
    if (f.read_string_attribute("/checkpoint", "identity") != identity)
      throw InputError(who + "written by a run with different options or data");
    si = static_cast<std::size_t>(f.read_double_attribute("/checkpoint", "stage"));
    start_it = static_cast<int>(f.read_double_attribute("/checkpoint", "next_iteration"));
    if (si >= schedule.size()) throw InputError(who + "stage out of range");
    for (std::size_t k = 0; k < si; ++k) {
      auto loaded = vi::load_msde(f, schedule[k], "-restart");
      stages[k].model = std::make_unique<vi::MsdeModel>(std::move(loaded.model));
      stages[k].history = read_history(f, "/msde/eta_" + std::to_string(schedule[k]) + "/history");
      stages[k].val = pairs_of(f.read("/checkpoint/val_" + std::to_string(k)));
    }
    const auto th = f.read("/checkpoint/theta"), m = f.read("/checkpoint/adam_m"), v = f.read("/checkpoint/adam_v");
    resume_theta = Eigen::Map<const Eigen::VectorXd>(th.data(), static_cast<Eigen::Index>(th.size()));
    resume_m = Eigen::Map<const Eigen::VectorXd>(m.data(), static_cast<Eigen::Index>(m.size()));
    resume_v = Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
    resume_t = static_cast<std::int64_t>(f.read_double_attribute("/checkpoint", "adam_t"));
    stages[si].history = read_history(f, "/checkpoint/history");
    for (const auto& [i, l] : pairs_of(f.read("/checkpoint/val_" + std::to_string(si)))) stages[si].val.emplace_back(i, l);
    if (f.exists("/checkpoint/selection")) stages[si].sel = pairs_of(f.read("/checkpoint/selection"));
    if (f.exists("/checkpoint/selection_theta")) {
      const auto b = f.read("/checkpoint/selection_theta");
      resume_best = Eigen::Map<const Eigen::VectorXd>(b.data(), static_cast<Eigen::Index>(b.size()));
    }
    if (ema > 0) {
      if (!f.exists("/checkpoint/average_theta")) throw InputError(who + "no /checkpoint/average_theta (-msde_ema)");
      const auto a = f.read("/checkpoint/average_theta");
      resume_avg = Eigen::Map<const Eigen::VectorXd>(a.data(), static_cast<Eigen::Index>(a.size()));
    }
    resuming = true;
    if (rank() == 0)
      std::fprintf(stderr, "learn-msde: continuing from '%s' at stage n_eta = %d, step %d\n", checkpoint.c_str(),
                   schedule[si], start_it);
  }

  std::signal(SIGTERM, on_msde_signal);
  std::signal(SIGUSR1, on_msde_signal);
  double total_steps = 0;
  std::vector<double> steps_before;  // progress: the steps of the stages before each stage
  for (int n : iterations) {
    steps_before.push_back(total_steps);
    total_steps += n;
  }
  Progress progress("learn-msde", total_steps, progress_mode, resuming ? steps_before[si] + start_it : 0.0);

  auto write_checkpoint = [&](std::size_t stage, int next_it, const vi::MsdeModel& model, const nn::Adam& adam,
                              const Eigen::VectorXd& best, const Eigen::VectorXd& avg) {
    h5::OutputFile out(checkpoint, MPI_COMM_WORLD);
    std::vector<int> done;
    for (std::size_t k = 0; k < stage; ++k) {
      vi::save_msde(out, *stages[k].model, norm, &stages[k].history);
      done.push_back(schedule[k]);
    }
    if (!done.empty()) vi::save_msde_index(out, done);
    Eigen::VectorXd theta(model.num_params());
    model.get_params(theta);
    out.write("/checkpoint/theta", {static_cast<hsize_t>(theta.size())}, theta.data());
    out.write("/checkpoint/adam_m", {static_cast<hsize_t>(adam.m().size())}, adam.m().data());
    out.write("/checkpoint/adam_v", {static_cast<hsize_t>(adam.v().size())}, adam.v().data());
    write_history(out, "/checkpoint/history", stages[stage].history);
    for (std::size_t k = 0; k <= stage; ++k) out.write("/checkpoint/val_" + std::to_string(k), flat_pairs(stages[k].val));
    if (!stages[stage].sel.empty()) {
      out.write("/checkpoint/selection", flat_pairs(stages[stage].sel));
      out.write("/checkpoint/selection_theta", {static_cast<hsize_t>(best.size())}, best.data());
    }
    if (ema > 0) out.write("/checkpoint/average_theta", {static_cast<hsize_t>(avg.size())}, avg.data());
    out.attribute("/checkpoint", "identity", identity);
    out.attribute("/checkpoint", "stage", static_cast<double>(stage));
    out.attribute("/checkpoint", "next_iteration", static_cast<double>(next_it));
    out.attribute("/checkpoint", "adam_t", static_cast<double>(adam.t()));
    out.commit();
  };

  for (; si < schedule.size(); ++si) {
    vi::MsdeConfig cs = c;
    cs.n_eta = schedule[si];
    auto model = std::make_unique<vi::MsdeModel>(cs);
    if (si == n_kept && init_model)
      vi::init_from_previous_stage(*model, *init_model);
    else if (si > 0)
      vi::init_from_previous_stage(*model, *stages[si - 1].model);
    const int step_offset = si == n_kept ? continued_steps : 0;
    nn::AdamOptions ao;
    ao.lr = si == 0 ? lr0 : lr_stage;
    ao.schedule = to.schedule;
    nn::Adam adam(model->num_params(), ao);
    vi::TrainOptions o = to;
    o.iterations = iterations[si];
    o.lr = ao.lr;
    o.adam = &adam;
    o.start = 0;
    Stage& st = stages[si];
    // -msde_select_every: the final stage's best parameters so far by validation rollout eps.
    const bool selecting = select_every > 0 && si + 1 == schedule.size();
    Eigen::VectorXd best;
    double best_eps = INFINITY;
    if (resuming) {
      if (resume_theta.size() != model->num_params())
        throw InputError("-restart: '" + checkpoint + "': /checkpoint/theta does not match the model");
      model->set_params(resume_theta);
      adam.set_state(resume_m, resume_v, resume_t);
      o.start = start_it;
      resuming = false;
      if (!st.sel.empty()) {
        if (resume_best.size() != model->num_params())
          throw InputError("-restart: '" + checkpoint + "': /checkpoint/selection_theta does not match the model");
        best = resume_best;
        for (const auto& [i, e] : st.sel) best_eps = std::min(best_eps, e);
      }
    }
    // -msde_ema: the running average of the parameters, from the stage's first ones (or the checkpoint's);
    // `averaged(f)` runs f with the model holding the average (validation, selection), then puts theta back.
    Eigen::VectorXd avg, cur;
    if (ema > 0) {
      if (o.start > 0) {
        if (resume_avg.size() != model->num_params())
          throw InputError("-restart: '" + checkpoint + "': /checkpoint/average_theta does not match the model");
        avg = resume_avg;
      } else {
        avg.resize(model->num_params());
        model->get_params(avg);
      }
    }
    auto averaged = [&](auto&& f) {
      if (ema == 0) return f();
      cur.resize(model->num_params());
      model->get_params(cur);
      model->set_params(avg);
      const auto r = f();
      model->set_params(cur);
      return r;
    };
    auto select = [&](int it) {  // collective: every rank gets the same eps, so the same choice
      vi::RolloutOptions ro;
      ro.samples = select_samples;
      ro.substeps = select_substeps;
      ro.integrator = select_integrator;
      ro.seed = c.seed;
      const double score = averaged([&] {
        if (select_by == "eps") return vi::predict_split(*model, norm, *val_raw, ro, 0, MPI_COMM_WORLD).mean;
        // the spectrum of evaluate-msde -evaluate_msde_statistics (the ACF and PDF are not scored)
        const auto sc = vi::compare_statistics(*model, norm, *val_raw, ro, 0, 2, model->n_zeta / 2, MPI_COMM_WORLD);
        return sc.diverged ? NAN : sc.spectrum_error;
      });
      st.sel.emplace_back(step_offset + it, score);
      char line[160];
      std::snprintf(line, sizeof line, "stage n_eta = %d, step %d: validation %s %.4f (best so far %.4f)", schedule[si],
                    step_offset + it, select_by == "eps" ? "eps" : "spectrum error", score, std::fmin(score, best_eps));
      progress.note(line);
      if (score < best_eps) {  // a diverged rollout (NaN) is never the best
        best_eps = score;
        if (ema > 0) {
          best = avg;
        } else {
          best.resize(model->num_params());
          model->get_params(best);
        }
      }
    };
    // The cadence counts a stage's own steps, and the training loop never checkpoints a stage's last step, so
    // a stage shorter than the cadence (the 400-step middle stages under -msde_checkpoint_every 500) would
    // never be saved: a run killed outright there (no SIGTERM first) would restart from an earlier stage.
    // With a cadence, every later stage therefore starts with a checkpoint; a restart from it is the same run.
    if (ck_every > 0 && si > 0 && o.start == 0) write_checkpoint(si, 0, *model, adam, best, avg);
    const double t0 = MPI_Wtime();
    o.on_step = [&](int it, const vi::TrainOptions::Report& r) {
      // Every rank holds the same reduced loss, so every rank stops here together.
      if (!std::isfinite(r.loss))
        throw RuntimeError("learn-msde: the loss is not finite at stage n_eta = " + std::to_string(schedule[si]) +
                           ", step " + std::to_string(it) + " (try a smaller -msde_lr)");
      push(st.history, r);
      if (ema > 0) {
        cur.resize(model->num_params());
        model->get_params(cur);
        avg = ema * avg + (1 - ema) * cur;
      }
      if (val && val_every > 0 && (it + 1) % val_every == 0 && it + 1 < o.iterations)
        st.val.emplace_back(step_offset + it + 1, averaged([&] {
                              return vi::validation_loss(*model, *val, o.window, val_windows, c.seed, MPI_COMM_WORLD);
                            }));
      if (selecting && (it + 1) % select_every == 0 && it + 1 < o.iterations) select(it + 1);
      progress.update(steps_before[si] + it + 1);
    };
    bool interrupted = false;
    o.stop_after = [&](int it) {
      int sig = static_cast<int>(g_msde_signal), any = 0;
      MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      if (any || (ck_every > 0 && (it + 1) % ck_every == 0)) write_checkpoint(si, it + 1, *model, adam, best, avg);
      if (any) {
        interrupted = true;
        if (rank() == 0)
          std::fprintf(stderr, "learn-msde: signal %d: checkpoint '%s' at stage n_eta = %d, step %d; continue with -restart\n",
                       any, checkpoint.c_str(), schedule[si], it + 1);
      }
      return any != 0;
    };
    vi::train(*model, train, o, MPI_COMM_WORLD);
    if (interrupted) return kExitCheckpointedMsde;
    st.seconds = MPI_Wtime() - t0;
    if (ema > 0) model->set_params(avg);  // the stage's result is the average
    if (val) st.val.emplace_back(step_offset + o.iterations, vi::validation_loss(*model, *val, o.window, val_windows, c.seed, MPI_COMM_WORLD));
    if (selecting) {
      select(o.iterations);
      if (best.size() == model->num_params() && best_eps < st.sel.back().second) model->set_params(best);
    }
    {
      char line[160];
      std::snprintf(line, sizeof line, "stage n_eta = %d done: %d steps in %.1f s", schedule[si], o.iterations - o.start,
                    st.seconds);
      std::string text = line;
      if (val) {
        std::snprintf(line, sizeof line, ", validation -ELBO/snapshot %.6g", st.val.back().second);
        text += line;
      }
      progress.note(text);
    }
    st.model = std::move(model);
  }
  const double seconds = progress.finish();

  Metrics m;
  {
    h5::OutputFile out(output, MPI_COMM_WORLD);
    out.write_root_attributes(c.seed);
    for (std::size_t k = 0; k < schedule.size(); ++k) {
      vi::save_msde(out, *stages[k].model, norm, &stages[k].history);
      const std::string g = "/msde/eta_" + std::to_string(schedule[k]) + "/history/";
      const auto v = flat_pairs(stages[k].val);
      out.write(g + "validation", {v.size() / 2, 2}, v.data());
      if (!stages[k].sel.empty()) {
        const auto sv = flat_pairs(stages[k].sel);
        out.write(g + "selection", {sv.size() / 2, 2}, sv.data());
      }
    }
    vi::save_msde_index(out, schedule);
    out.attribute("/msde", "data", data);
    out.commit();
  }
  for (std::size_t k = 0; k < schedule.size(); ++k) {
    const std::string tag = "eta_" + std::to_string(schedule[k]);
    const auto& h = stages[k].history;
    const std::size_t n = h.loss.size(), tail = std::min<std::size_t>(n, static_cast<std::size_t>(log_every));
    double last = 0;
    for (std::size_t i = n - tail; i < n; ++i) last += h.loss[i];
    if (tail) m.set("train_loss." + tag, last / double(tail));
    m.set("iterations." + tag, double(n));
    if (!stages[k].val.empty()) m.set("val_loss." + tag, stages[k].val.back().second);
    for (std::size_t b = 0; b * log_every < n; ++b) {
      const std::size_t e = std::min(n, (b + 1) * log_every);
      double s = 0;
      for (std::size_t i = b * log_every; i < e; ++i) s += h.loss[i];
      char key[96];
      std::snprintf(key, sizeof key, "loss_curve.%s.%09zu", tag.c_str(), e);
      m.set(key, s / double(e - b * log_every));
    }
    for (const auto& [i, l] : stages[k].val) {
      char key[96];
      std::snprintf(key, sizeof key, "val_curve.%s.%09d", tag.c_str(), i);
      m.set(key, l);
    }
    if (stages[k].seconds > 0) m.set("seconds." + tag, stages[k].seconds);
    if (!stages[k].sel.empty()) {
      auto b = stages[k].sel.back();  // the kept parameters: the lowest eps (the last if every rollout diverged)
      for (const auto& p : stages[k].sel)
        if (p.second < b.second) b = p;
      m.set("selected_step." + tag, double(b.first));
      m.set("selected_val_eps." + tag, b.second);
      m.set("final_val_eps." + tag, stages[k].sel.back().second);
      for (const auto& [i, e] : stages[k].sel) {
        char key[96];
        std::snprintf(key, sizeof key, "select_curve.%s.%09d", tag.c_str(), i);
        m.set(key, e);
      }
    }
  }
  m.set("norm_mean", norm.mean);
  m.set("norm_scale", norm.scale);
  m.set("seconds", seconds);
  if (rank() == 0) {
    m.write(metrics_path);
    std::remove(checkpoint.c_str());
    std::printf("learn-msde: %s, %zu train trajectories, n_y %d -> n_zeta %d, schedule n_eta", data.c_str(),
                train.u.size(), c.n_y, c.n_zeta);
    for (int s : schedule) std::printf(" %d", s);
    std::printf(", steps");
    for (int n : iterations) std::printf(" %d", n);
    std::printf(" on %d ranks in %.2f s -> %s\n", size(), seconds, output.c_str());
    for (std::size_t k = 0; k < schedule.size(); ++k) {
      const std::string tag = "eta_" + std::to_string(schedule[k]);
      std::printf("  n_eta = %d: %lld parameters, train -ELBO/snapshot %.6g", schedule[k],
                  static_cast<long long>(stages[k].model->num_params()),
                  m.has("train_loss." + tag) ? m.get("train_loss." + tag) : 0.0);
      if (m.has("val_loss." + tag)) std::printf(", validation %.6g", m.get("val_loss." + tag));
      if (m.has("selected_step." + tag))
        std::printf("; kept step %g of %zu, validation %s %.4f (last step's %.4f)", m.get("selected_step." + tag),
                    stages[k].history.loss.size(), select_by == "eps" ? "eps" : "spectrum error",
                    m.get("selected_val_eps." + tag), m.get("final_val_eps." + tag));
      std::printf("\n");
    }
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace msrom::cli
