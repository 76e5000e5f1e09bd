// Data-parallel training of the multiscale model (issue 7), run by ctest at 1, 2 and 4 ranks: the trained
// parameters and the per-step losses are bitwise those of one rank alone.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <cmath>
#include <vector>

#include "mpi_util.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/vi/distributed_rollout.hpp"
#include "msrom/vi/predict.hpp"
#include "msrom/vi/train.hpp"

using namespace msrom;
using namespace msrom::vi;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
// Gaussian bumps travelling at unit speed on 24 points: `count` trajectories of `nt` snapshots 0.01 apart,
// trajectory k starting at offset + step k.
Trajectories bumps(int count, int nt, double offset, double step) {
  Trajectories d;
  d.time = VectorXd::LinSpaced(nt, 0.0, 0.01 * (nt - 1));
  for (int k = 0; k < count; ++k) {
    MatrixXd u(24, nt);
    for (int i = 0; i < nt; ++i)
      for (int p = 0; p < 24; ++p) {
        double x = p / 24.0 - offset - step * k - d.time[i];
        x -= std::round(x);
        u(p, i) = std::exp(-x * x / 0.02);
      }
    d.u.push_back(u);
  }
  return d;
}

// A small model with every component (n_eta = 1).
MsdeConfig small_model() {
  MsdeConfig c;
  c.n_y = 24;
  c.n_zeta = 6;
  c.n_eta = 1;
  c.macro_hidden = {8};
  c.micro_hidden = {8};
  c.cnn_kernel = 5;
  c.cnn_channels = {2, 3};
  c.gp.warp_hidden = {4};
  c.gp.lengthscale = 0.2;
  return c;
}
}  // namespace

TEST_CASE("vi::train gives bitwise the single-rank model on any number of ranks", "[Parallel][vi]") {
  // Travelling bumps, 24 points, 2 trajectories; a model with every component (n_eta = 1).
  const Trajectories d = bumps(2, 30, 0.3, 0.4);
  const MsdeConfig c = small_model();
  TrainOptions o;
  o.window = 8;
  o.windows_per_step = 5;  // uneven over 2 and 4 ranks
  o.iterations = 6;
  o.lr = 1e-2;
  o.kl_anneal = 3;
  o.seed = 11;
  const bool shoot = GENERATE(false, true);  // the multiple-shooting term too
  if (shoot) {
    o.shooting.horizon = 3;
    o.shooting.substeps = 2;
    o.shooting.stride = 2;
  }
  MsdeModel par(c), ser(c);
  const auto rp = train(par, d, o, MPI_COMM_WORLD);
  const auto rs = train(ser, d, o, MPI_COMM_SELF);
  VectorXd tp(par.num_params()), ts(ser.num_params());
  par.get_params(tp);
  ser.get_params(ts);
  CHECK(tp == ts);
  for (std::size_t i = 0; i < rp.steps.size(); ++i) {
    CHECK(rp.steps[i].loss == rs.steps[i].loss);
    CHECK(rp.steps[i].drift_residual == rs.steps[i].drift_residual);
    CHECK(rp.steps[i].shooting == rs.steps[i].shooting);
    CHECK((rp.steps[i].shooting > 0) == shoot);
  }
  CHECK(same_on_all_ranks(tp));
  VectorXd start(par.num_params());
  MsdeModel(c).get_params(start);
  CHECK(tp != start);  // it did train
}

TEST_CASE("Validation loss and split predictions of the multiscale model do not depend on the rank count",
          "[Parallel][vi]") {
  const Trajectories d = bumps(5, 12, 0.1, 0.2);  // 5 trajectories: uneven over 2 and 4 ranks
  const MsdeConfig c = small_model();
  const MsdeModel model(c);
  const double vp = validation_loss(model, d, 4, 7, 3, MPI_COMM_WORLD), vs = validation_loss(model, d, 4, 7, 3, MPI_COMM_SELF);
  CHECK(vp == vs);
  RolloutOptions o;
  o.samples = 3;
  o.substeps = 2;
  const Normalisation norm{0.1, 0.5};
  const auto pp = predict_split(model, norm, d, o, 2, MPI_COMM_WORLD);
  const auto ps = predict_split(model, norm, d, o, 2, MPI_COMM_SELF);
  CHECK(pp.eps == ps.eps);
  REQUIRE(pp.fields.size() == 2);
  CHECK(pp.fields[1] == ps.fields[1]);
  CHECK(pp.mean == ps.mean);
  CHECK(same_on_all_ranks(Eigen::Map<const VectorXd>(pp.eps.data(), pp.eps.size())));
}

// ---- Issue 8: the local model's member split over ranks (vi::DistributedRollout).
namespace {
// 1-D: 32 points on 8 cells. 2-D: 12 x 16 points on 6 x 8 cells (not square, so that mixed-up axes show).
MsdeModel local_model(bool two_d = false, nn::StencilBoundary boundary = nn::StencilBoundary::periodic,
                      bool time = false) {
  MsdeConfig c;
  c.stencil_boundary = boundary;
  c.drift_time = time;
  c.n_y = two_d ? 192 : 32;
  c.n_zeta = two_d ? 48 : 8;
  c.fine_ny = two_d ? 16 : 1;
  c.n_eta = 2;
  c.local_eta = true;
  c.macro_hidden = {16, 16};
  c.micro_hidden = {16, 8};
  c.cnn_kernel = 5;
  c.cnn_channels = {2, 4};
  c.gp.warp_hidden = {8};
  c.seed = 9;
  MsdeModel m(c);
  VectorXd th(m.num_params());
  Philox(12, 0, Purpose::training).normals(0, th.data(), static_cast<std::size_t>(th.size()));
  m.set_params(0.3 * th);
  return m;
}

// The same member on one rank, by the full-grid stencil MLPs (nn::StencilMlp's or nn::StencilMlp2d's inference
// path, their own gather, periodic or not; the samples are the batch columns) and the same noise keying: an
// independent implementation of the step. 2-D: N must be the model's coarse grid.
MatrixXd serial_member(const MsdeModel& m, const MatrixXd& z0, long N, double h, long steps, std::uint64_t member,
                       vi::Integrator scheme = vi::Integrator::euler_maruyama) {
  const int C = 1 + m.n_eta;
  const long S = z0.cols();
  MatrixXd x(C * N, S);  // channel-fastest per sample
  for (long s = 0; s < S; ++s)
    for (long j = 0; j < N; ++j)
      for (int c = 0; c < C; ++c) x(j * C + c, s) = z0(c * N + j, s);
  const MatrixXd none(0, S);
  MatrixXd fa(N, S), fb(m.n_eta * N, S);
  VectorXd scratch;
  nn::Workspace ws;
  const Philox rng(77, member, Purpose::dynamics_noise);
  const VectorXd g = m.diffusion_rho.unaryExpr([](double r) { return softplus(r); }) * std::sqrt(h);
  MatrixXd x0, f0(C * N, S), ga(N, S), gb(m.n_eta * N, S);
  for (long n = 0; n < steps; ++n) {
    m.macro_drift.forward(x, none, fa, scratch, ws);
    m.micro_local.forward(x, none, fb, scratch, ws);
    x0 = x;
    for (long s = 0; s < S; ++s)
      for (long j = 0; j < N; ++j)
        for (int c = 0; c < C; ++c) {
          const double f = c == 0 ? fa(j, s) : fb(j * m.n_eta + c - 1, s);
          const double xi = rng.normal(static_cast<std::uint64_t>(1 + n), static_cast<std::uint64_t>((j * S + s) * C + c));
          f0(j * C + c, s) = f;
          x(j * C + c, s) = x(j * C + c, s) + h * f + g[c] * xi;  // EM, or Heun's predictor
        }
    if (scheme != vi::Integrator::heun) continue;
    m.macro_drift.forward(x, none, ga, scratch, ws);
    m.micro_local.forward(x, none, gb, scratch, ws);
    for (long s = 0; s < S; ++s)
      for (long j = 0; j < N; ++j)
        for (int c = 0; c < C; ++c) {
          const double f1 = c == 0 ? ga(j, s) : gb(j * m.n_eta + c - 1, s);
          const double xi = rng.normal(static_cast<std::uint64_t>(1 + n), static_cast<std::uint64_t>((j * S + s) * C + c));
          x(j * C + c, s) = x0(j * C + c, s) + 0.5 * h * (f0(j * C + c, s) + f1) + g[c] * xi;
        }
  }
  MatrixXd out(C * N, S);
  for (long s = 0; s < S; ++s)
    for (long j = 0; j < N; ++j)
      for (int c = 0; c < C; ++c) out(c * N + j, s) = x(j * C + c, s);
  return out;
}
}  // namespace

TEST_CASE("Local-model rollouts split over ranks: bitwise the serial member for every split into groups",
          "[Parallel][vi][distributed]") {
  const auto boundary = GENERATE(nn::StencilBoundary::periodic, nn::StencilBoundary::zero, nn::StencilBoundary::replicate);
  CAPTURE(nn::to_string(boundary));
  const MsdeModel m = local_model(false, boundary);
  const int nranks = size();
  const int C = 1 + m.n_eta;
  // The drift on the trained mesh is the model's f_theta (vi::drift, the training path: to rounding).
  {
    const long N = m.n_zeta;
    MatrixXd z(m.latent_dim(), 3);
    Philox(5, 0, Purpose::training).normals(0, z.data(), static_cast<std::size_t>(z.size()));
    if (N / nranks >= 2) {
      DistributedRollout d(m, N, 3, MPI_COMM_WORLD);
      d.set_state(z);
      CHECK(d.gather() == z);
      const MatrixXd f = d.drift(0.0);
      const MatrixXd ref = vi::drift(m, z, 0.0);
      for (int s = 0; s < 3; ++s)
        for (long j = 0; j < d.owned_cells(); ++j)
          for (int c = 0; c < C; ++c)
            CHECK(f(j * C + c, s) == Approx(ref(c * N + d.cell(j), s)).margin(1e-12));
    }
    // A drift of time: the micro drift's time row is the one given, the macro drift does not read it.
    const MsdeModel mt = local_model(false, boundary, true);
    if (N / nranks >= 2) {
      DistributedRollout d(mt, N, 3, MPI_COMM_WORLD);
      d.set_state(z);
      const MatrixXd f = d.drift(0.7), f0 = d.drift(0.1);
      const MatrixXd ref = vi::drift(mt, z, 0.7);
      for (int s = 0; s < 3; ++s)
        for (long j = 0; j < d.owned_cells(); ++j)
          for (int c = 0; c < C; ++c) {
            CHECK(f(j * C + c, s) == Approx(ref(c * N + d.cell(j), s)).margin(1e-12));
            if (c == 0) CHECK(f(j * C, s) == f0(j * C, s));
            else CHECK(f(j * C + c, s) != f0(j * C + c, s));
          }
    }
  }
  // 4 members of 8 samples on a mesh of 36 cells (4.5 trained domains) on groups of 1, 2 or all ranks: 288
  // (cell, sample) columns, several blocks of the MLP calls on 1 and 2 ranks.
  const long N = 36;
  const int members = 4, S = 8;
  MatrixXd z0(C * N, S);
  Philox(6, 0, Purpose::training).normals(0, z0.data(), static_cast<std::size_t>(z0.size()));
  for (int per_group : {1, 2, 4}) {
    if (per_group > nranks || nranks % per_group != 0) continue;
    CAPTURE(nranks, per_group);
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, rank() / per_group, rank(), &group);
    const int groups = nranks / per_group, color = rank() / per_group;
    int ok = 1;
    for (const auto scheme : {vi::Integrator::euler_maruyama, vi::Integrator::heun}) {
      DistributedRollout d(m, N, S, group);
      for (int k = color; k < members; k += groups) {
        d.set_state(z0);
        d.advance(0.0, 1e-3, 4, 77, static_cast<std::uint64_t>(k), 1, scheme);
        d.advance(4e-3, 1e-3, 3, 77, static_cast<std::uint64_t>(k), 5, scheme);  // continued: counters 5..7
        const MatrixXd got = d.gather();
        const MatrixXd want = serial_member(m, z0, N, 1e-3, 7, static_cast<std::uint64_t>(k), scheme);
        ok = ok && got == want;
        ok = ok && (got - z0).norm() > 1e-3;  // it moved
        if (scheme == vi::Integrator::heun)  // and differs from EM
          ok = ok && got != serial_member(m, z0, N, 1e-3, 7, static_cast<std::uint64_t>(k));
      }
    }
    MPI_Comm_free(&group);
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(all == 1);
  }
  // A global model cannot be split.
  MsdeConfig gc = m.config;
  gc.local_eta = false;
  const MsdeModel global(gc);
  CHECK_THROWS_AS(DistributedRollout(global, N, 1, MPI_COMM_WORLD), InputError);
}

TEST_CASE("Local-model rollouts on a 2-D mesh split over ranks: bitwise the serial member for every split",
          "[Parallel][vi][distributed][2d]") {
  const auto boundary = GENERATE(nn::StencilBoundary::periodic, nn::StencilBoundary::zero, nn::StencilBoundary::replicate);
  CAPTURE(nn::to_string(boundary));
  const MsdeModel m = local_model(true, boundary);
  REQUIRE(m.dims() == 2);
  const int nranks = size();
  const int C = 1 + m.n_eta;
  const long N = m.n_zeta;  // 6 x 8
  // The state round-trips, and the drift on this rank's block is the whole-grid model's (vi::drift).
  {
    MatrixXd z(m.latent_dim(), 3);
    Philox(5, 0, Purpose::training).normals(0, z.data(), static_cast<std::size_t>(z.size()));
    DistributedRollout d(m, m.coarse, 3, MPI_COMM_WORLD);
    CHECK(d.ranks_x() * d.ranks_y() == nranks);
    d.set_state(z);
    CHECK(d.gather() == z);
    const MatrixXd f = d.drift(0.0);
    const MatrixXd ref = vi::drift(m, z, 0.0);
    long owned = d.owned_cells(), total = 0;
    MPI_Allreduce(&owned, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    CHECK(total == N);
    for (int s = 0; s < 3; ++s)
      for (long k = 0; k < owned; ++k)
        for (int c = 0; c < C; ++c) CHECK(f(k * C + c, s) == Approx(ref(c * N + d.cell(k), s)).margin(1e-12));
  }
  // 4 members of 8 samples: every split of the ranks into groups gives the serial member bitwise.
  const int members = 4, S = 8;
  MatrixXd z0(C * N, S);
  Philox(6, 0, Purpose::training).normals(0, z0.data(), static_cast<std::size_t>(z0.size()));
  // A larger mesh (10 x 14: 140 cells x 8 samples, 9 column blocks): every group equals one rank alone.
  const nn::Grid big{2, 10, 14};
  MatrixXd zb(C * big.size(), S);
  Philox(7, 0, Purpose::training).normals(0, zb.data(), static_cast<std::size_t>(zb.size()));
  std::vector<MatrixXd> alone;
  {
    DistributedRollout d(m, big, S, MPI_COMM_SELF);
    for (int k = 0; k < members; ++k) {
      d.set_state(zb);
      d.advance(0.0, 1e-3, 5, 77, static_cast<std::uint64_t>(k), 1);
      alone.push_back(d.gather());
    }
  }
  for (int per_group : {1, 2, 4}) {
    if (per_group > nranks || nranks % per_group != 0) continue;
    CAPTURE(nranks, per_group);
    MPI_Comm group;
    MPI_Comm_split(MPI_COMM_WORLD, rank() / per_group, rank(), &group);
    const int groups = nranks / per_group, color = rank() / per_group;
    int ok = 1;
    {
      DistributedRollout d(m, m.coarse, S, group);
      DistributedRollout db(m, big, S, group);
      for (int k = color; k < members; k += groups) {
        d.set_state(z0);
        d.advance(0.0, 1e-3, 4, 77, static_cast<std::uint64_t>(k), 1);
        d.advance(4e-3, 1e-3, 3, 77, static_cast<std::uint64_t>(k), 5);  // continued: counters 5..7
        const MatrixXd got = d.gather();
        ok = ok && got == serial_member(m, z0, N, 1e-3, 7, static_cast<std::uint64_t>(k));
        ok = ok && (got - z0).norm() > 1e-3;  // it moved
        db.set_state(zb);
        db.advance(0.0, 1e-3, 5, 77, static_cast<std::uint64_t>(k), 1);
        ok = ok && db.gather() == alone[static_cast<std::size_t>(k)];
      }
    }
    MPI_Comm_free(&group);
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    CHECK(all == 1);
  }
  // A 1-D mesh for a 2-D model, and a mesh too small for the stencil, are refused.
  CHECK_THROWS_AS(DistributedRollout(m, nn::Grid{1, 48, 1}, 1, MPI_COMM_WORLD), InputError);
  CHECK_THROWS_AS(DistributedRollout(m, nn::Grid{2, 4, 8}, 1, MPI_COMM_SELF), InputError);
}
