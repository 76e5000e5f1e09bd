// The learned score (KGMM + count-weighted MLP fit) against analytic scores of the noised density
// p_sigma = p * N(0, sigma^2 I), which is what KGMM estimates:
//   2-D Gaussian mixture   p_sigma is the mixture with covariances s^2 + sigma^2: exact score
//   1-D double well        p ~ exp(-U), U = x^4/4 - x^2 (Gibbs); p_sigma's score by quadrature on a grid
// Error measure: the p-weighted RMS error over fresh samples of p, relative to the RMS of the score itself.
// Bound: 0.1. The centroid estimates carry a single-pass standard error 1/(sigma sqrt(n/K)) ~ 0.3 here
// (in score units, against an RMS score of ~2-3), and the MLP fit averages it over ~K/P_eff neighbouring
// clusters; measured relative errors are 0.056 (mixture) and 0.047 (double well) with 1500 epochs (400
// epochs underfit the mixture: 0.155; the double well then measures 0.020), so 0.1 leaves a factor of ~2 yet fails for a missing
// 1/(1+sigma^2) factor, a sign error or a fit that did not converge.
#include <catch2/catch.hpp>

#include <mpi.h>

#include <cmath>
#include <random>

#include "msrom/nn/adam.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/score/kgmm.hpp"

using namespace msrom;

namespace {

nn::Mlp learn(const Eigen::MatrixXd& x, double sigma, int clusters) {
  score::KgmmOptions o;
  o.sigma = sigma;
  o.clusters = clusters;
  o.partition_samples = 50000;
  o.tolerance = 1e-3;
  o.max_passes = 20;
  const auto r = score::kgmm(x, o, MPI_COMM_SELF);
  const int d = static_cast<int>(x.rows());
  nn::Mlp net({d, 50, 50, d}, nn::Activation::swish, 3);
  nn::FitOptions f;
  f.epochs = 1500;
  f.batch = 32;
  f.lr = 2e-3;
  f.schedule = nn::Schedule::cosine(0, 1e-4);
  nn::fit_weighted_mse(net, r.centroids, r.noise_mean, r.counts, f, MPI_COMM_SELF);
  return net;
}

template <class Exact>
double relative_rms(const nn::Mlp& net, double sigma, const Eigen::MatrixXd& fresh, Exact exact) {
  const Eigen::MatrixXd s = -net.forward(fresh) / sigma;
  double err = 0, norm = 0;
  for (Eigen::Index i = 0; i < fresh.cols(); ++i) {
    const Eigen::VectorXd e = exact(fresh.col(i));
    err += (s.col(i) - e).squaredNorm();
    norm += e.squaredNorm();
  }
  return std::sqrt(err / norm);
}

}  // namespace

TEST_CASE("Learned score of a 2-D Gaussian mixture", "[score]") {
  const double sigma = 0.1, s0 = 0.4;
  const Eigen::Vector2d mu[2] = {{-1.2, 0.3}, {1.0, -0.4}};
  const double w0 = 0.4;
  std::mt19937_64 g(8);
  std::normal_distribution<double> z;
  std::uniform_real_distribution<double> u;
  auto sample = [&](int n) {
    Eigen::MatrixXd x(2, n);
    for (int i = 0; i < n; ++i) x.col(i) = mu[u(g) < w0 ? 0 : 1] + s0 * Eigen::Vector2d(z(g), z(g));
    return x;
  };
  const auto net = learn(sample(100000), sigma, 150);
  const double v = s0 * s0 + sigma * sigma;
  auto exact = [&](const Eigen::VectorXd& x) {
    double p[2], tot = 0;
    for (int c = 0; c < 2; ++c) tot += p[c] = (c == 0 ? w0 : 1 - w0) * std::exp(-(x - mu[c]).squaredNorm() / (2 * v));
    Eigen::VectorXd s = Eigen::VectorXd::Zero(2);
    for (int c = 0; c < 2; ++c) s += p[c] / tot * (mu[c] - x) / v;
    return s;
  };
  const double rel = relative_rms(net, sigma, sample(20000), exact);
  CAPTURE(rel);
  CHECK(rel < 0.1);
}

TEST_CASE("Learned score of a 1-D double-well Gibbs density", "[score]") {
  const double sigma = 0.1;
  auto U = [](double x) { return 0.25 * x * x * x * x - x * x; };
  // Rejection sampling from exp(-U) on [-3.5, 3.5] (max of exp(-U) is e at x = +-sqrt(2)).
  std::mt19937_64 g(21);
  std::uniform_real_distribution<double> u;
  auto sample = [&](int n) {
    Eigen::MatrixXd x(1, n);
    for (int i = 0; i < n;) {
      const double c = -3.5 + 7 * u(g);
      if (u(g) * std::exp(1.0) < std::exp(-U(c))) x(0, i++) = c;
    }
    return x;
  };
  const auto net = learn(sample(100000), sigma, 120);
  // p_sigma and its derivative by quadrature: p_s(x) = int p(y) N(x - y; sigma) dy.
  auto exact = [&](const Eigen::VectorXd& xv) {
    const double x = xv(0);
    double p = 0, dp = 0;
    for (int k = -4000; k <= 4000; ++k) {
      const double y = x + k * (6 * sigma / 4000), kern = std::exp(-(x - y) * (x - y) / (2 * sigma * sigma));
      p += std::exp(-U(y)) * kern;
      dp += std::exp(-U(y)) * kern * (y - x) / (sigma * sigma);
    }
    return Eigen::VectorXd::Constant(1, dp / p);
  };
  const double rel = relative_rms(net, sigma, sample(3000), exact);
  CAPTURE(rel);
  CHECK(rel < 0.1);
}

TEST_CASE("Learned score of a 1-D standard normal", "[score]") {
  // Exact noised score -u / (1 + sigma^2).
  const double sigma = 0.1;
  std::mt19937_64 g(4);
  std::normal_distribution<double> z;
  auto sample = [&](int n) {
    Eigen::MatrixXd x(1, n);
    for (int i = 0; i < n; ++i) x(0, i) = z(g);
    return x;
  };
  const auto net = learn(sample(100000), sigma, 100);
  const double rel = relative_rms(net, sigma, sample(5000), [&](const Eigen::VectorXd& x) {
    return Eigen::VectorXd(-x / (1 + sigma * sigma));
  });
  CAPTURE(rel);
  CHECK(rel < 0.1);
}
