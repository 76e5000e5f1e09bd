// Issue 7, stage 2: the baselines (DMD, POD-SINDy), the SDE integrator of the rollouts, model files and the
// augmentation schedule's stage initialisation, and training continued from a stop (checkpoints).
#include <catch2/catch.hpp>

#include <unistd.h>

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdio>
#include <string>
#include <vector>

#include "msrom/analysis/fields.hpp"
#include "msrom/analysis/reduced_baselines.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/random.hpp"
#include "msrom/vi/msde_io.hpp"
#include "msrom/vi/predict.hpp"
#include "msrom/vi/train.hpp"

using namespace msrom;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

// Standard normals, rows x cols, from a fixed Philox stream.
MatrixXd gaussian(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  MatrixXd G(rows, cols);
  Philox(seed, 0, Purpose::perturbation).normals(0, G.data(), static_cast<std::size_t>(G.size()));
  return G;
}

// An orthonormal n x r basis from a fixed Philox draw.
MatrixXd basis(int n, int r, std::uint64_t seed) {
  MatrixXd G(n, r);
  Philox(seed, 0, Purpose::training).normals(0, G.data(), static_cast<std::size_t>(G.size()));
  return Eigen::HouseholderQR<MatrixXd>(G).householderQ() * MatrixXd::Identity(n, r);
}

vi::MsdeConfig small_config(int n_eta, bool local = false) {
  vi::MsdeConfig c;
  c.local_eta = local;
  c.n_y = 32;
  c.n_zeta = 8;
  c.n_eta = n_eta;
  c.macro_hidden = {16, 16};
  c.micro_hidden = {16, 8};
  c.cnn_kernel = 5;
  c.cnn_channels = {2, 4};
  c.gp.warp_hidden = {8};
  c.gp.lengthscale = 0.2;
  c.seed = 5;
  return c;
}

// The model of c with every parameter moved by 0.05 sin(phase + rate i) off its initial value (no zero
// biases or symmetric weights left to hide an error).
vi::MsdeModel moved_off_init(const vi::MsdeConfig& c, double phase, double rate) {
  vi::MsdeModel m(c);
  VectorXd theta(m.num_params());
  m.get_params(theta);
  for (Eigen::Index i = 0; i < theta.size(); ++i) theta[i] += 0.05 * std::sin(phase + rate * double(i));
  m.set_params(theta);
  return m;
}

vi::Trajectories bumps(int n, int nt, int members, double dt) {
  vi::Trajectories d;
  d.time = VectorXd::LinSpaced(nt, 0.0, dt * (nt - 1));
  for (int k = 0; k < members; ++k) {
    MatrixXd u(n, nt);
    for (int i = 0; i < nt; ++i)
      for (int p = 0; p < n; ++p) {
        double x = double(p) / n - 0.2 - 0.37 * k - d.time[i];
        x -= std::round(x);
        u(p, i) = std::exp(-(x / 0.15) * (x / 0.15));
      }
    d.u.push_back(u);
  }
  return d;
}

}  // namespace

TEST_CASE("DMD recovers a linear map's eigenvalues and predicts its own snapshots exactly", "[vi][baselines]") {
  // y_{n+1} = M y_n, M = Phi R Phi^T on a 4-dimensional subspace of R^40: two damped rotations.
  const int n = 40;
  const MatrixXd Phi = basis(n, 4, 11);
  MatrixXd R = MatrixXd::Zero(4, 4);
  const double r1 = 0.98, w1 = 0.3, r2 = 0.9, w2 = 1.1;
  R.block(0, 0, 2, 2) << r1 * std::cos(w1), -r1 * std::sin(w1), r1 * std::sin(w1), r1 * std::cos(w1);
  R.block(2, 2, 2, 2) << r2 * std::cos(w2), -r2 * std::sin(w2), r2 * std::sin(w2), r2 * std::cos(w2);
  const MatrixXd M = Phi * R * Phi.transpose();
  analysis::FieldTrajectories train;
  for (int k = 0; k < 3; ++k) {
    MatrixXd u(n, 30);
    VectorXd a(4);
    a << 1.0 + k, -0.5, 0.3 * k, 0.8;
    u.col(0) = Phi * a;
    for (int i = 1; i < 30; ++i) u.col(i) = M * u.col(i - 1);
    train.push_back(u);
  }
  const analysis::Dmd dmd(train, 4, 0.0);
  auto ev = dmd.eigenvalues();
  std::vector<double> mags, args;
  for (Index i = 0; i < ev.size(); ++i) {
    mags.push_back(std::abs(ev[i]));
    args.push_back(std::abs(std::arg(ev[i])));
  }
  std::sort(mags.begin(), mags.end());
  std::sort(args.begin(), args.end());
  CHECK(mags[0] == Approx(r2).epsilon(1e-10));
  CHECK(mags[3] == Approx(r1).epsilon(1e-10));
  CHECK(args[0] == Approx(w1).epsilon(1e-10));
  CHECK(args[3] == Approx(w2).epsilon(1e-10));
  const MatrixXd pred = dmd.predict(train[1].col(0), 30);
  const double err = (pred - train[1]).norm() / train[1].norm();
  INFO("DMD relative prediction error " << err);
  CHECK(err < 1e-10);
  // Tikhonov shrinks the map (a ridge fit).
  const analysis::Dmd ridge(train, 4, 10.0);
  CHECK(ridge.reduced().norm() < dmd.reduced().norm());
  CHECK_THROWS_AS(analysis::Dmd(train, 0, 0.0), InputError);
  CHECK_THROWS_AS(analysis::Dmd(train, 4, -1.0), InputError);
}

TEST_CASE("POD modes of large fields (subspace iteration) equal the dense eigenvectors", "[vi][baselines]") {
  // 1100 points (above the dense limit, 1024): 3 trajectories of 40 snapshots with a decaying spectrum of 12
  // modes plus small noise, centred and not; the modes must match the eigenvectors of the explicit covariance.
  const Index n = 1100;
  const MatrixXd Phi = gaussian(n, 12, 31);
  analysis::FieldTrajectories train;
  for (int k = 0; k < 3; ++k) {
    MatrixXd c = gaussian(12, 40, 40 + k);
    for (int j = 0; j < 12; ++j) c.row(j) *= std::pow(0.6, j);
    train.push_back(Phi * c + 1e-3 * gaussian(n, 40, 50 + k));
  }
  VectorXd centre = VectorXd::Zero(n);
  for (const auto& u : train) centre += u.rowwise().mean() / 3.0;
  for (const bool centred : {false, true}) {
    MatrixXd C = MatrixXd::Zero(n, n);
    for (const auto& u : train) {
      const MatrixXd X = centred ? MatrixXd(u.colwise() - centre) : MatrixXd(u.leftCols(39));
      C.noalias() += X * X.transpose();
    }
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(C);
    auto cols = [&](const MatrixXd& u) { return centred ? u.cols() : u.cols() - 1; };
    const MatrixXd U = analysis::pod_modes(train, cols, centred ? &centre : nullptr, 5);
    for (int j = 0; j < 5; ++j) {
      VectorXd e = es.eigenvectors().col(n - 1 - j);
      if (e.dot(U.col(j)) < 0) e = -e;
      CAPTURE(centred, j);
      CHECK((U.col(j) - e).norm() < 1e-8);
      Index i = 0;
      U.col(j).cwiseAbs().maxCoeff(&i);
      CHECK(U(i, j) > 0);  // the sign convention
    }
  }
}

TEST_CASE("POD-SINDy recovers a cubic ODE's coefficients in POD coordinates", "[vi][baselines]") {
  // a' = f(a), a in R^2: a damped cubic oscillator, embedded as y = ybar0 + Phi a in R^30.
  auto f = [](const VectorXd& a) {
    VectorXd d(2);
    d[0] = -0.1 * a[0] + 2.0 * a[1] - 0.05 * a[0] * a[0] * a[0];
    d[1] = -2.0 * a[0] - 0.1 * a[1] + 0.3 * a[0] * a[1] - 0.02 * a[1] * a[1] * a[1];
    return d;
  };
  const int n = 30;
  const MatrixXd Phi = basis(n, 2, 21);
  VectorXd offset = VectorXd::LinSpaced(n, 0.0, 1.0);
  const double dt = 0.01;
  analysis::FieldTrajectories train;
  for (int k = 0; k < 4; ++k) {
    VectorXd a(2);
    a << 1.5 - 0.7 * k, 0.4 + 0.3 * k;
    MatrixXd u(n, 400);
    for (int i = 0; i < 400; ++i) {
      if (i > 0)
        for (int s = 0; s < 20; ++s) {  // RK4, h = dt / 20: the data are exact to ~1e-12
          const double h = dt / 20;
          const VectorXd k1 = f(a), k2 = f(a + 0.5 * h * k1), k3 = f(a + 0.5 * h * k2), k4 = f(a + h * k3);
          a += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4);
        }
      u.col(i) = offset + Phi * a;
    }
    train.push_back(u);
  }
  const analysis::PodSindy sindy(train, dt, 2, 3, 1e-3);
  REQUIRE(sindy.monomials().size() == 10);
  CHECK(sindy.monomials()[0] == std::vector<int>{0, 0});
  CHECK(sindy.monomials()[1] == std::vector<int>{1, 0});
  CHECK(sindy.monomials()[9] == std::vector<int>{0, 3});
  // In POD coordinates c = U^T (y - ybar) = Q (a - abar), Q = U^T Phi orthogonal, the exact dynamics are
  // dc/dt = Q f(Q^T c + abar): a cubic polynomial whose coefficients are found by interpolation on the library.
  const MatrixXd Q = sindy.modes().transpose() * Phi;
  CHECK((Q.transpose() * Q - MatrixXd::Identity(2, 2)).norm() < 1e-10);
  const VectorXd abar = Phi.transpose() * (sindy.mean() - offset);
  MatrixXd Theta(60, 10), F(60, 2);
  for (int i = 0; i < 60; ++i) {
    VectorXd c(2);
    c << std::sin(1.3 * i), std::cos(0.7 * i + 0.2);
    Theta.row(i) = sindy.library(c).transpose();
    F.row(i) = (Q * f(Q.transpose() * c + abar)).transpose();
  }
  const MatrixXd exact = Theta.colPivHouseholderQr().solve(F);
  const double err = (sindy.coefficients() - exact).cwiseAbs().maxCoeff();
  INFO("coefficients\n" << sindy.coefficients() << "\nexact\n" << exact << "\nmax error " << err);
  CHECK(err < 1e-4);
  // Prediction from a training initial condition follows the trajectory.
  const MatrixXd pred = sindy.predict(train[0].col(0), 400, 10);
  CHECK((pred - train[0]).norm() / train[0].norm() < 1e-4);
  // STLSQ zeroes small coefficients: a sparse exact model is found sparse.
  MatrixXd T2(50, 3), d2(50, 1);
  for (int i = 0; i < 50; ++i) {
    T2(i, 0) = 1;
    T2(i, 1) = std::sin(i);
    T2(i, 2) = std::cos(3.0 * i);
    d2(i, 0) = 2 * T2(i, 1) + 1e-5 * T2(i, 2);
  }
  const MatrixXd xi = analysis::PodSindy::stlsq(T2, d2, 1e-3);
  CHECK(xi(0, 0) == 0.0);
  CHECK(xi(2, 0) == 0.0);
  CHECK(xi(1, 0) == Approx(2.0).epsilon(1e-6));
}

namespace {
// The integrators' test problem: dz = -theta z dt + g dW from z_0 = 1, M samples of 2 components, 100 steps.
struct OuRun {
  double theta = 1.5, h = 0.01;
  long steps = 100;
  int M = 40000;
  VectorXd g = (VectorXd(2) << 0.5, 1.0).finished();
  MatrixXd Z = MatrixXd::Ones(2, M);
  explicit OuRun(vi::Integrator scheme) {
    vi::sde_solve([&](double, const MatrixXd& z, MatrixXd& out) { out = -theta * z; }, g, Z, 0.0, h, steps, 3, 0, 1,
                  scheme);
  }
};
}  // namespace

TEST_CASE("Euler-Maruyama on the Ornstein-Uhlenbeck process: mean and variance", "[vi][predict]") {
  // dz = -theta z dt + g dW, z_0 = 1; EM: z_n = (1 - theta h)^n z_0 + noise with variance
  // g^2 h sum_{k<n} (1 - theta h)^(2k), and both tend to the exact e^{-theta t}, g^2 (1 - e^{-2 theta t}) / (2 theta).
  const OuRun ou(vi::Integrator::euler_maruyama);
  const double theta = ou.theta, h = ou.h;
  const long steps = ou.steps, M = ou.M;
  const VectorXd& g = ou.g;
  const double a = 1 - theta * h, T = h * steps;
  const double mean_em = std::pow(a, steps);
  for (int d = 0; d < 2; ++d) {
    const double var_em = g[d] * g[d] * h * (1 - std::pow(a, 2 * steps)) / (1 - a * a);
    const double var_exact = g[d] * g[d] * (1 - std::exp(-2 * theta * T)) / (2 * theta);
    const double m = ou.Z.row(d).mean(), v = (ou.Z.row(d).array() - m).square().sum() / double(M - 1);
    INFO("component " << d << ": mean " << m << " (EM " << mean_em << ", exact " << std::exp(-theta * T) << "), var "
                      << v << " (EM " << var_em << ", exact " << var_exact << ")");
    CHECK(std::abs(m - mean_em) < 4 * std::sqrt(var_em / M));
    CHECK(std::abs(v - var_em) < 4 * var_em * std::sqrt(2.0 / M));
    // the O(h) weak bias of the scheme: theta^2 h T / 2 e^{-theta T} = 2.5e-3 here
    CHECK(std::abs(mean_em - std::exp(-theta * T)) == Approx(theta * theta * h * T / 2 * std::exp(-theta * T)).epsilon(0.05));
    CHECK(std::abs(var_em - var_exact) / var_exact < 2e-2);
  }
  // Deterministic: the same seed and counters give the same bits; the counter offset moves the noise.
  MatrixXd Z1 = MatrixXd::Ones(2, 8), Z2 = Z1, Z3 = Z1;
  auto lin = [&](double, const MatrixXd& z, MatrixXd& out) { out = -theta * z; };
  vi::sde_solve(lin, g, Z1, 0.0, h, 10, 3, 4, 1);
  vi::sde_solve(lin, g, Z2, 0.0, h, 5, 3, 4, 1);
  vi::sde_solve(lin, g, Z2, 0.0, h, 5, 3, 4, 6);
  vi::sde_solve(lin, g, Z3, 0.0, h, 10, 3, 5, 1);
  CHECK(Z1 == Z2);
  CHECK(Z1 != Z3);
}

TEST_CASE("Stochastic Heun on the Ornstein-Uhlenbeck process: the scheme's exact moments, weak order 2",
          "[vi][predict]") {
  // dz = -theta z dt + g dW. Heun with the same increment in both stages is the AR(1) recursion
  // z+ = a z + b N, a = 1 - theta h + (theta h)^2 / 2, b = g sqrt(h) (1 - theta h / 2): mean a^n, variance
  // b^2 (1 - a^2n) / (1 - a^2). a^n = exp(-theta T + n (theta h)^3 / 6 + ...): the O(h^2) bias.
  const OuRun ou(vi::Integrator::heun);
  const double theta = ou.theta, h = ou.h;
  const long steps = ou.steps, M = ou.M;
  const VectorXd& g = ou.g;
  auto lin = [&](double, const MatrixXd& z, MatrixXd& out) { out = -theta * z; };
  const double a = 1 - theta * h + 0.5 * theta * theta * h * h, T = h * steps;
  const double mean_heun = std::pow(a, steps);
  for (int d = 0; d < 2; ++d) {
    const double b2 = g[d] * g[d] * h * (1 - 0.5 * theta * h) * (1 - 0.5 * theta * h);
    const double var_heun = b2 * (1 - std::pow(a, 2 * steps)) / (1 - a * a);
    const double var_exact = g[d] * g[d] * (1 - std::exp(-2 * theta * T)) / (2 * theta);
    const double m = ou.Z.row(d).mean(), v = (ou.Z.row(d).array() - m).square().sum() / double(M - 1);
    INFO("component " << d << ": mean " << m << " (Heun " << mean_heun << "), var " << v << " (Heun " << var_heun
                      << ", exact " << var_exact << ")");
    CHECK(std::abs(m - mean_heun) < 4 * std::sqrt(var_heun / M));
    CHECK(std::abs(v - var_heun) < 4 * var_heun * std::sqrt(2.0 / M));
    // weak order 2: the mean's bias is theta^3 h^2 T / 6 e^{-theta T} (5.6e-5 relative here; EM's is 1.1e-2)
    CHECK(mean_heun - std::exp(-theta * T) ==
          Approx(std::pow(theta, 3) * h * h * T / 6 * std::exp(-theta * T)).epsilon(0.05));
    CHECK(std::abs(var_heun - var_exact) / var_exact < 1e-3);
  }
  // A harmonic oscillator without noise: Heun's amplification per step is sqrt(1 + (w h)^4 / 4), EM's
  // sqrt(1 + (w h)^2), so over 10 periods at w h = 0.1 EM grows the radius 23-fold and Heun by 0.8%.
  const double w = 2 * M_PI, hw = 0.1 / w;
  const long n = std::lround(10 / (hw * w / (2 * M_PI)));  // 628 steps
  auto osc = [&](double, const MatrixXd& z, MatrixXd& out) {
    out.resize(2, z.cols());
    out.row(0) = w * z.row(1);
    out.row(1) = -w * z.row(0);
  };
  const VectorXd g0 = VectorXd::Zero(2);
  MatrixXd em = MatrixXd::Zero(2, 1), heun = em;
  em(0, 0) = heun(0, 0) = 1;
  vi::sde_solve(osc, g0, em, 0.0, hw, n, 3, 0, 1, vi::Integrator::euler_maruyama);
  vi::sde_solve(osc, g0, heun, 0.0, hw, n, 3, 0, 1, vi::Integrator::heun);
  CHECK(em.norm() == Approx(std::pow(1 + 0.01, 0.5 * double(n))).epsilon(1e-9));
  CHECK(heun.norm() == Approx(std::pow(1 + 1e-4 / 4, 0.5 * double(n))).epsilon(1e-9));
  // Deterministic in the seed and counters, as EM.
  MatrixXd Z1 = MatrixXd::Ones(2, 8), Z2 = Z1;
  vi::sde_solve(lin, g, Z1, 0.0, h, 10, 3, 4, 1, vi::Integrator::heun);
  vi::sde_solve(lin, g, Z2, 0.0, h, 5, 3, 4, 1, vi::Integrator::heun);
  vi::sde_solve(lin, g, Z2, 0.0, h, 5, 3, 4, 6, vi::Integrator::heun);
  CHECK(Z1 == Z2);
  CHECK(vi::integrator_from_string("heun", "-x") == vi::Integrator::heun);
  CHECK_THROWS_AS(vi::integrator_from_string("rk4", "-x"), InputError);
}

TEST_CASE("Model files: save/load round trip is bitwise; bad content names file and object", "[vi][predict]") {
  const std::string path = "/tmp/msrom_unit_" + std::to_string(getpid()) + "_msde.h5";
  const bool local = GENERATE(false, true);
  CAPTURE(local);
  vi::MsdeConfig c2 = small_config(2, local);
  // The local case also stores a non-default boundary; both a drift of time.
  const nn::StencilBoundary boundary = local ? nn::StencilBoundary::replicate : nn::StencilBoundary::periodic;
  c2.stencil_boundary = boundary;
  c2.drift_time = true;
  vi::MsdeModel m0(small_config(0)), m2(c2);
  VectorXd th(m2.num_params());
  Philox(9, 0, Purpose::training).normals(0, th.data(), static_cast<std::size_t>(th.size()));
  m2.set_params(0.1 * th);
  const vi::Normalisation norm{0.25, 1.75};
  {
    h5::OutputFile out(path, MPI_COMM_SELF);
    vi::save_msde(out, m0, norm);
    vi::save_msde(out, m2, norm);
    vi::save_msde_index(out, {0, 2});
    out.commit();
  }
  CHECK(vi::is_msde_file(path));
  CHECK_FALSE(vi::is_msde_file("/nonexistent.h5"));
  const auto l = vi::load_msde(path);  // the final stage
  REQUIRE(l.model.n_eta == 2);
  CHECK(l.model.local == local);
  CHECK(l.model.config.stencil_boundary == boundary);
  CHECK(l.model.config.drift_time);
  CHECK_FALSE(vi::load_msde(path, 0).model.config.drift_time);
  CHECK(l.model.macro_drift.boundary() == boundary);
  CHECK(l.model.micro_local.boundary() == (local ? boundary : nn::StencilBoundary::periodic));
  VectorXd a(m2.num_params()), b(m2.num_params());
  m2.get_params(a);
  l.model.get_params(b);
  CHECK(a == b);
  CHECK(l.norm.mean == 0.25);
  CHECK(l.norm.scale == 1.75);
  CHECK(l.model.config.micro_hidden == std::vector<int>{16, 8});
  CHECK(l.model.config.cnn_kernel == 5);
  CHECK(l.model.gp.nugget() == m2.gp.nugget());
  const MatrixXd Y = bumps(32, 4, 1, 0.01).u[0];
  CHECK(vi::encode_mean(l.model, Y) == vi::encode_mean(m2, Y));
  CHECK(vi::load_msde(path, 0).model.n_eta == 0);
  CHECK(vi::load_msde(path, 0).model.config.stencil_boundary == nn::StencilBoundary::periodic);
  CHECK_THROWS_WITH(vi::load_msde(path, 1), Catch::Contains(path) && Catch::Contains("n_eta = 1"));
  // Wrong parameter count.
  const std::string bad = path + ".bad.h5";
  {
    h5::OutputFile out(bad, MPI_COMM_SELF);
    vi::save_msde(out, m2, norm);
    vi::save_msde_index(out, {2});
    out.remove("/msde/eta_2/params");
    out.write("/msde/eta_2/params", std::vector<double>(7, 0.0));
    out.commit();
  }
  CHECK_THROWS_WITH(vi::load_msde(bad, -1, "-model"),
                    Catch::Contains("-model") && Catch::Contains(bad) && Catch::Contains("/msde/eta_2/params"));
  {
    h5::OutputFile out(bad, MPI_COMM_SELF);
    out.write("/other", std::vector<double>{1.0});
    out.commit();
  }
  CHECK_THROWS_WITH(vi::load_msde(bad), Catch::Contains(bad) && Catch::Contains("/msde"));
  std::remove(path.c_str());
  std::remove(bad.c_str());
}

TEST_CASE("Stage initialisation keeps the previous stage's function on eta = 0", "[vi][predict]") {
  // The global eta (the paper's) and the local field (new channels are appended to z: the old entries keep
  // their places in both); both also with a drift of time (t stays the global micro drift's input 0, the
  // local one's last input).
  const auto [local, time] = GENERATE(std::make_pair(false, false), std::make_pair(true, false), std::make_pair(false, true),
                                      std::make_pair(true, true));
  CAPTURE(local, time);
  auto config = [&](int n_eta) {
    vi::MsdeConfig c = small_config(n_eta, local);
    c.drift_time = time;
    return c;
  };
  vi::MsdeModel m1(config(1));
  VectorXd th(m1.num_params());
  Philox(4, 0, Purpose::training).normals(0, th.data(), static_cast<std::size_t>(th.size()));
  m1.set_params(0.2 * th);
  vi::MsdeConfig c3 = config(3);
  c3.seed = 8;
  vi::MsdeModel m3(c3);
  vi::init_from_previous_stage(m3, m1);
  // The new eta components set to zero: the macro drift and the old micro drift outputs are unchanged (at
  // any time, for a drift of time, whose micro output does depend on it).
  MatrixXd Z1(m1.latent_dim(), 5), Z3 = MatrixXd::Zero(m3.latent_dim(), 5);
  Philox(6, 0, Purpose::training).normals(0, Z1.data(), static_cast<std::size_t>(Z1.size()));
  Z3.topRows(m1.latent_dim()) = Z1;
  const MatrixXd f1 = vi::drift(m1, Z1, 0.37), f3 = vi::drift(m3, Z3, 0.37);
  CHECK((f3.topRows(m1.latent_dim()) - f1).cwiseAbs().maxCoeff() < 1e-13);
  const MatrixXd f1_late = vi::drift(m1, Z1, 0.9);
  CHECK(f1_late.topRows(m1.n_zeta) == f1.topRows(m1.n_zeta));  // the macro drift never reads t
  if (time)
    CHECK((f1_late.bottomRows(f1.rows() - m1.n_zeta) - f1.bottomRows(f1.rows() - m1.n_zeta)).cwiseAbs().minCoeff() > 1e-6);
  else
    CHECK(f1_late == f1);
  // Encoder means of zeta and of the old eta, the shared variances.
  const MatrixXd Y = bumps(32, 3, 1, 0.01).u[0];
  const MatrixXd e1 = vi::encode_mean(m1, Y), e3 = vi::encode_mean(m3, Y);
  CHECK((e3.topRows(m1.latent_dim()) - e1).cwiseAbs().maxCoeff() < 1e-13);
  CHECK(m3.diffusion_rho.head(m1.diffusion_rho.size()) == m1.diffusion_rho);
  CHECK(m3.encoder_rho.head(m1.encoder_rho.size()) == m1.encoder_rho);
  CHECK(m3.diffusion().head(m1.latent_dim()) == m1.diffusion());
  // New weights are the new model's Xavier draw, biases zero: the micro output rows of eta_2, eta_3.
  if (local)
    CHECK(m3.micro_local.mlp().bias(m3.micro_local.mlp().num_layers() - 1).tail(2).isZero());
  else
    CHECK(m3.micro_drift.bias(m3.micro_drift.num_layers() - 1).tail(2).isZero());
  CHECK_THROWS_AS(vi::init_from_previous_stage(m1, m3), InputError);
  // The decoded field too: the new channels' decoder rows at eta = 0 add nothing.
  const MatrixXd d1 = vi::decode_mean(m1, Z1), d3 = vi::decode_mean(m3, Z3);
  CHECK((d3 - d1).cwiseAbs().maxCoeff() < 1e-13);
  // From the implicit-scale stage (no eta) of the same kind; a global stage does not start a local one.
  vi::MsdeModel m0(small_config(0, local));
  m0.set_params(VectorXd::LinSpaced(m0.num_params(), -0.3, 0.3));
  vi::MsdeModel m2(small_config(2, local));
  vi::init_from_previous_stage(m2, m0);
  MatrixXd Z2 = MatrixXd::Zero(m2.latent_dim(), 5);
  Z2.topRows(m0.latent_dim()) = Z1.topRows(m0.latent_dim());
  CHECK((vi::drift(m2, Z2, 0.0).topRows(m0.latent_dim()) - vi::drift(m0, Z1.topRows(m0.latent_dim()), 0.0)).cwiseAbs().maxCoeff() <
        1e-13);
  vi::MsdeModel other(small_config(3, !local));
  CHECK_THROWS_AS(vi::init_from_previous_stage(other, m1), InputError);
  vi::MsdeConfig flip = config(3);  // nor does an autonomous stage start a drift of time, or the reverse
  flip.drift_time = !time;
  vi::MsdeModel mf(flip);
  CHECK_THROWS_AS(vi::init_from_previous_stage(mf, m1), InputError);
}

TEST_CASE("A drift of time: the micro drift needs the times", "[vi][predict]") {
  const bool local = GENERATE(false, true);
  vi::MsdeConfig c = small_config(2, local);
  c.drift_time = true;
  vi::MsdeModel m(c);
  CHECK(m.micro_local.globals() == (local ? 1 : 0));
  MatrixXd Z = MatrixXd::Zero(m.latent_dim(), 3), F(m.latent_dim(), 3);
  vi::DriftTape tape;
  CHECK_THROWS_AS(m.drift_forward(Z, F, tape), std::invalid_argument);
  CHECK_THROWS_AS(m.drift_forward(Z, F, tape, VectorXd::Zero(2)), std::invalid_argument);
  m.drift_forward(Z, F, tape, VectorXd::Zero(3));
}

TEST_CASE("sde_solve evaluates a drift of time at each step's time (EM) and at both ends (Heun)", "[vi][predict]") {
  // dz = t dt without noise from t0 = 0.3: Euler-Maruyama sums h t_n over the left ends, Heun's trapezoid
  // is exact for a drift linear in t: (t_end^2 - t0^2) / 2. Two calls of 5 steps, the second from t0 + 5h,
  // equal one of 10.
  const double t0 = 0.3, h = 0.05;
  const VectorXd g = VectorXd::Zero(1);
  auto f = [](double t, const MatrixXd& z, MatrixXd& out) { out = MatrixXd::Constant(z.rows(), z.cols(), t); };
  MatrixXd em = MatrixXd::Zero(1, 1), heun = em, half = em;
  vi::sde_solve(f, g, em, t0, h, 10, 3, 0, 1, vi::Integrator::euler_maruyama);
  vi::sde_solve(f, g, heun, t0, h, 10, 3, 0, 1, vi::Integrator::heun);
  vi::sde_solve(f, g, half, t0, h, 5, 3, 0, 1, vi::Integrator::heun);
  vi::sde_solve(f, g, half, t0 + 5 * h, h, 5, 3, 0, 6, vi::Integrator::heun);
  const double t1 = t0 + 10 * h;
  CHECK(em(0, 0) == Approx(h * (10 * t0 + h * 45)).epsilon(1e-13));  // h sum_{n<10} (t0 + n h)
  CHECK(heun(0, 0) == Approx((t1 * t1 - t0 * t0) / 2).epsilon(1e-13));
  CHECK(half(0, 0) == Approx(heun(0, 0)).epsilon(1e-14));
}

TEST_CASE("Training stopped and continued with the same optimiser equals one run, bit for bit", "[vi][predict]") {
  const auto d = bumps(32, 24, 2, 0.01);
  vi::TrainOptions o;
  o.window = 8;
  o.windows_per_step = 2;
  o.iterations = 8;
  o.kl_anneal = 4;
  o.seed = 2;
  vi::MsdeModel ref(small_config(1));
  const auto r0 = vi::train(ref, d, o, MPI_COMM_SELF);
  CHECK(r0.next == 8);

  vi::MsdeModel model(small_config(1));
  nn::AdamOptions ao;
  ao.lr = o.lr;
  ao.schedule = o.schedule;
  nn::Adam adam(model.num_params(), ao);
  vi::TrainOptions a = o;
  a.adam = &adam;
  a.stop_after = [](int it) { return it == 2; };
  const auto r1 = vi::train(model, d, a, MPI_COMM_SELF);
  CHECK(r1.next == 3);
  CHECK(r1.steps.size() == 3);
  // A "checkpoint": parameters and optimiser state through plain vectors, a fresh model and optimiser.
  VectorXd theta(model.num_params());
  model.get_params(theta);
  vi::MsdeModel resumed(small_config(1));
  resumed.set_params(theta);
  nn::Adam adam2(model.num_params(), ao);
  adam2.set_state(adam.m(), adam.v(), adam.t());
  vi::TrainOptions b = o;
  b.adam = &adam2;
  b.start = r1.next;
  const auto r2 = vi::train(resumed, d, b, MPI_COMM_SELF);
  CHECK(r2.steps.size() == 5);
  VectorXd x(ref.num_params()), y(ref.num_params());
  ref.get_params(x);
  resumed.get_params(y);
  CHECK(x == y);
  CHECK(r2.steps.back().loss == r0.steps.back().loss);
  // The validation loss: tiled windows, finite, and the same on a second call.
  const double v1 = vi::validation_loss(resumed, d, 8, 4, 2, MPI_COMM_SELF);
  CHECK(std::isfinite(v1));
  CHECK(v1 == vi::validation_loss(resumed, d, 8, 4, 2, MPI_COMM_SELF));
}

TEST_CASE("Rollouts: deterministic per trajectory, eps of a perfect prediction is 0", "[vi][predict]") {
  vi::MsdeModel m(small_config(1));
  const auto d = bumps(32, 6, 2, 0.01);
  vi::RolloutOptions o;
  o.samples = 4;
  o.substeps = 2;
  const vi::Normalisation norm{0.1, 2.0};
  const MatrixXd a = vi::rollout(m, norm, d.u[0].col(0), d.time, o, 0);
  const MatrixXd b = vi::rollout(m, norm, d.u[0].col(0), d.time, o, 0);
  const MatrixXd c = vi::rollout(m, norm, d.u[0].col(0), d.time, o, 1);
  CHECK(a.rows() == 32);
  CHECK(a.cols() == 6);
  CHECK(a == b);
  CHECK(a.rightCols(5) != c.rightCols(5));
  // t = 0 without initial sampling: the decoded encoder mean, in data units.
  o.sample_initial = false;
  const MatrixXd e = vi::rollout(m, norm, d.u[0].col(0), d.time, o, 0);
  const VectorXd y0n = (d.u[0].col(0).array() - 0.1) / 2.0;
  const MatrixXd dec = vi::decode_mean(m, vi::encode_mean(m, y0n));
  CHECK((e.col(0) - (dec.array() * 2.0 + 0.1).matrix()).cwiseAbs().maxCoeff() < 1e-14);
  CHECK(vi::relative_error(d.u[0], d.u[0]).isZero());
  const auto p = vi::predict_split(m, norm, d, o, 1, MPI_COMM_SELF);
  CHECK(p.eps.rows() == 2);
  CHECK(p.fields.size() == 1);
  CHECK(p.fields[0] == e);
}

TEST_CASE("Rollouts with -predict_noise_scale 0 are the drift's ODE: Heun by hand, every sample alike",
          "[vi][predict]") {
  // Both also with a drift of time: each stage at its own time (the data's, from t_0).
  const auto [local, time] = GENERATE(std::make_pair(false, false), std::make_pair(true, false), std::make_pair(false, true),
                                      std::make_pair(true, true));
  CAPTURE(local, time);
  vi::MsdeConfig c = small_config(2, local);
  c.drift_time = time;
  const vi::MsdeModel m = moved_off_init(c, 1.0, 0.7);
  const auto d = bumps(32, 5, 1, 0.01);
  const vi::Normalisation norm{0.1, 2.0};
  vi::RolloutOptions o;
  o.samples = 3;
  o.substeps = 2;
  o.integrator = vi::Integrator::heun;
  o.sample_initial = false;
  o.noise_scale = 0.0;
  const MatrixXd a = vi::rollout(m, norm, d.u[0].col(0), d.time, o, 0);
  // z_{n+1} = z + h/2 (f(z) + f(z + h f(z))), two steps per snapshot, from the encoder mean.
  VectorXd z = vi::encode_mean(m, (d.u[0].col(0).array() - 0.1) / 2.0);
  for (Eigen::Index n = 1; n < d.time.size(); ++n) {
    const double h = (d.time[n] - d.time[n - 1]) / 2;
    for (int k = 0; k < 2; ++k) {
      const double tk = d.time[n - 1] + k * h;
      const VectorXd f0 = vi::drift(m, z, tk);
      const VectorXd f1 = vi::drift(m, z + h * f0, tk + h);
      z += h / 2 * (f0 + f1);
    }
    const VectorXd y = vi::decode_mean(m, z).array() * 2.0 + 0.1;
    CHECK((a.col(n) - y).cwiseAbs().maxCoeff() < 1e-12);
  }
  // Scale 1 is the model's noise: the same samples differ from the ODE; a negative scale is refused.
  o.noise_scale = 1.0;
  CHECK((vi::rollout(m, norm, d.u[0].col(0), d.time, o, 0) - a).cwiseAbs().maxCoeff() > 1e-6);
  o.noise_scale = -1.0;
  CHECK_THROWS_AS(vi::rollout(m, norm, d.u[0].col(0), d.time, o, 0), InputError);
}

TEST_CASE("reconstruction_error: decode(encode(y)) per snapshot, batched across the 32-snapshot blocks", "[vi][predict]") {
  const bool local = GENERATE(false, true);
  CAPTURE(local);
  const vi::MsdeModel m = moved_off_init(small_config(2, local), 0.3, 1.3);
  const auto d = bumps(32, 70, 2, 0.01);  // 70 snapshots: blocks of 32, 32 and 6
  const vi::Normalisation norm{0.1, 2.0};
  const MatrixXd e = vi::reconstruction_error(m, norm, d, MPI_COMM_SELF);
  REQUIRE(e.rows() == 2);
  REQUIRE(e.cols() == 70);
  for (int k = 0; k < 2; ++k)
    for (int n : {0, 31, 32, 63, 64, 69}) {
      const VectorXd y = d.u[static_cast<std::size_t>(k)].col(n);
      const VectorXd r = vi::decode_mean(m, vi::encode_mean(m, (y.array() - 0.1) / 2.0)).array() * 2.0 + 0.1;
      CHECK(e(k, n) == Approx((y - r).norm() / y.norm()).epsilon(1e-12));
    }
  CHECK(e.minCoeff() > 1e-3);  // a random model does not reproduce the bumps
}

TEST_CASE("Long-run statistics: a model frozen at its initial state has constant series, counted, not an error",
          "[vi][predict]") {
  vi::MsdeModel m(small_config(1));
  m.set_params(VectorXd::Zero(m.num_params()));  // zero drift, zero networks
  m.diffusion_rho.setConstant(-800.0);            // softplus underflows to 0: no noise
  const auto d = bumps(32, 12, 2, 0.01);
  vi::RolloutOptions o;
  o.samples = 3;
  o.sample_initial = false;
  const vi::Normalisation norm{0.0, 1.0};
  const auto s = vi::compare_statistics(m, norm, d, o, 4, 20, 4, MPI_COMM_SELF);
  CHECK(s.diverged == 0);
  CHECK(s.constant_series == 2 * 3 * 32);  // every (trajectory, sample, point)
  CHECK(s.model.acf == std::vector<double>(5, 0.0));
  CHECK(s.data.acf[0] == Approx(1.0).epsilon(1e-12));
  // The frozen state is the decoded initial field: its spectrum is that snapshot's, every time.
  const VectorXd y0 = vi::decode_mean(m, vi::encode_mean(m, d.u[0].col(0)));
  const VectorXd y1 = vi::decode_mean(m, vi::encode_mean(m, d.u[1].col(0)));
  const auto e0 = analysis::power_spectrum(y0.data(), 32), e1 = analysis::power_spectrum(y1.data(), 32);
  for (std::size_t k = 0; k < e0.size(); ++k) CHECK(s.model.spectrum[k] == Approx((e0[k] + e1[k]) / 2).epsilon(1e-10));
}
