// Training the multiscale model (issue 7): the KL schedule, the window draws, reading a field data set, and
// the ELBO of held-fixed windows rising on a small synthetic problem (travelling bumps on a periodic grid).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/vi/elbo.hpp"
#include "msrom/vi/train.hpp"

using namespace msrom;
using namespace msrom::vi;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// Bumps exp(-(d_per(x - x0 - c t) / w)^2) travelling at speed c on [0, 1), n points, nt snapshots dt apart.
Trajectories bumps(int n, int nt, int members, double dt) {
  Trajectories d;
  d.time = VectorXd::LinSpaced(nt, 0.0, dt * (nt - 1));
  for (int k = 0; k < members; ++k) {
    MatrixXd u(n, nt);
    const double x0 = 0.2 + 0.37 * k, c = 1.0, w = 0.12 + 0.02 * k;
    for (int i = 0; i < nt; ++i)
      for (int p = 0; p < n; ++p) {
        double x = double(p) / n - x0 - c * d.time[i];
        x -= std::round(x);
        u(p, i) = std::exp(-(x / w) * (x / w));
      }
    d.u.push_back(u);
  }
  return d;
}

MsdeConfig tiny_config(int n_eta) {
  MsdeConfig c;
  c.n_y = 32;
  c.n_zeta = 8;
  c.n_eta = n_eta;
  c.macro_hidden = {16, 16};
  c.micro_hidden = {16};
  c.cnn_kernel = 5;
  c.cnn_channels = {2, 4};
  c.gp.warp_hidden = {8};
  c.gp.lengthscale = 0.2;
  c.seed = 3;
  return c;
}

// Mean -ELBO per snapshot (beta = 1) over fixed windows and fixed eps.
double held_out_loss(const MsdeModel& model, const Trajectories& d, int B) {
  Elbo elbo;
  MatrixXd eps(model.latent_dim(), B);
  double sum = 0;
  int count = 0;
  for (std::size_t k = 0; k < d.u.size(); ++k)
    for (Index s = 0; s + B <= d.u[k].cols(); s += B / 2) {
      draw_eps(99, static_cast<std::uint64_t>(count), eps);
      sum -= elbo.evaluate(model, d.u[k].middleCols(s, B), d.time.segment(s, B), eps, 1.0).elbo / B;
      ++count;
    }
  return sum / count;
}

}  // namespace

TEST_CASE("KL annealing and window draws", "[vi][train]") {
  CHECK(kl_beta(0, 0, 1600) == 0.0);
  CHECK(kl_beta(800, 0, 1600) == 0.5);
  CHECK(kl_beta(5000, 0, 1600) == 1.0);
  CHECK(kl_beta(99, 100, 1600) == 0.0);
  CHECK(kl_beta(99, 100, 0) == 0.0);
  CHECK(kl_beta(100, 100, 0) == 1.0);
  const auto d = bumps(8, 20, 3, 0.01);
  // 3 trajectories x (20 - 8 + 1) windows, every one reachable, all inside their trajectory.
  std::vector<int> seen(3 * 13, 0);
  bool inside = true;
  for (std::uint64_t it = 0; it < 2000; ++it) {
    const auto [k, s] = draw_window(d, 8, 4, it, 0);
    inside = inside && k >= 0 && k < 3 && s >= 0 && s + 8 <= 20;
    if (inside) ++seen[static_cast<std::size_t>(k * 13 + s)];
  }
  CHECK(inside);
  CHECK(*std::min_element(seen.begin(), seen.end()) > 20);  // 2000 / 39 = 51 expected each
  CHECK(draw_window(d, 8, 4, 17, 2) == draw_window(d, 8, 4, 17, 2));
}

TEST_CASE("Window draws by snapshot: every start 1/N, the two ends (B + 1) / (2N) each", "[vi][train]") {
  // 2 trajectories of 20 snapshots and one of 5 (shorter than the window: never drawn), B = 8: N = 40
  // snapshots; starts 0 and 12 of each trajectory 9/80, starts 1..11 1/40.
  auto d = bumps(8, 20, 3, 0.01);
  d.u[1] = d.u[1].leftCols(5).eval();
  const int draws = 400000;
  std::vector<double> freq(3 * 13, 0.0);
  bool inside = true;
  for (std::uint64_t it = 0; it < std::uint64_t(draws); ++it) {
    const auto [k, s] = draw_window(d, 8, 7, it, 1, vi::WindowSampling::snapshots);
    inside = inside && (k == 0 || k == 2) && s >= 0 && s + 8 <= 20;
    if (inside) freq[static_cast<std::size_t>(k * 13 + s)] += 1.0 / draws;
  }
  REQUIRE(inside);
  for (int k : {0, 2})
    for (int s = 0; s <= 12; ++s) {
      const double p = (s == 0 || s == 12) ? 9.0 / 80 : 1.0 / 40;
      CAPTURE(k, s);
      CHECK(std::abs(freq[static_cast<std::size_t>(k * 13 + s)] - p) < 5 * std::sqrt(p * (1 - p) / draws));
    }
  // The paper's draw (starts) is unchanged by the option's existence, and the two differ.
  CHECK(draw_window(d, 8, 7, 3, 1) == draw_window(d, 8, 7, 3, 1, vi::WindowSampling::starts));
  int differ = 0;
  for (std::uint64_t it = 0; it < 50; ++it)
    differ += draw_window(d, 8, 7, it, 0) != draw_window(d, 8, 7, it, 0, vi::WindowSampling::snapshots);
  CHECK(differ > 10);
}

TEST_CASE("read_trajectories keeps one split of a field data set, snapshots as columns", "[vi][train]") {
  const std::string path = "/tmp/msrom_unit_" + std::to_string(getpid()) + "_vi_fields.h5";
  const int M = 3, nt = 5, nx = 4;
  std::vector<double> u(M * nt * nx);
  for (int m = 0; m < M; ++m)
    for (int i = 0; i < nt; ++i)
      for (int p = 0; p < nx; ++p) u[(m * nt + i) * nx + p] = 100 * m + 10 * i + p;
  {
    h5::OutputFile out(path, MPI_COMM_SELF);
    out.write("/fields/u", {M, nt, nx}, u.data());
    out.write("/time", {0.0, 0.1, 0.2, 0.3, 0.4});
    out.write("/split", {0.0, 0.0, 1.0});
    out.commit();
  }
  const auto train = read_trajectories(path, 0);
  REQUIRE(train.u.size() == 2);
  CHECK(train.u[1].rows() == nx);
  CHECK(train.u[1](2, 3) == 100 + 30 + 2);
  CHECK(train.time[4] == 0.4);
  const auto val = read_trajectories(path, 1);
  REQUIRE(val.u.size() == 1);
  CHECK(val.u[0](0, 0) == 200);
  CHECK(read_trajectories(path, -1).u.size() == 3);
  CHECK_THROWS_AS(read_trajectories(path, 2), InputError);
  CHECK_THROWS_AS(read_trajectories("/nonexistent/x.h5", 0), InputError);
  std::remove(path.c_str());
}

TEST_CASE("read_trajectories stacks the field's components and splits one long trajectory in time",
          "[vi][train]") {
  // The cylinder wake's layout: /fields/u and /fields/v [1, nt, nx, ny], the time split in root attributes.
  const std::string path = "/tmp/msrom_unit_" + std::to_string(getpid()) + "_vi_components.h5";
  const int nt = 11, nx = 3, ny = 2;
  std::vector<double> u(nt * nx * ny), v(u.size()), uc(u.size(), -1.0);
  for (int i = 0; i < nt; ++i)
    for (int p = 0; p < nx * ny; ++p) {
      u[i * nx * ny + p] = 10 * i + p;
      v[i * nx * ny + p] = -(10 * i + p) - 0.5;
    }
  std::vector<double> t(nt);
  for (int i = 0; i < nt; ++i) t[i] = 0.1 * i;  // 0, 0.1, ..., 1.0 (not exact binary fractions)
  auto write = [&](bool split_attrs) {
    h5::OutputFile out(path, MPI_COMM_SELF);
    out.write("/fields/v", {1, nt, nx, ny}, v.data());  // written first: the order is by name, not by creation
    out.write("/fields/u", {1, nt, nx, ny}, u.data());
    out.write("/fields/u_clean", {1, nt, nx, ny}, uc.data());  // not a component
    out.write("/time", t);
    out.write("/split", {0.0});
    if (split_attrs) {
      out.attribute("/", "system_train_end", 0.6);
      out.attribute("/", "system_validation_end", 0.8);
    }
    out.commit();
  };
  write(true);
  const auto train = read_trajectories(path, 0), val = read_trajectories(path, 1), test = read_trajectories(path, 2);
  CHECK(train.components == std::vector<std::string>{"u", "v"});
  CHECK(train.fields() == 2);
  CHECK(train.split_by_time);
  CHECK(train.fine_ny == nx);
  REQUIRE(train.u.size() == 1);
  // train t <= 0.6 (7 snapshots: 0.1 * 6 is 0.6000000000000001, kept by the tolerance), validation [0.6, 0.8],
  // test [0.8, 1.0]: each later split starts from the previous one's last snapshot.
  CHECK(train.u[0].cols() == 7);
  CHECK(val.u[0].cols() == 3);
  CHECK(test.u[0].cols() == 3);
  CHECK(val.time[0] == t[6]);
  CHECK(test.time[0] == t[8]);
  CHECK(test.time[2] == t[10]);
  // Rows: u's 6 points, then v's; columns: the split's snapshots.
  REQUIRE(test.u[0].rows() == 2 * nx * ny);
  CHECK(test.u[0](4, 1) == 90 + 4);
  CHECK(test.u[0](6 + 4, 1) == -(90 + 4) - 0.5);
  CHECK(read_trajectories(path, -1).u[0].cols() == nt);
  // Without the attributes the /split labels decide (the one member is train).
  write(false);
  CHECK(!read_trajectories(path, 0).split_by_time);
  CHECK(read_trajectories(path, 0).u[0].cols() == nt);
  CHECK_THROWS_AS(read_trajectories(path, 1), InputError);
  // Components of different shapes are refused.
  {
    h5::OutputFile out(path, MPI_COMM_SELF);
    out.write("/fields/u", {1, nt, nx, ny}, u.data());
    out.write("/fields/v", {1, nt, ny, nx}, v.data());
    out.write("/time", t);
    out.commit();
  }
  CHECK_THROWS_AS(read_trajectories(path, -1), InputError);
  std::remove(path.c_str());
}

TEST_CASE("Training raises the ELBO of fixed windows on travelling bumps", "[vi][train]") {
  const int n_eta = GENERATE(0, 1);
  const auto d = bumps(32, 48, 3, 0.01);
  MsdeModel model(tiny_config(n_eta));
  TrainOptions o;
  o.window = 16;
  o.windows_per_step = 2;
  o.iterations = 300;
  o.lr = 3e-3;
  o.kl_anneal = 100;
  o.seed = 7;
  const double before = held_out_loss(model, d, o.window);
  const auto result = train(model, d, o, MPI_COMM_SELF);
  const double after = held_out_loss(model, d, o.window);
  REQUIRE(result.steps.size() == 300);
  CHECK(result.steps[150].beta == 1.0);
  CAPTURE(before, after);  // -ELBO per snapshot of the fixed windows
  CHECK(after < before - 0.5 * std::abs(before));
  CHECK(std::isfinite(after));
  CHECK_THROWS_AS(train(model, bumps(16, 48, 1, 0.01), o, MPI_COMM_SELF), InputError);  // wrong n_y
}
