// The neural ODE (node/node.hpp): delay-embedding indices, the embedding lag rule, the gradient of the
// windowed RK4 loss against central finite differences, and recovery of a known linear ODE.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <cmath>
#include <vector>

#include "msrom/core/errors.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/node/node.hpp"

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using msrom::node::DelaySeries;

TEST_CASE("delay embedding: u_t = [r_t, r_{t-tau}, ..., r_{t-(m-1)tau}], row block k = lag k tau", "[node]") {
  // 2 variables: r(0, i) = i, r(1, i) = 1000 + i, so every entry names its source sample.
  MatrixXd r(2, 20);
  for (Index i = 0; i < 20; ++i) {
    r(0, i) = static_cast<double>(i);
    r(1, i) = 1000.0 + static_cast<double>(i);
  }
  const int m = 3;
  const Index tau = 2;
  const MatrixXd u = msrom::node::delay_embed(r, m, tau);
  REQUIRE(u.rows() == 6);
  REQUIRE(u.cols() == 20 - 4);
  const DelaySeries s{&r, m, tau};
  CHECK(s.dim() == 6);
  CHECK(s.first() == 4);
  for (Index j = 0; j < u.cols(); ++j) {
    const Index t = j + 4;  // column j is time j + (m-1) tau
    for (int k = 0; k < m; ++k) {
      CHECK(u(2 * k, j) == static_cast<double>(t - k * tau));
      CHECK(u(2 * k + 1, j) == 1000.0 + static_cast<double>(t - k * tau));
    }
    VectorXd g(6);
    s.gather(t, g.data());
    CHECK(g == u.col(j));
  }
  CHECK_THROWS_AS(msrom::node::delay_embed(r, 11, 2), msrom::InputError);  // span 20 leaves nothing
  CHECK_THROWS_AS(msrom::node::delay_embed(r, 0, 2), msrom::InputError);
  CHECK_THROWS_AS(msrom::node::delay_embed(r, 2, 0), msrom::InputError);

  // Window starts: a full delay vector at t and the target t + K inside the segment.
  const auto starts = msrom::node::window_starts(s, {{0, 10}, {10, 20}}, 3);
  const std::vector<Index> expect{4, 5, 6, 14, 15, 16};
  CHECK(starts == expect);
}

TEST_CASE("embedding lag: 0.25 x the first lag where the ACF drops below 0.2", "[node]") {
  // rho(k) = exp(-k / 10) < 0.2 first at k = 17 (10 ln 5 = 16.09): tau = round(4.25) = 4.
  std::vector<double> rho;
  for (int k = 0; k < 100; ++k) rho.push_back(std::exp(-k / 10.0));
  CHECK(msrom::node::embedding_lag(rho) == 4);
  CHECK(msrom::node::embedding_lag(rho, 0.2, 1.0) == 17);
  CHECK(msrom::node::embedding_lag(rho, 0.5, 0.01) == 1);  // never below one sample
  CHECK(msrom::node::first_zero(rho) == rho.size());
  std::vector<double> cosine;
  for (int k = 0; k < 100; ++k) cosine.push_back(std::cos(0.1 * k));  // zero at k = 15.7
  CHECK(msrom::node::first_zero(cosine) == 16);
  CHECK_THROWS_AS(msrom::node::embedding_lag(std::vector<double>(5, 1.0)), msrom::InputError);
}

namespace {

// A smooth 1-D series with some structure.
MatrixXd test_series(Index n) {
  MatrixXd r(1, n);
  for (Index i = 0; i < n; ++i) r(0, i) = std::sin(0.21 * i) + 0.5 * std::cos(0.057 * i + 0.3) - 0.2;
  return r;
}

}  // namespace

TEST_CASE("NODE gradient through the RK4 stages and steps equals central finite differences", "[node]") {
  const MatrixXd r = test_series(200);
  const DelaySeries s{&r, 3, 2};
  msrom::nn::Mlp net({3, 8, 8, 3}, msrom::nn::Activation::swish, 3);
  // Larger weights and a large step, so that the network's nonlinearity and the RK4 stage coupling matter.
  net.params() *= 2.0;
  const std::vector<Index> starts{4, 17, 60, 133};
  const int K = 6;
  const double h = 0.15;
  msrom::node::NodeTrainer trainer(h, K, 0.5);
  const double scale = 0.37;
  VectorXd grad = VectorXd::Zero(net.num_params());
  const double loss = trainer.loss_and_gradient(net, s, starts.data(), 4, scale, grad);
  REQUIRE(loss > 0);
  // The inference path gives the same loss (kernels differ by rounding only).
  CHECK(trainer.loss(net, s, starts.data(), 4, scale) == Approx(loss).epsilon(1e-12));

  double worst = 0;
  const double eps = 1e-6;
  for (Index p = 0; p < net.num_params(); ++p) {
    const double keep = net.params()[p];
    VectorXd unused = VectorXd::Zero(net.num_params());
    net.params()[p] = keep + eps;
    const double lp = trainer.loss_and_gradient(net, s, starts.data(), 4, scale, unused);
    net.params()[p] = keep - eps;
    const double lm = trainer.loss_and_gradient(net, s, starts.data(), 4, scale, unused);
    net.params()[p] = keep;
    const double fd = (lp - lm) / (2 * eps);
    worst = std::max(worst, std::abs(fd - grad[p]) / (std::abs(fd) + 1e-3 * grad.cwiseAbs().maxCoeff()));
  }
  INFO("worst relative error " << worst);
  CHECK(worst < 1e-6);

  // Accumulation: a second call adds the same gradient again.
  VectorXd twice = grad;
  trainer.loss_and_gradient(net, s, starts.data(), 4, scale, twice);
  CHECK((twice - 2 * grad).cwiseAbs().maxCoeff() < 1e-14 * grad.cwiseAbs().maxCoeff() * 10);

  // The weights sit on the squared errors: a single window, K = 1 and a zero network (u stays put) give
  // exactly w_1 |u_t - u_{t+1}|^2.
  msrom::nn::Mlp zero({3, 8, 3}, msrom::nn::Activation::swish, 1);
  zero.params().setZero();
  msrom::node::NodeTrainer one(h, 1, 1.0);
  VectorXd g0 = VectorXd::Zero(zero.num_params());
  VectorXd a(3), b(3);
  s.gather(10, a.data());
  s.gather(11, b.data());
  CHECK(one.loss_and_gradient(zero, s, std::vector<Index>{10}.data(), 1, 1.0, g0) ==
        Approx(std::exp(-1.0) * (a - b).squaredNorm()).epsilon(1e-14));
}

TEST_CASE("NODE training recovers a known linear ODE", "[node]") {
  // du/dt = A u, a damped rotation; exact samples u(t) = exp(A t) u0 at spacing h, three trajectories.
  Eigen::Matrix2d A;
  A << -0.1, 1.5, -1.5, -0.1;
  const double h = 0.05;
  const Index n = 300;
  MatrixXd r(2, 3 * n);
  std::vector<std::pair<Index, Index>> segments;
  const double radius[3] = {1.0, 2.0, 0.7}, phase[3] = {0.0, 2.0, 4.0};
  for (int c = 0; c < 3; ++c) {
    for (Index i = 0; i < n; ++i) {
      const double t = h * static_cast<double>(i), a = radius[c] * std::exp(-0.1 * t), w = 1.5 * t + phase[c];
      // exp(A t) for A = [[-g, w0], [-w0, -g]]: e^{-g t} [[cos, sin], [-sin, cos]]
      r(0, c * n + i) = a * std::cos(w);
      r(1, c * n + i) = -a * std::sin(w);
    }
    segments.emplace_back(c * n, (c + 1) * n);
  }
  const DelaySeries s{&r, 1, 1};
  const auto starts = msrom::node::window_starts(s, segments, 10);
  msrom::nn::Mlp net({2, 2}, msrom::nn::Activation::identity, 5);  // du/dt = W u + b
  msrom::node::TrainOptions o;
  o.steps = 10;
  o.batch = 16;
  o.block = 16;
  o.iterations = 1500;
  o.lr = 2e-2;
  o.schedule = msrom::nn::Schedule::cosine(0);
  const auto res = msrom::node::train(net, s, starts, h, o, MPI_COMM_SELF);
  REQUIRE(res.loss.size() == 1500u);
  INFO("loss " << res.loss.front() << " -> " << res.loss.back() << "\nW =\n" << net.weight(0) << "\nb = "
               << net.bias(0).transpose());
  CHECK(res.loss.back() < 1e-4 * res.loss.front());
  // RK4 with W = A is exact to O(h^5) per step: the fit finds W within O(h^4) of A (measured: to 1e-15,
  // loss 1e-30).
  CHECK((net.weight(0) - MatrixXd(A)).cwiseAbs().maxCoeff() < 1e-4);
  CHECK(net.bias(0).cwiseAbs().maxCoeff() < 1e-4);
}
