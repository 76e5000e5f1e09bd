// msrom evaluate-msde: the table of Ilersich & Nair (2025) for a 1-D field data set — eps(t) =
// ||y - y_hat|| / ||y|| on the fine grid over the test split (mean +- std over times and trajectories) of
//   coarse DNS (pde/coarse_dns.hpp) | DMD | POD-SINDy (analysis/reduced_baselines.hpp) |
//   implicit-scale (the n_eta = 0 stage of model.h5) | multiscale (its final stage)   (vi/predict.hpp)
// -> DIR/msde_eval.h5 (/time, /eps/<name> [trajectories, nt], /fields/<name> [nt, nx] of the first test
// trajectory, truth included), DIR/metrics.json (eps_mean.<name>, eps_std.<name>, eps_final.<name>),
// DIR/coarse_dns/ (the coarse-DNS run's own outputs) and DIR/figures/*.png (tools/plot_msde.py).
//
// Also `msrom ensemble -model model.h5 -data data.h5 -output rollouts.h5` when model.h5 holds /msde
// (ensemble_msde below): the learned coarse SDE's mean predictions of the split, /ensemble/fields/u
// [trajectories, nt, nx] (the layout of coarse-dns' rollouts.h5) and /ensemble/eps.
//
// Sample runs:
//   msrom evaluate-msde -data runs/kdv/data.h5 -model runs/kdv/model.h5 -output runs/kdv/eval_msde
//   mpiexec -n 2 msrom ensemble -model runs/kdv/model.h5 -data runs/kdv/data.h5 -output runs/kdv/msde_rollouts.h5
#include <petscsys.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "commands.hpp"
#include "msrom/analysis/reduced_baselines.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/core/progress.hpp"
#include "msrom/pde/coarse_dns.hpp"
#include "msrom/pde/cylinder_wake.hpp"
#include "msrom/vi/msde_io.hpp"
#include "msrom/vi/predict.hpp"

namespace msrom::cli {

namespace {

int split_index(const std::string& s) {
  return s == "train" ? 0 : s == "validation" ? 1 : 2;
}

vi::RolloutOptions read_rollout_options(const Options& o) {
  vi::RolloutOptions r;
  r.samples = static_cast<int>(o.integer("predict_samples", 64, "latent samples per prediction", 1, 100000));
  r.substeps = static_cast<int>(o.integer("predict_substeps", 1, "SDE steps per snapshot interval", 1, 100000));
  r.integrator = vi::integrator_from_string(
      o.choice("predict_integrator", "em", {"em", "heun"}, "SDE scheme: Euler-Maruyama, or stochastic Heun (RK2, 2 drifts per step)"),
      "-predict_integrator");
  r.seed = static_cast<std::uint64_t>(o.integer("predict_seed", 1, "seed of the rollouts' noise", 0));
  r.sample_initial = o.flag("predict_sample_initial", true, "draw z_0 from the encoder posterior (else its mean)");
  r.noise_scale = o.real("predict_noise_scale", 1.0, "factor on the learned diffusion in the rollouts (0: the "
                         "drift's ODE from the sampled z_0; a diagnostic, not the model)", 0.0);
  r.ranks_per_member = static_cast<int>(o.integer("predict_ranks_per_member", 1, "ranks sharing one trajectory's "
                                                  "rollout (a local model's cells split over them; divides the ranks)", 1));
  return r;
}

// The data's shape of one snapshot: [nx] (1-D) or [nx, ny] (2-D; fine_ny = nx rows of ny points, the last
// axis fastest, as /fields/u of msrom simulate); several components: [C, nx(, ny)] (component-slowest, as
// vi::Trajectories stacks them).
h5::Shape snapshot_shape(Eigen::Index n_y, int fine_ny, int components) {
  const Eigen::Index n = n_y / components;
  h5::Shape s;
  if (components > 1) s.push_back(static_cast<hsize_t>(components));
  if (fine_ny <= 1) {
    s.push_back(static_cast<hsize_t>(n));
  } else {
    s.push_back(static_cast<hsize_t>(fine_ny));
    s.push_back(static_cast<hsize_t>(n / fine_ny));
  }
  return s;
}

void write_field(h5::OutputFile& out, const std::string& name, const Eigen::MatrixXd& f, const vi::Trajectories& like) {
  // n_y x nt column-major = [nt, (C,) nx(, ny)] row-major.
  h5::Shape shape{static_cast<hsize_t>(f.cols())};
  for (hsize_t d : snapshot_shape(f.rows(), like.fine_ny, like.fields())) shape.push_back(d);
  out.write(name, shape, f.data());
}

}  // namespace

bool msde_model_given() {
  char buf[PETSC_MAX_PATH_LEN] = "";
  PetscBool set = PETSC_FALSE;
  PetscOptionsGetString(nullptr, nullptr, "-model", buf, sizeof buf, &set);
  return set && vi::is_msde_file(buf);
}

int ensemble_msde(Session& session) {
  Options opts("ensemble (multiscale model)");
  const std::string model_path = opts.string("model", "", "model file with /msde (msrom learn-msde)");
  const std::string data = opts.string("data", "", "field data set: initial conditions and truth");
  const std::string output = opts.string("output", "rollouts.h5", "rollouts file");
  const std::string split = opts.choice("predict_split", "test", {"test", "validation", "train"}, "split to predict");
  const int stage = static_cast<int>(opts.integer("predict_stage", -1, "n_eta of the stage to roll out (-1: the final)", -1));
  const auto ro = read_rollout_options(opts);
  read_nn_kernel_option();
  if (!session.positionals().empty()) throw InputError("unexpected argument '" + session.positionals()[0] + "'");
  if (finish_options("usage: msrom ensemble -model model.h5 (with /msde) -data data.h5 [-predict_samples 64] -output rollouts.h5"))
    return 0;
  if (data.empty()) throw InputError("-data: no data file given (the multiscale model predicts from its y_0)");
  check_output_path("-output", output);
  const auto loaded = vi::load_msde(model_path, stage, "-model");
  const auto traj = vi::read_trajectories(data, split_index(split));
  vi::check_grid(loaded.model, traj, "-data", data);
  const double t0 = MPI_Wtime();
  const int K = static_cast<int>(traj.u.size());
  const auto p = vi::predict_split(loaded.model, loaded.norm, traj, ro, K, MPI_COMM_WORLD);
  const double seconds = MPI_Wtime() - t0;
  {
    h5::OutputFile out(output, MPI_COMM_WORLD);
    out.write_root_attributes(ro.seed);
    const auto nt = static_cast<hsize_t>(traj.time.size()), nx = static_cast<hsize_t>(loaded.model.n_y);
    std::vector<double> all;
    all.reserve(static_cast<std::size_t>(K) * nt * nx);
    for (const auto& f : p.fields) all.insert(all.end(), f.data(), f.data() + f.size());
    h5::Shape shape{static_cast<hsize_t>(K), nt};
    for (hsize_t d : snapshot_shape(loaded.model.n_y, traj.fine_ny, traj.fields())) shape.push_back(d);
    out.write("/ensemble/fields/u", shape, all.data());
    out.attribute("/ensemble/fields/u", "components", traj.components);  // [K, nt, C, ...] when C > 1
    Eigen::MatrixXd eT = p.eps.transpose();  // row-major [K, nt]
    out.write("/ensemble/eps", {static_cast<hsize_t>(K), nt}, eT.data());
    out.write("/time", {nt}, traj.time.data());
    out.attribute("/ensemble", "model", model_path);
    out.attribute("/ensemble", "data", data);
    out.attribute("/ensemble", "split", split);
    out.attribute("/ensemble", "samples", static_cast<std::int64_t>(ro.samples));
    out.commit();
  }
  Metrics m;
  m.set("eps_mean.msde", p.mean);
  m.set("eps_std.msde", p.std);
  if (rank() == 0)
    std::printf("ensemble: multiscale model n_eta = %d, %d %s trajectories x %lld snapshots x %d samples on %d ranks "
                "in %.2f s: eps = %.4f +- %.4f -> %s\n",
                loaded.model.n_eta, K, split.c_str(), static_cast<long long>(traj.time.size()), ro.samples, size(),
                seconds, p.mean, p.std, output.c_str());
  print_metrics(m);
  return 0;
}

int evaluate_msde(Session& session) {
  Options opts("evaluate_msde");
  const std::string data = opts.string("data", "", "field data set written by msrom simulate");
  const std::string model_path = opts.string("model", "", "model file of msrom learn-msde (/msde)");
  const std::string output = opts.string("output", "", "output directory");
  const std::string split = opts.choice("predict_split", "test", {"test", "validation", "train"}, "split to score");
  const auto ro = read_rollout_options(opts);
  read_nn_kernel_option();
  const int dmd_rank = static_cast<int>(opts.integer("dmd_rank", 25, "DMD rank", 1));
  const double dmd_tikhonov = opts.real("dmd_tikhonov", 0.01, "DMD Tikhonov regularisation", 0);
  const int pod_dim = static_cast<int>(opts.integer("sindy_pod_dim", 2, "POD-SINDy: POD dimension", 1));
  const int degree = static_cast<int>(opts.integer("sindy_degree", 3, "POD-SINDy: polynomial library degree", 0, 5));
  const double threshold = opts.real("sindy_threshold", 1e-3, "POD-SINDy: STLSQ threshold", 0);
  const int sindy_substeps = static_cast<int>(opts.integer("sindy_substeps", 10, "POD-SINDy: RK4 steps per snapshot interval", 1));
  const bool with_coarse = opts.flag("evaluate_msde_coarse_dns", true, "run the coarse-DNS column (PETSc TS)");
  pde::CoarseDnsConfig cd;
  pde::read_coarse_grid_options(opts, cd);
  cd.progress = read_progress_mode(opts);
  const bool figures = opts.flag("evaluate_msde_figures", true, "draw PNG figures with tools/plot_msde.py");
  const bool with_stats = opts.flag("evaluate_msde_statistics", false, "long-run statistics of the learned models "
                                    "against the data: energy spectrum, PDF of u, time ACF (e.g. Kuramoto-Sivashinsky)");
  vi::RolloutOptions so = ro;
  so.samples = static_cast<int>(opts.integer("stats_samples", 8, "statistics: samples per trajectory, each decoded alone", 1, 10000));
  const int stats_lag = static_cast<int>(opts.integer("stats_max_lag", 40, "statistics: largest ACF lag (snapshots)", 0));
  const int stats_bins = static_cast<int>(opts.integer("stats_bins", 100, "statistics: histogram bins of u", 2, 100000));
  // The reference of the statistics may be a longer, independent DNS run (a 2-trajectory test split of a
  // chaotic system has sampling errors of ~10% per wavenumber on its own).
  const std::string stats_data = opts.string("stats_data", "", "statistics: the reference trajectories' data set (default: -data)");
  const std::string stats_split = opts.choice("stats_split", split, {"test", "validation", "train"},
                                              "statistics: the reference split of -stats_data (default: -predict_split)");
  if (!with_stats && (opts.given("stats_data") || opts.given("stats_split")))
    throw InputError(std::string(opts.given("stats_data") ? "-stats_data" : "-stats_split") +
                     ": only with -evaluate_msde_statistics");
  if (!session.positionals().empty()) throw InputError("unexpected argument '" + session.positionals()[0] + "'");
  std::unique_ptr<pde::CoarseDns> coarse;
  // The cylinder wake's data are a window of the channel: its coarse DNS is the window alone on the coarse
  // grid (pde::cylinder_window_dns), not pde::CoarseDns.
  bool window_dns = false;
  double window_dx = 0, window_nu = 0;  // the window's point spacing and the viscosity (window_dns)
  if (!help_requested() && with_coarse && !data.empty()) {
    const auto f = h5::File::open(data, "-data");
    window_dns = f.has_attribute("/", "system") &&
                 pde::coarse_dns_kind(f.read_string_attribute("/", "system")) == pde::CoarseDnsKind::window;
    if (window_dns) {
      for (const char* a : {"system_nu", "system_window_dx"})
        if (!f.has_attribute("/", a)) throw InputError("-data: '" + data + "': no attribute " + a + " (not a cylinder_wake data set)");
      window_dx = f.read_double_attribute("/", "system_window_dx");
      window_nu = f.read_double_attribute("/", "system_nu");
    }
  }
  if (!help_requested() && with_coarse && !window_dns) {
    if (data.empty()) throw InputError("-data: no data file given");
    if (output.empty()) throw InputError("-output: no output directory given");
    if (model_path.empty()) throw InputError("-model: no model file given");
    vi::msde_stages(h5::File::open(model_path, "-model"), "-model");  // a bad model fails before any output
    cd.data = data;
    cd.split = split;
    cd.output_dir = join_path(output, "coarse_dns");
    make_output_directory("-output", output);
    coarse = std::make_unique<pde::CoarseDns>(cd, MPI_COMM_WORLD);
  }
  if (finish_options("usage: msrom evaluate-msde -data data.h5 -model model.h5 -output DIR"))
    return 0;
  if (data.empty()) throw InputError("-data: no data file given");
  if (model_path.empty()) throw InputError("-model: no model file given");
  if (output.empty()) throw InputError("-output: no output directory given");
  make_output_directory("-output", output);
  const auto mf = h5::File::open(model_path, "-model");
  const auto stages = vi::msde_stages(mf, "-model");
  const auto test = vi::read_trajectories(data, split_index(split));
  const auto train = vi::read_trajectories(data, 0);
  const std::string stats_path = stats_data.empty() ? data : stats_data;
  const std::string stats_option = stats_data.empty() ? "-data" : "-stats_data";  // names stats_path in errors
  const bool own_stats_ref = with_stats && (stats_path != data || stats_split != split);
  const auto stats_ref_own =
      own_stats_ref ? vi::read_trajectories(stats_path, split_index(stats_split), stats_option)
                    : vi::Trajectories{};
  const vi::Trajectories& stats_ref = own_stats_ref ? stats_ref_own : test;
  if (with_stats && stats_ref.u.empty())
    throw InputError((stats_data.empty() ? "-stats_split" : "-stats_data") + std::string(": '") + stats_path +
                     "' has no " + stats_split + " trajectories");
  const Eigen::Index nt = test.time.size(), K = static_cast<Eigen::Index>(test.u.size());
  const double dt = nt > 1 ? test.time[1] - test.time[0] : 1.0;

  std::vector<std::string> names;
  std::map<std::string, Eigen::MatrixXd> eps;     // K x nt
  std::map<std::string, Eigen::MatrixXd> fields;  // nx x nt of trajectory 0
  if (coarse) {
    const auto r = coarse->run();
    Eigen::MatrixXd e(K, nt);
    if (static_cast<Eigen::Index>(r.eps.size()) != K * nt) throw RuntimeError("evaluate-msde: coarse-DNS eps has the wrong size");
    e = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(r.eps.data(), K, nt);
    names.push_back("coarse_dns");
    eps["coarse_dns"] = e;
  }
  if (window_dns) {  // cheap (32 x 8 cells): every rank computes the same
    if (test.fields() != 2 || test.fine_ny <= 1) throw InputError("-data: '" + data + "': the cylinder wake's (u, v) are 2-D");
    const long fnx = test.fine_ny, fny = test.u[0].rows() / 2 / fnx;
    // Default: the paper's 32 x 8 on 320 x 80 points, i.e. blocks of 10 x 10 points.
    const long cnx = cd.nx > 0 ? cd.nx : std::max(1L, fnx / 10), cny = cd.ny > 0 ? cd.ny : cnx * fny / fnx;
    const std::vector<double> t(test.time.data(), test.time.data() + nt);
    Eigen::MatrixXd e(K, nt);
    for (Eigen::Index k = 0; k < K; ++k) {
      const std::vector<double> y0(test.u[k].col(0).data(), test.u[k].col(0).data() + test.u[k].rows());
      const auto y = pde::cylinder_window_dns(y0, fnx, fny, window_dx, window_nu, cnx, cny, t);
      const Eigen::Map<const Eigen::MatrixXd> Y(y.data(), test.u[k].rows(), nt);
      e.row(k) = vi::relative_error(test.u[k], Y).transpose();
      if (k == 0) fields["coarse_dns"] = Y;
    }
    names.push_back("coarse_dns");
    eps["coarse_dns"] = e;
  }
  {  // DMD and POD-SINDy (cheap: every rank computes the same, no communication)
    const analysis::Dmd dmd(train.u, dmd_rank, dmd_tikhonov);
    const analysis::PodSindy sindy(train.u, dt, pod_dim, degree, threshold);
    Eigen::MatrixXd ed(K, nt), es(K, nt);
    for (Eigen::Index k = 0; k < K; ++k) {
      const Eigen::MatrixXd yd = dmd.predict(test.u[k].col(0), nt), ys = sindy.predict(test.u[k].col(0), nt, sindy_substeps);
      ed.row(k) = vi::relative_error(test.u[k], yd).transpose();
      es.row(k) = vi::relative_error(test.u[k], ys).transpose();
      if (k == 0) {
        fields["dmd"] = yd;
        fields["pod_sindy"] = ys;
      }
    }
    names.push_back("dmd");
    eps["dmd"] = ed;
    names.push_back("pod_sindy");
    eps["pod_sindy"] = es;
  }
  std::map<std::string, vi::StatisticsComparison> stats;
  auto run_stage = [&](int n_eta, const std::string& name) {
    const auto loaded = vi::load_msde(mf, n_eta, "-model");
    vi::check_grid(loaded.model, test, "-data", data);
    const auto p = vi::predict_split(loaded.model, loaded.norm, test, ro, 1, MPI_COMM_WORLD);
    names.push_back(name);
    eps[name] = p.eps;
    fields[name] = p.fields[0];
    if (n_eta == stages.back()) {  // the final stage's representation alone: decode(encode(y(t))), its floor
      names.push_back("reconstruction");
      eps["reconstruction"] = vi::reconstruction_error(loaded.model, loaded.norm, test, MPI_COMM_WORLD);
    }
    if (with_stats) {
      if (own_stats_ref) vi::check_grid(loaded.model, stats_ref, stats_option, stats_path);
      const auto snt = stats_ref.time.size();
      if (snt < stats_lag + 2)
        throw InputError("-stats_max_lag: the trajectories have only " + std::to_string(snt) + " snapshots");
      stats[name] = vi::compare_statistics(loaded.model, loaded.norm, stats_ref, so, stats_lag, stats_bins,
                                           loaded.model.n_zeta / 2, MPI_COMM_WORLD);
    }
  };
  if (stages.front() == 0) run_stage(0, "implicit_scale");
  if (stages.back() != 0) run_stage(stages.back(), "multiscale");
  if (test.noise > 0) {  // the exact solution's eps against these observations: sigma sqrt(n_y) / ||y(t)||
    Eigen::MatrixXd e(K, nt);
    const double scale = test.noise * std::sqrt(double(test.u[0].rows()));
    for (Eigen::Index k = 0; k < K; ++k) e.row(k) = scale * test.u[k].colwise().norm().cwiseInverse();
    names.push_back("noise_floor");
    eps["noise_floor"] = e;
  }

  Metrics m;
  for (const auto& n : names) {
    const auto [mean, sd] = vi::mean_std(eps[n]);
    m.set("eps_mean." + n, mean);
    m.set("eps_std." + n, sd);
    m.set("eps_final." + n, eps[n].col(nt - 1).mean());
  }
  for (const auto& [n, st] : stats) {
    m.set("stats_spectrum_error." + n, st.spectrum_error);
    m.set("stats_kl_pdf." + n, st.kl);
    m.set("stats_acf_error." + n, st.acf_error);
    m.set("stats_diverged." + n, double(st.diverged));
    m.set("stats_constant_series." + n, double(st.constant_series));
  }
  {
    h5::OutputFile out(join_path(output, "msde_eval.h5"), MPI_COMM_WORLD);
    out.write_root_attributes(ro.seed);
    out.write("/time", {static_cast<hsize_t>(nt)}, test.time.data());
    for (const auto& n : names) {
      Eigen::MatrixXd eT = eps[n].transpose();
      out.write("/eps/" + n, {static_cast<hsize_t>(K), static_cast<hsize_t>(nt)}, eT.data());
    }
    write_field(out, "/fields/truth", test.u[0], test);
    for (const auto& [n, f] : fields) write_field(out, "/fields/" + n, f, test);
    out.attribute("/fields", "components", test.components);  // [nt, C, ...] when C > 1
    out.attribute("/eps", "names", names);
    out.attribute("/eps", "data", data);
    out.attribute("/eps", "model", model_path);
    out.attribute("/eps", "split", split);
    auto write_stats = [&](const std::string& g, const vi::FieldStatistics& f) {
      out.write(g + "/spectrum", f.spectrum);
      out.write(g + "/pdf", f.pdf);
      out.write(g + "/acf", f.acf);
    };
    bool first = true;
    for (const auto& [n, st] : stats) {
      if (first) {  // the data's statistics are the same for every model
        write_stats("/stats/data", st.data);
        out.write("/stats/pdf_grid", st.data.pdf_grid);
        out.attribute("/stats", "dt", stats_ref.time.size() > 1 ? stats_ref.time[1] - stats_ref.time[0] : dt);
        out.attribute("/stats", "resolved", static_cast<double>(st.resolved));
        out.attribute("/stats", "data", stats_path);
        out.attribute("/stats", "split", stats_split);
        out.attribute("/stats", "trajectories", static_cast<double>(stats_ref.u.size()));
        first = false;
      }
      write_stats("/stats/" + n, st.model);
    }
    out.commit();
  }
  if (rank() == 0) {
    m.write(join_path(output, "metrics.json"));
    std::printf("evaluate-msde: %s, %lld %s trajectories x %lld snapshots, eps = ||y - y_hat|| / ||y|| (mean +- std) "
                "-> %s\n",
                data.c_str(), static_cast<long long>(K), split.c_str(), static_cast<long long>(nt), output.c_str());
    const char* heads[] = {"coarse DNS", "DMD", "POD-SINDy", "implicit-scale", "multiscale"};
    const char* keys[] = {"coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"};
    std::string h, v;
    for (int i = 0; i < 5; ++i) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "| %-17s ", heads[i]);
      h += buf;
      char cell[48] = "-";
      if (m.has(std::string("eps_mean.") + keys[i]))
        std::snprintf(cell, sizeof cell, "%.4f +- %.4f", m.get(std::string("eps_mean.") + keys[i]),
                      m.get(std::string("eps_std.") + keys[i]));
      std::snprintf(buf, sizeof buf, "| %-17s ", cell);
      v += buf;
    }
    std::printf("%s|\n%s|\n", h.c_str(), v.c_str());
    std::printf("the final stage's reconstruction decode(encode(y(t))), the floor under its rollouts: %.4f +- %.4f\n",
                m.get("eps_mean.reconstruction"), m.get("eps_std.reconstruction"));
    if (m.has("eps_mean.noise_floor"))
      std::printf("the observation noise's floor (the exact solution against these observations), sigma sqrt(n_y) / "
                  "||y(t)|| with sigma = %g: %.4f +- %.4f\n",
                  test.noise, m.get("eps_mean.noise_floor"), m.get("eps_std.noise_floor"));
    if (window_dns && with_coarse)
      std::printf("coarse DNS: the window alone, a periodic box of its coarse cells, from y_0's cell means\n");
    if (!stats.empty())
      std::printf("long-run statistics against %s's %zu %s trajectories x %lld snapshots:\n", stats_path.c_str(),
                  stats_ref.u.size(), stats_split.c_str(), static_cast<long long>(stats_ref.time.size()));
    for (const auto& [n, st] : stats)
      std::printf("long-run statistics, %s (%d samples per trajectory, each decoded alone): energy spectrum max "
                  "relative error over k = 1..%d: %.4f; KL(PDF of u): %.5f; time-ACF max error (%d lags): %.4f%s\n",
                  n.c_str(), so.samples, st.resolved, st.spectrum_error,
                  st.kl, stats_lag, st.acf_error, st.diverged ? " (some samples diverged)" : "");
    for (const auto& [n, st] : stats)
      if (st.constant_series > 0)
        std::printf("  %s: %ld (sample, point) series are constant in time and have no ACF (left out)\n", n.c_str(),
                    st.constant_series);
    std::fflush(stdout);
    if (figures) run_figures("plot_msde.py", "'" + output + "'");
  }
  return 0;
}

}  // namespace msrom::cli
