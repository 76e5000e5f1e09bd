// Data-parallel training under MPI (run by ctest at 1, 2 and 4 ranks): the reproducible reduction and the
// minibatch fit give bitwise the same result as one rank alone, and a network saved collectively reads back.
#include <catch2/catch.hpp>

#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "mpi_util.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/adam.hpp"
#include "msrom/nn/mlp.hpp"

using namespace msrom;
using namespace msrom::nn;
using Eigen::MatrixXd;
using Eigen::VectorXd;

TEST_CASE("ReproducibleSum is bitwise the serial ordered sum for any rank count", "[Parallel]") {
  const int nblocks = 11, len = 3;
  // Partials whose sum depends on the order of addition.
  auto partial = [](int b, int j) { return (b % 3 == 0 ? 1e16 : 1.0) * (b % 2 ? -1.0 : 1.0) + 0.1 * b + j; };
  VectorXd serial = VectorXd::Zero(len);
  for (int b = 0; b < nblocks; ++b)
    for (int j = 0; j < len; ++j) serial[j] += partial(b, j);

  ReproducibleSum rs(len, MPI_COMM_WORLD);
  const auto mine = block_range(nblocks, size(), rank());
  VectorXd total(len);
  for (int rep = 0; rep < 2; ++rep) {  // buffers are reused
    rs.clear();
    for (auto b = mine.end - 1; b >= mine.begin; --b) {  // added in reverse: order must not matter
      auto p = rs.add(b);
      for (int j = 0; j < len; ++j) p[j] = partial(static_cast<int>(b), j);
    }
    rs.reduce(total);
    CHECK(total == serial);
  }

  VectorXd v = VectorXd::Constant(4, rank() + 1.0);
  allreduce_sum(v, MPI_COMM_WORLD);
  CHECK(v[3] == size() * (size() + 1) / 2.0);
}

TEST_CASE("fit_weighted_mse gives bitwise the single-rank network on any number of ranks", "[Parallel]") {
  // 37 samples of a 2-D map, uneven count weights; blocks of 16 (3 blocks: a rank of 4 owns none) and of 4.
  const int n = 37;
  MatrixXd X(2, n), Y(2, n);
  VectorXd w(n);
  Philox(5, 0, Purpose::perturbation).normals(0, X.data(), static_cast<std::size_t>(X.size()));
  for (int i = 0; i < n; ++i) {
    Y(0, i) = std::sin(X(0, i)) * X(1, i);
    Y(1, i) = -X(0, i) + 0.3 * X(1, i) * X(1, i);
    w[i] = 1 + (i * 7) % 5;
  }
  for (std::int64_t block : {0, 4}) {
    CAPTURE(block);
    FitOptions o;
    o.epochs = 40;
    o.batch = 8;
    o.lr = 3e-3;
    o.seed = 21;
    o.block = block;
    o.schedule = Schedule::step_decay(0.7, 50);
    Mlp par({2, 16, 16, 2}, Activation::swish, 4), ser = par;
    const auto rp = fit_weighted_mse(par, X, Y, w, o, MPI_COMM_WORLD);
    const auto rs = fit_weighted_mse(ser, X, Y, w, o, MPI_COMM_SELF);
    CHECK(par.params() == ser.params());
    CHECK(rp.epoch_loss == rs.epoch_loss);
    CHECK(rp.final_loss == rs.final_loss);
    CHECK(rp.epoch_loss.back() < 0.5 * rp.epoch_loss.front());  // it did learn
    CHECK(same_on_all_ranks(par.params()));
  }
}

TEST_CASE("A network saved collectively reads back bitwise on every rank", "[Parallel]") {
  std::string path = "/tmp/msrom_mpi_nn_" + std::to_string(getpid()) + ".h5";
  broadcast(path);
  const Mlp net({3, 10, 3}, Activation::tanh, 9);
  {
    h5::OutputFile out(path, MPI_COMM_WORLD);
    out.write_root_attributes(9);
    net.save(out, "/forcing/node_0");
    out.commit();
  }
  {
    const auto back = Mlp::load(h5::File::open(path), "/forcing/node_0");
    CHECK(back.params() == net.params());
    CHECK(back.activation() == Activation::tanh);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank() == 0) std::remove(path.c_str());
}
