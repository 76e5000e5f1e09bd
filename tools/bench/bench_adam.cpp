// Benchmark driver (not a test): Adam steps per second of msrom's MLP (forward + backward + step on a
// fixed minibatch), for the comparison with PyTorch in tools/bench/bench_adam.py.
//   build/bench_adam WIDTHS BATCH STEPS        e.g. build/bench_adam 1,50,25,1 16 200000
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "msrom/core/session.hpp"
#include "msrom/nn/adam.hpp"
#include "msrom/nn/mlp.hpp"

int main(int argc, char** argv) {
  msrom::Session session(argc, argv, false);
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_adam WIDTHS BATCH STEPS\n");
    return 2;
  }
  std::vector<int> widths;
  std::stringstream ws(argv[1]);
  for (std::string w; std::getline(ws, w, ',');) widths.push_back(std::atoi(w.c_str()));
  const int batch = std::atoi(argv[2]);
  const long steps = std::atol(argv[3]);
  msrom::nn::Mlp net(widths, msrom::nn::Activation::swish, 1);
  msrom::nn::Adam adam(net.num_params());
  msrom::nn::Tape tape;
  msrom::nn::Workspace work;
  const Eigen::MatrixXd x = Eigen::MatrixXd::Random(widths.front(), batch);
  const Eigen::MatrixXd y = x.array().sin().matrix().topRows(widths.back());
  Eigen::VectorXd grad(net.num_params());
  Eigen::MatrixXd dy(widths.back(), batch);
  auto one = [&] {
    const auto out = net.forward(x, tape);
    dy = (2.0 / batch) * (out - y);  // d/dY of the mean squared error
    grad.setZero();
    net.backward(tape, dy, grad, nullptr, work);
    adam.step(net.params(), grad);
  };
  for (int i = 0; i < 1000; ++i) one();  // warm-up
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < steps; ++i) one();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%.6g\n", static_cast<double>(steps) / s);
  return 0;
}
