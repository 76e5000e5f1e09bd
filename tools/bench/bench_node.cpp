// Benchmark driver (not a test): NODE training steps per second (forward through the RK4 windows, backward
// through the stages and steps, Adam), for the comparison with PyTorch in tools/bench/bench_node.py.
//   build/bench_node WIDTHS WINDOWS STEPS ITERATIONS      e.g. build/bench_node 10,256,256,10 100 60 20
// Same set-up on both sides: a delay-embedded (m = 10, tau = 2) noisy sine, h = 0.01, windows at fixed
// starts, loss sum_k w_k |u_k - data_k|^2 with w_k = exp(-k / K), Adam lr 1e-3. Prints steps/s and the
// first step's loss (a cross-check of the set-up, not of the bits).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "msrom/core/session.hpp"
#include "msrom/nn/adam.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/node/node.hpp"

int main(int argc, char** argv) {
  msrom::Session session(argc, argv, false);
  if (argc < 5) {
    std::fprintf(stderr, "usage: bench_node WIDTHS WINDOWS STEPS ITERATIONS\n");
    return 2;
  }
  std::vector<int> widths;
  std::stringstream ws(argv[1]);
  for (std::string w; std::getline(ws, w, ',');) widths.push_back(std::atoi(w.c_str()));
  const int windows = std::atoi(argv[2]), steps = std::atoi(argv[3]);
  const long iterations = std::atol(argv[4]);
  const int m = widths.front();
  const Eigen::Index tau = 2, n = 20000;
  Eigen::MatrixXd r(1, n);
  for (Eigen::Index i = 0; i < n; ++i) r(0, i) = std::sin(0.05 * i) + 0.3 * std::sin(0.31 * i + 1.0);
  const msrom::node::DelaySeries data{&r, m, tau};
  std::vector<Eigen::Index> starts;
  for (int b = 0; b < windows; ++b) starts.push_back(data.first() + b * 97);
  msrom::nn::Mlp net(widths, msrom::nn::Activation::swish, 1);
  msrom::nn::Adam adam(net.num_params());
  msrom::node::NodeTrainer trainer(0.01, steps);
  double W = 0;
  for (double w : trainer.weights()) W += w;
  const double scale = 1.0 / (windows * m * W);
  Eigen::VectorXd grad(net.num_params());
  double first = 0;
  auto one = [&] {
    grad.setZero();
    const double l = trainer.loss_and_gradient(net, data, starts.data(), windows, scale, grad);
    adam.step(net.params(), grad);
    return l;
  };
  first = one();  // warm-up (sizes the tapes)
  one();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) one();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("loss0 %.10g\n%.6g\n", first, static_cast<double>(iterations) / s);
  return 0;
}
