// NODE training under MPI (run by ctest at 1, 2 and 4 ranks): the data-parallel training of one NODE and
// the ensemble over rank groups give bitwise what one rank alone gives, on every rank.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <cmath>
#include <vector>

#include "mpi_util.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/node/node.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

struct Setup {
  MatrixXd r;
  std::vector<Index> starts;
  msrom::node::TrainOptions o;
  Setup() : r(1, 600) {
    for (Index i = 0; i < r.cols(); ++i) r(0, i) = std::sin(0.13 * i) * std::cos(0.021 * i) + 0.1 * std::sin(1.7 * i);
    const msrom::node::DelaySeries s{&r, 4, 2};
    starts = msrom::node::window_starts(s, {{0, 300}, {300, 600}}, 8);
    o.steps = 8;
    o.batch = 10;
    o.block = 3;  // 4 blocks of 3, 3, 3, 1 windows: uneven over 2 and 4 ranks
    o.iterations = 15;
    o.lr = 1e-2;
    o.seed = 11;
  }
  msrom::node::DelaySeries series() const { return {&r, 4, 2}; }
};

}  // namespace

TEST_CASE("NODE training: bitwise the same on any number of ranks", "[Parallel][node]") {
  const Setup su;
  msrom::nn::Mlp world({4, 8, 8, 4}, msrom::nn::Activation::swish, 2);
  msrom::nn::Mlp self = world;
  const auto rw = msrom::node::train(world, su.series(), su.starts, 0.05, su.o, MPI_COMM_WORLD);
  const auto rs = msrom::node::train(self, su.series(), su.starts, 0.05, su.o, MPI_COMM_SELF);
  CHECK(world.params() == self.params());
  CHECK(rw.loss == rs.loss);
  CHECK(same_on_all_ranks(world.params()));
}

TEST_CASE("NODE ensemble over rank groups: every member as if trained alone, on every rank", "[Parallel][node]") {
  const Setup su;
  const int members = 3;
  std::vector<msrom::nn::Mlp> nets;
  for (int i = 0; i < members; ++i) nets.emplace_back(std::vector<int>{4, 8, 8, 4}, msrom::nn::Activation::swish, 20 + i);
  std::vector<msrom::nn::Mlp> alone = nets;
  std::vector<std::vector<double>> losses;
  msrom::node::train_ensemble(nets, su.series(), su.starts, 0.05, su.o, MPI_COMM_WORLD, &losses);
  REQUIRE(losses.size() == 3u);
  for (int i = 0; i < members; ++i) {
    auto o = su.o;
    o.seed = su.o.seed + static_cast<std::uint64_t>(i);
    const auto r = msrom::node::train(alone[i], su.series(), su.starts, 0.05, o, MPI_COMM_SELF);
    CHECK(nets[i].params() == alone[i].params());
    CHECK(losses[i] == r.loss);
    CHECK(same_on_all_ranks(nets[i].params()));
  }
  CHECK(nets[0].params() != nets[1].params());
}
