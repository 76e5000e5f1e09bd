// Data-parallel training of the multiscale model (issue 7), run by ctest at 1, 2 and 4 ranks: the trained
// parameters and the per-step losses are bitwise those of one rank alone.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <cmath>
#include <vector>

#include "mpi_util.hpp"
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
