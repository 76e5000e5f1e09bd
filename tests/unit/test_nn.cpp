// The MLP and its training: forward against a hand computation, back-propagation against central
// differences for every activation, Xavier statistics, Adam against hand-computed steps and on a quadratic,
// learning-rate schedules, save/load, and the weighted minibatch fit.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/adam.hpp"
#include "msrom/nn/gemm.hpp"
#include "msrom/nn/kernel.hpp"
#include "msrom/nn/mlp.hpp"

using namespace msrom;
using namespace msrom::nn;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
std::string tmp(const std::string& name) { return "/tmp/msrom_unit_" + std::to_string(getpid()) + "_" + name; }

MatrixXd gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t step) {
  MatrixXd m(rows, cols);
  Philox(99, 0, Purpose::perturbation).normals(step, m.data(), static_cast<std::size_t>(m.size()));
  return m;
}

double loss_of(const Mlp& net, const MatrixXd& X, const MatrixXd& dY) { return (net.forward(X).array() * dY.array()).sum(); }

// max_i |a_i - b_i| / max(|b_i|, floor)
template <class A, class B>
double max_rel_err(const A& a, const B& b, double floor) {
  return ((a - b).array().abs() / b.array().abs().max(floor)).maxCoeff();
}

const Activation kAll[] = {Activation::swish, Activation::leaky_relu, Activation::tanh, Activation::identity};
}  // namespace

TEST_CASE("Activation names round trip; an unknown name is an input error", "[nn]") {
  for (auto a : kAll) CHECK(activation_from_string(to_string(a)) == a);
  CHECK_THROWS_AS(activation_from_string("relu6"), InputError);
  CHECK_THROWS_AS(Mlp({3}, Activation::tanh, 1), InputError);
  CHECK_THROWS_AS(Mlp({3, 0, 1}, Activation::tanh, 1), InputError);
}

TEST_CASE("Flat parameter layout and forward pass match a hand computation", "[nn]") {
  // [2, 2, 1]: W0 (2x2, column-major), b0, W1 (1x2), b1 -> 9 parameters.
  for (auto act : kAll) {
    CAPTURE(to_string(act));
    Mlp net({2, 2, 1}, act, 3);
    REQUIRE(net.num_params() == 9);
    net.params() << 0.5, -1.0, 2.0, 0.25, 0.1, -0.2, 1.5, -3.0, 0.7;
    CHECK(net.weight(0)(1, 0) == -1.0);
    CHECK(net.weight(0)(0, 1) == 2.0);
    CHECK(net.bias(0)(1) == -0.2);
    CHECK(net.weight(1)(0, 1) == -3.0);
    CHECK(net.bias_offset(1) == 8);

    auto phi = [act](double z) {
      switch (act) {
        case Activation::swish: return z / (1 + std::exp(-z));
        case Activation::leaky_relu: return z > 0 ? z : 0.01 * z;
        case Activation::tanh: return std::tanh(z);
        case Activation::identity: return z;
      }
      return 0.0;
    };
    MatrixXd X(2, 3);
    X << 1.0, -2.0, 0.3,  //
        0.5, 1.0, -0.7;
    const MatrixXd Y = net.forward(X);
    REQUIRE(Y.rows() == 1);
    REQUIRE(Y.cols() == 3);
    for (int c = 0; c < 3; ++c) {
      const double x0 = X(0, c), x1 = X(1, c);
      const double h0 = phi(0.5 * x0 + 2.0 * x1 + 0.1), h1 = phi(-1.0 * x0 + 0.25 * x1 - 0.2);
      CHECK(Y(0, c) == Approx(1.5 * h0 - 3.0 * h1 + 0.7).epsilon(1e-14));
    }
    // The training path (Eigen) and the inference kernels agree to rounding.
    Tape tape;
    CHECK(max_rel_err(MatrixXd(net.forward(X, tape)), Y, 1e-300) < 1e-14);
    Workspace ws;
    MatrixXd Z(1, 3);
    net.forward(X, Z, ws);
    CHECK(Z == Y);
  }
  Mlp net({2, 3}, Activation::tanh, 1);
  CHECK_THROWS_AS(net.forward(MatrixXd::Zero(3, 2)), std::invalid_argument);
}

TEST_CASE("Parameter and input gradients match central differences for every activation", "[nn]") {
  const std::vector<std::vector<int>> shapes = {{3, 7, 5, 2}, {3, 2}, {1, 6, 1}, {4, 9, 9, 9, 3}};
  for (auto act : kAll)
    for (const auto& widths : shapes) {
      CAPTURE(to_string(act), widths);
      Mlp net(widths, act, 5);
      // Non-zero biases so that every parameter and kink position is exercised.
      net.params() += 0.1 * gaussian(net.num_params(), 1, 1);
      const int B = 4;
      const MatrixXd X = gaussian(widths.front(), B, 2);
      const MatrixXd dY = gaussian(widths.back(), B, 3);  // loss = sum(dY .* Y): its cotangent is dY

      Tape tape;
      net.forward(X, tape);
      VectorXd grad = VectorXd::Zero(net.num_params());
      MatrixXd dX;
      net.backward(tape, dY, grad, &dX);

      const double h = 1e-6;
      VectorXd fd(net.num_params());
      for (Eigen::Index k = 0; k < net.num_params(); ++k) {
        Mlp p = net, m = net;
        p.params()[k] += h;
        m.params()[k] -= h;
        fd[k] = (loss_of(p, X, dY) - loss_of(m, X, dY)) / (2 * h);
      }
      CHECK(max_rel_err(grad, fd, 1e-2) < 1e-6);

      MatrixXd fdx(X.rows(), B);
      for (Eigen::Index k = 0; k < X.size(); ++k) {
        MatrixXd xp = X, xm = X;
        xp(k) += h;
        xm(k) -= h;
        fdx(k) = (loss_of(net, xp, dY) - loss_of(net, xm, dY)) / (2 * h);
      }
      REQUIRE(dX.rows() == X.rows());
      REQUIRE(dX.cols() == B);
      CHECK(max_rel_err(dX, fdx, 1e-2) < 1e-6);

      // grad accumulates, dX is overwritten.
      VectorXd grad2 = grad;
      net.backward(tape, dY, grad2, &dX);
      CHECK((grad2 - 2 * grad).norm() <= 1e-14 * grad.norm());
      CHECK(max_rel_err(dX, fdx, 1e-2) < 1e-6);
    }
}

TEST_CASE("Xavier initialisation: Glorot-normal statistics, zero biases, deterministic per seed", "[nn]") {
  Mlp net({400, 300, 200}, Activation::swish, 7);
  for (int l = 0; l < 2; ++l) {
    const auto W = net.weight(l);
    const double n = static_cast<double>(W.size());
    const double mean = W.mean();
    const double sd = std::sqrt((W.array() - mean).square().sum() / (n - 1));
    const double want = std::sqrt(2.0 / (net.widths()[l] + net.widths()[l + 1]));
    CAPTURE(l);
    CHECK(std::abs(mean) < 4 * want / std::sqrt(n));
    CHECK(sd == Approx(want).epsilon(0.02));
    CHECK(net.bias(l).isZero(0));
  }
  CHECK(Mlp({400, 300, 200}, Activation::swish, 7).params() == net.params());
  CHECK(Mlp({400, 300, 200}, Activation::tanh, 7).params() == net.params());  // activation-independent
  CHECK(Mlp({400, 300, 200}, Activation::swish, 8).params() != net.params());
  // Each layer draws its own stream: equal-shaped layers are not copies of each other.
  Mlp sq({50, 50, 50}, Activation::swish, 7);
  CHECK(MatrixXd(sq.weight(0)) != MatrixXd(sq.weight(1)));
}

TEST_CASE("One Adam step and a second one match a hand computation", "[nn]") {
  AdamOptions o;
  o.lr = 0.1;
  Adam adam(2, o);
  VectorXd p(2), g(2);
  p << 1.0, -2.0;
  g << 0.5, -3.0;
  // t = 1: m = 0.1 g, v = 0.001 g^2, mhat = g, vhat = g^2.
  adam.step(p, g);
  const double m0 = 0.1 * 0.5, v0 = 0.001 * 0.25, m1 = 0.1 * -3.0, v1 = 0.001 * 9.0;
  double p0 = 1.0 - 0.1 * (m0 / 0.1) / (std::sqrt(v0 / 0.001) + 1e-8);
  double p1 = -2.0 - 0.1 * (m1 / 0.1) / (std::sqrt(v1 / 0.001) + 1e-8);
  CHECK(p[0] == Approx(p0).epsilon(1e-14));
  CHECK(p[1] == Approx(p1).epsilon(1e-14));
  CHECK(adam.t() == 1);
  // t = 2 with another gradient.
  VectorXd g2(2);
  g2 << -1.0, 2.0;
  adam.step(p, g2);
  const double bc1 = 1 - 0.9 * 0.9, bc2 = 1 - 0.999 * 0.999;
  const double m0b = 0.9 * m0 + 0.1 * -1.0, v0b = 0.999 * v0 + 0.001 * 1.0;
  const double m1b = 0.9 * m1 + 0.1 * 2.0, v1b = 0.999 * v1 + 0.001 * 4.0;
  p0 -= 0.1 * (m0b / bc1) / (std::sqrt(v0b / bc2) + 1e-8);
  p1 -= 0.1 * (m1b / bc1) / (std::sqrt(v1b / bc2) + 1e-8);
  CHECK(p[0] == Approx(p0).epsilon(1e-14));
  CHECK(p[1] == Approx(p1).epsilon(1e-14));
  CHECK(adam.m()[1] == Approx(m1b).epsilon(1e-15));
  CHECK(adam.v()[1] == Approx(v1b).epsilon(1e-15));
}

TEST_CASE("Adam converges to the minimiser of an ill-conditioned convex quadratic", "[nn]") {
  VectorXd a(3), c(3);
  a << 1.0, 10.0, 100.0;
  c << 0.3, -1.2, 2.0;
  AdamOptions o;
  o.lr = 0.05;
  o.schedule = Schedule::cosine(3000);
  Adam adam(3, o);
  VectorXd p = VectorXd::Zero(3), g(3);
  for (int k = 0; k < 3000; ++k) {
    g = a.cwiseProduct(p - c);  // gradient of 0.5 sum a_i (p_i - c_i)^2
    adam.step(p, g);
  }
  CHECK((p - c).norm() < 1e-4);
}

TEST_CASE("Learning-rate schedules give the expected rates; checkpointed Adam resumes bitwise", "[nn]") {
  CHECK(Schedule::constant().lr(1e-3, 12345) == 1e-3);
  const auto sd = Schedule::step_decay(0.5, 10);
  CHECK(sd.lr(1.0, 0) == 1.0);
  CHECK(sd.lr(1.0, 9) == 1.0);
  CHECK(sd.lr(1.0, 10) == 0.5);
  CHECK(sd.lr(1.0, 25) == 0.25);
  const auto cs = Schedule::cosine(100, 1e-4);
  CHECK(cs.lr(1e-2, 0) == Approx(1e-2).epsilon(1e-15));
  CHECK(cs.lr(1e-2, 50) == Approx(0.5 * (1e-2 + 1e-4)).epsilon(1e-14));
  CHECK(cs.lr(1e-2, 25) == Approx(1e-4 + 0.5 * (1e-2 - 1e-4) * (1 + std::sqrt(0.5))).epsilon(1e-14));
  CHECK(cs.lr(1e-2, 100) == Approx(1e-4).epsilon(1e-14));
  CHECK(cs.lr(1e-2, 1000) == Approx(1e-4).epsilon(1e-14));

  AdamOptions o;
  o.lr = 1.0;
  o.schedule = sd;
  Adam adam(1, o);
  VectorXd p = VectorXd::Ones(1), g = VectorXd::Ones(1);
  for (int k = 0; k < 10; ++k) adam.step(p, g);
  CHECK(adam.learning_rate() == 0.5);

  // Resume from (m, v, t) in a fresh optimiser: the same trajectory, bit for bit.
  Adam resumed(1, o);
  resumed.set_state(adam.m(), adam.v(), adam.t());
  VectorXd q = p;
  for (int k = 0; k < 15; ++k) {
    adam.step(p, g * (k + 1.0));
    resumed.step(q, g * (k + 1.0));
  }
  CHECK(p == q);
  CHECK_THROWS_AS(resumed.set_state(VectorXd::Zero(2), VectorXd::Zero(2), 0), InputError);

  o.schedule = Schedule::cosine(0);
  CHECK_THROWS_AS(Adam(1, o), InputError);
  o.schedule = Schedule::step_decay(0.5, 0);
  CHECK_THROWS_AS(Adam(1, o), InputError);
  o.schedule = {};
  o.lr = -1;
  CHECK_THROWS_AS(Adam(1, o), InputError);
}

TEST_CASE("save/load round trip is bitwise; malformed networks are input errors naming file and group", "[nn]") {
  const auto path = tmp("mlp.h5");
  Mlp net({3, 8, 4, 2}, Activation::leaky_relu, 11);
  net.params() += 1e-3 * gaussian(net.num_params(), 1, 4);
  {
    h5::OutputFile out(path, MPI_COMM_SELF);
    net.save(out, "/score/mlp");
    Mlp({1, 2}, Activation::swish, 1).save(out, "other");  // relative group name
    // Hand-made broken networks.
    out.write("/short/params", std::vector<double>(5, 0.0));
    out.write("/short/widths", std::vector<double>{3, 8, 4, 2});
    out.attribute("/short", "activation", std::string("tanh"));
    out.write("/badact/params", std::vector<double>(4, 0.0));
    out.write("/badact/widths", std::vector<double>{1, 1, 1});
    out.attribute("/badact", "activation", std::string("relu6"));
    out.write("/badwidth/params", std::vector<double>(4, 0.0));
    out.write("/badwidth/widths", std::vector<double>{1, 0.5, 1});
    out.attribute("/badwidth", "activation", std::string("tanh"));
    out.write("/nan/params", std::vector<double>{1, std::nan(""), 0, 0});
    out.write("/nan/widths", std::vector<double>{1, 1, 1});
    out.attribute("/nan", "activation", std::string("tanh"));
    out.commit();
  }
  const auto f = h5::File::open(path);
  const Mlp back = Mlp::load(f, "/score/mlp");
  CHECK(back.widths() == net.widths());
  CHECK(back.activation() == Activation::leaky_relu);
  CHECK(back.params() == net.params());
  const MatrixXd X = gaussian(3, 5, 5);
  CHECK(back.forward(X) == net.forward(X));
  CHECK(Mlp::load(f, "/other/").widths() == std::vector<int>{1, 2});

  CHECK_THROWS_WITH(Mlp::load(f, "/short"), Catch::Contains(path) && Catch::Contains("/short") &&
                                                Catch::Contains("5 values") && Catch::Contains("need 78"));
  CHECK_THROWS_WITH(Mlp::load(f, "/badact"), Catch::Contains(path) && Catch::Contains("relu6"));
  CHECK_THROWS_WITH(Mlp::load(f, "/badwidth"), Catch::Contains(path) && Catch::Contains("widths"));
  CHECK_THROWS_WITH(Mlp::load(f, "/nan"), Catch::Contains(path) && Catch::Contains("non-finite"));
  CHECK_THROWS_AS(Mlp::load(f, "/missing"), InputError);
  std::remove(path.c_str());
}

TEST_CASE("ReproducibleSum adds partials in block order whatever the order they were added in", "[nn]") {
  ReproducibleSum rs(2, MPI_COMM_SELF);
  const double vals[4] = {1e16, 1.0, -1e16, 1.0};  // the result depends on the order of addition
  rs.clear();
  for (int b : {2, 0, 3, 1}) rs.add(b).setConstant(vals[b]);
  VectorXd total(2);
  rs.reduce(total);
  CHECK(total[0] == ((0.0 + 1e16) + 1.0) + -1e16 + 1.0);
  rs.clear();
  rs.add(4);
  rs.add(4);
  CHECK_THROWS_AS(rs.reduce(total), RuntimeError);
}

TEST_CASE("fit_weighted_mse fits sin on [-2, 2]; a zero-weight outlier is ignored", "[nn]") {
  const int n = 64;
  MatrixXd X(1, n + 1), Y(1, n + 1);
  for (int i = 0; i < n; ++i) {
    X(0, i) = -2.0 + 4.0 * i / (n - 1);
    Y(0, i) = std::sin(X(0, i));
  }
  X(0, n) = 0.0;  // outlier at x = 0: sin(0) = 0, but y = 3
  Y(0, n) = 3.0;
  VectorXd w = VectorXd::Ones(n + 1);
  w[n] = 0.0;

  FitOptions o;
  o.epochs = 400;
  o.batch = 16;
  o.lr = 1e-2;
  o.schedule = Schedule::cosine(0);
  o.seed = 3;
  Mlp net({1, 50, 25, 1}, Activation::swish, 1);
  int calls = 0;
  bool in_order = true;
  o.on_epoch = [&](int epoch, double) { in_order = in_order && epoch == calls++; };
  const auto r = fit_weighted_mse(net, X, Y, w, o, MPI_COMM_SELF);
  o.on_epoch = nullptr;
  CHECK(calls == 400);
  CHECK(in_order);
  CHECK(r.epoch_loss.size() == 400);
  CHECK(r.epoch_loss.back() < 0.01 * r.epoch_loss.front());
  CHECK(r.steps == 400 * 5);
  CHECK(r.final_loss < 1e-3);  // rms error < 0.03 on an amplitude of 0.9
  CHECK(r.final_loss == Approx(weighted_mse(net, X, Y, w)).epsilon(1e-14));
  CHECK(std::abs(net.forward(MatrixXd::Zero(1, 1))(0, 0)) < 0.02);

  // The same outlier with weight 10 pulls the fit at x = 0 towards 3.
  w[n] = 10.0;
  Mlp pulled({1, 50, 25, 1}, Activation::swish, 1);
  fit_weighted_mse(pulled, X, Y, w, o, MPI_COMM_SELF);
  CHECK(pulled.forward(MatrixXd::Zero(1, 1))(0, 0) > 0.5);

  // Same seeds: the same network, bit for bit.
  w[n] = 0.0;
  Mlp again({1, 50, 25, 1}, Activation::swish, 1);
  fit_weighted_mse(again, X, Y, w, o, MPI_COMM_SELF);
  CHECK(again.params() == net.params());

  o.batch = 0;
  CHECK_THROWS_AS(fit_weighted_mse(again, X, Y, w, o, MPI_COMM_SELF), InputError);
  o.batch = 16;
  CHECK_THROWS_AS(fit_weighted_mse(again, X, Y, VectorXd::Zero(n + 1), o, MPI_COMM_SELF), InputError);
}

// ------------------------------------------------------------------------------ SIMD inference kernels
namespace {
std::vector<Kernel> simd_kernels() {
  std::vector<Kernel> ks;
  for (Kernel k : {Kernel::avx2, Kernel::avx512})
    if (available(k)) ks.push_back(k);
  return ks;
}

// Restores the process-wide kernel at scope exit.
struct KernelScope {
  Kernel saved = kernel();
  explicit KernelScope(Kernel k) { use_kernel(k); }
  ~KernelScope() { use_kernel(saved); }
};
}  // namespace

TEST_CASE("Kernel names, availability and the -nn_kernel choice", "[nn][kernel]") {
  CHECK(available(Kernel::generic));
  CHECK(available(best_kernel()));
  CHECK(to_string(Kernel::avx512) == "avx512");
  CHECK_THROWS_AS(select_kernel("sse9", MPI_COMM_SELF), InputError);
  const Kernel before = kernel();
  CHECK(select_kernel("generic", MPI_COMM_SELF) == Kernel::generic);
  CHECK(kernel() == Kernel::generic);
  CHECK(select_kernel("auto", MPI_COMM_SELF) == best_kernel());
  for (Kernel k : {Kernel::avx2, Kernel::avx512})
    if (!available(k)) CHECK_THROWS_AS(select_kernel(to_string(k), MPI_COMM_SELF), InputError);
  use_kernel(before);
}

TEST_CASE("The kernels' exp is within 2 ulp of std::exp and handles overflow, underflow and NaN", "[nn][kernel]") {
  std::vector<double> x;
  for (int i = 0; i <= 20000; ++i) x.push_back(-708.0 + 1417.7 * i / 20000.0);  // the normal range
  for (int i = 0; i <= 2000; ++i) x.push_back(-1.0 + 2.0 * i / 2000.0);          // around 0, r small
  const std::vector<double> edge = {0.0, -0.0, 1e-300, -1e-300, 709.78, 709.79, 710.0, 1e300, -745.0, -746.0, -1e300,
                                    HUGE_VAL, -HUGE_VAL, std::nan("")};
  for (Kernel k : simd_kernels()) {
    CAPTURE(to_string(k));
    std::vector<double> y(x.size());
    kernel_exp(k, x.data(), y.data(), static_cast<std::ptrdiff_t>(x.size()));
    double worst = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double e = std::exp(x[i]);
      worst = std::max(worst, std::abs(y[i] - e) / e);
    }
    CHECK(worst < 2 * 2.2205e-16);
    std::vector<double> ye(edge.size());
    kernel_exp(k, edge.data(), ye.data(), static_cast<std::ptrdiff_t>(edge.size()));
    CHECK(ye[0] == 1.0);
    CHECK(ye[1] == 1.0);
    CHECK(ye[2] == 1.0);
    CHECK(ye[3] == 1.0);
    CHECK(ye[4] == Approx(std::exp(709.78)).epsilon(1e-15));
    CHECK(std::isinf(ye[5]));
    CHECK(std::isinf(ye[6]));
    CHECK(std::isinf(ye[7]));
    CHECK(ye[8] > 0);  // a subnormal, about 5e-324
    CHECK(ye[8] < 1e-320);
    CHECK(ye[9] == 0.0);
    CHECK(ye[10] == 0.0);
    CHECK(std::isinf(ye[11]));
    CHECK(ye[12] == 0.0);
    CHECK(std::isnan(ye[13]));
  }
}

TEST_CASE("Inference kernels agree with the training path and give each member the same bits in any batch",
          "[nn][kernel]") {
  // Odd widths exercise the partial output vectors, B = 23 the member tail of every tile size.
  const std::vector<std::vector<int>> shapes = {{3, 37, 29, 2}, {1, 100, 50, 1}, {2, 1}, {5, 8, 16, 24, 7}};
  const Eigen::Index B = 23;
  for (auto act : kAll)
    for (const auto& widths : shapes) {
      CAPTURE(to_string(act), widths);
      Mlp net(widths, act, 11);
      net.params() += 0.2 * gaussian(net.num_params(), 1, 4);
      const MatrixXd X = 2.0 * gaussian(widths.front(), B, 5);
      Tape tape;
      const MatrixXd ref = net.forward(X, tape);  // Eigen
      std::vector<MatrixXd> outs;
      std::vector<Kernel> kernels = simd_kernels();
      kernels.insert(kernels.begin(), Kernel::generic);
      for (Kernel k : kernels) {
        CAPTURE(to_string(k));
        KernelScope scope(k);
        const MatrixXd Y = net.forward(X);
        CHECK(max_rel_err(Y, ref, ref.cwiseAbs().maxCoeff()) < 1e-13);  // rounding, relative to the output scale
        // Member j alone, and members inside a larger, differently aligned batch, give bitwise the same result.
        Workspace ws;
        for (Eigen::Index j = 0; j < B; ++j) {
          MatrixXd y1(widths.back(), 1);
          net.forward(X.col(j), y1, ws);
          CHECK(y1.col(0) == Y.col(j));
        }
        MatrixXd big(widths.front(), B + 3), ybig(widths.back(), B + 3);
        big.setRandom();
        big.middleCols(1, B) = X;
        net.forward(big, ybig, ws);
        CHECK(ybig.middleCols(1, B) == Y);
        if (k != Kernel::generic) outs.push_back(Y);
      }
      for (std::size_t i = 1; i < outs.size(); ++i) CHECK(outs[i] == outs[0]);  // avx2 == avx512, bit for bit
    }
}

TEST_CASE("Inference kernels: extreme pre-activations stay finite and NaN inputs stay NaN", "[nn][kernel]") {
  Mlp net({1, 4, 1}, Activation::swish, 2);
  net.params() << 1000, -1000, 1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 0;  // W0, b0, W1, b1
  MatrixXd X(1, 3);
  X << 1.0, -1.0, std::nan("");
  std::vector<Kernel> kernels = simd_kernels();
  kernels.push_back(Kernel::generic);
  for (Kernel k : kernels) {
    CAPTURE(to_string(k));
    KernelScope scope(k);
    const MatrixXd Y = net.forward(X);
    // swish(1000) = 1000, swish(-1000) = -1000 e^-1000 -> -0, swish(+-1) = +-1 / (1 + e^-+1)
    const double s1 = 1 / (1 + std::exp(-1.0)), sm1 = -1 / (1 + std::exp(1.0));
    CHECK(Y(0, 0) == Approx(1000 + s1 + sm1).epsilon(1e-15));
    CHECK(Y(0, 1) == Approx(1000 + sm1 + s1).epsilon(1e-15));
    CHECK(std::isnan(Y(0, 2)));
  }
}

TEST_CASE("nn::gemm: the SIMD kernels equal a scalar fma loop bit for bit, the generic one Eigen to rounding",
          "[nn][kernel][gemm]") {
  // Edges of every blocking: M around the tile heights (12, 24), N around the tile widths and the 96-column
  // block, K across the 256-step block; operands given plain and transposed, with an outer stride.
  struct Shape {
    Eigen::Index M, N, K;
  };
  const std::vector<Shape> shapes = {{1, 1, 1}, {7, 5, 3}, {24, 8, 256}, {25, 97, 257}, {64, 200, 400}, {13, 9, 600}};
  std::uint64_t seed = 40;
  for (const auto& s : shapes)
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb)
        for (int acc = 0; acc < 2; ++acc) {
          CAPTURE(s.M, s.N, s.K, ta, tb, acc);
          // Stored with 3 extra rows, used through a block: the outer stride differs from the row count.
          const MatrixXd Abig = gaussian(ta ? s.K + 3 : s.M + 3, ta ? s.M : s.K, ++seed);
          const MatrixXd Bbig = gaussian(tb ? s.N + 3 : s.K + 3, tb ? s.K : s.N, ++seed);
          const auto A = Abig.topRows(Abig.rows() - 3);
          const auto B = Bbig.topRows(Bbig.rows() - 3);
          const MatrixXd C0 = gaussian(s.M, s.N, ++seed);
          MatrixXd ref(s.M, s.N);
          for (Eigen::Index i = 0; i < s.M; ++i)
            for (Eigen::Index j = 0; j < s.N; ++j) {
              double c = acc ? C0(i, j) : 0.0;
              for (Eigen::Index k = 0; k < s.K; ++k) c = std::fma(ta ? A(k, i) : A(i, k), tb ? B(j, k) : B(k, j), c);
              ref(i, j) = c;
            }
          std::vector<Kernel> kernels = simd_kernels();
          kernels.insert(kernels.begin(), Kernel::generic);
          for (Kernel k : kernels) {
            CAPTURE(to_string(k));
            KernelScope scope(k);
            MatrixXd Cbig = MatrixXd::Constant(s.M + 2, s.N, 7.0);  // the rows below C must stay untouched
            auto C = Cbig.topRows(s.M);
            C = C0;
            gemm(A, ta ? Op::transpose : Op::none, B, tb ? Op::transpose : Op::none, C, acc != 0);
            if (k == Kernel::generic) CHECK(max_rel_err(C, ref, ref.cwiseAbs().maxCoeff()) < 1e-13);
            else CHECK(MatrixXd(C) == ref);
            CHECK((Cbig.bottomRows(2).array() == 7.0).all());
          }
        }
  MatrixXd C(3, 4);
  CHECK_THROWS_AS(gemm(MatrixXd(3, 5), Op::none, MatrixXd(4, 4), Op::none, C, false), std::invalid_argument);
}
