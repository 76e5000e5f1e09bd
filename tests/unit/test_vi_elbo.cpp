// The multiscale model's ELBO (issue 7): the flat parameter layout, the whole-ELBO gradient against finite
// differences for every parameter, and the ELBO of a linear-Gaussian latent SDE (OU drift, linear Gaussian
// observation, a fixed GP posterior) against its closed-form expectation.
#include <catch2/catch.hpp>

#include <cmath>
#include <iomanip>
#include <string>
#include <tuple>
#include <vector>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/vi/elbo.hpp"
#include "msrom/vi/msde_model.hpp"
#include "msrom/vi/predict.hpp"

using namespace msrom;
using namespace msrom::vi;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

MatrixXd gaussian(Index rows, Index cols, std::uint64_t step) {
  MatrixXd m(rows, cols);
  Philox(78, 0, Purpose::perturbation).normals(step, m.data(), static_cast<std::size_t>(m.size()));
  return m;
}

// A small model with every component: 16 fine points, 4 cells, 2 auxiliary variables, a two-layer CNN. In 2-D
// (two_d): an 8 x 12 grid (x fastest; not square, so a mix-up of the axes shows) on 2 x 3 cells, stride 4.
// `fields` components (the cylinder wake's u and v: 2) on that grid.
MsdeConfig small_config(int n_eta, bool local = false, bool two_d = false, int fields = 1) {
  MsdeConfig c;
  c.local_eta = local;
  c.fields = fields;
  c.n_y = (two_d ? 96 : 16) * fields;
  c.fine_ny = two_d ? 12 : 1;
  c.n_zeta = (two_d ? 6 : 4) * fields;
  c.n_eta = n_eta;
  c.macro_hidden = {6};
  c.micro_hidden = {5, 4};
  c.activation = nn::Activation::swish;  // smooth: finite differences never straddle a kink
  c.cnn_kernel = 5;
  c.cnn_channels = {2, 3};
  c.cnn_stride = 2;
  c.decoder_variance_rho = -1.0;
  c.gp.warp_hidden = {4};
  c.gp.lengthscale = 0.3;
  c.seed = 5;
  return c;
}

// A window of smooth-ish data: a travelling bump plus noise.
MatrixXd window_data(int n_y, int B) {
  MatrixXd Y(n_y, B);
  const MatrixXd noise = gaussian(n_y, B, 100);
  for (int i = 0; i < B; ++i)
    for (int p = 0; p < n_y; ++p) {
      const double x = double(p) / n_y - 0.3 - 0.05 * i;
      Y(p, i) = std::exp(-40 * x * x) + 0.3 * std::sin(2 * M_PI * p / n_y) + 0.05 * noise(p, i);
    }
  return Y;
}

// 4th-order central differences of probe's ELBO in every coordinate of theta (the model is left at theta).
// Their rounding error, ~1e-16 |ELBO| / h, dominates the truncation error (~h^4) down to h = 3e-3 (measured:
// the worst error falls as h grows from 3e-4).
VectorXd fd_gradient(MsdeModel& model, const VectorXd& theta, Elbo& probe, const MatrixXd& Y, const VectorXd& t,
                     const MatrixXd& eps, double beta) {
  VectorXd fd(theta.size());
  const double h = 3e-3;
  for (Index k = 0; k < theta.size(); ++k) {
    auto at = [&](double d) {
      VectorXd th = theta;
      th[k] += d;
      model.set_params(th);
      return probe.evaluate(model, Y, t, eps, beta).elbo;
    };
    fd[k] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
  }
  model.set_params(theta);
  return fd;
}

}  // namespace

TEST_CASE("MsdeModel: the flat parameter vector covers every component once, in segment order", "[vi][elbo]") {
  const int n_eta = GENERATE(0, 2);
  const bool local = GENERATE(false, true);
  MsdeModel model(small_config(n_eta, local));
  CHECK(model.latent_dim() == (local ? 4 * (1 + n_eta) : 4 + n_eta));
  const auto segs = model.segments();
  Index off = 0;
  for (const auto& s : segs) {
    CAPTURE(s.name);
    CHECK(s.offset == off);
    CHECK(s.size > 0);
    off += s.size;
  }
  CHECK(off == model.num_params());
  CHECK(model.segment("filter/log_std").size == 1);
  CHECK(model.segment("posterior/gp").size == model.gp.num_params());
  CHECK(model.segment("drift/macro").size == model.macro_drift.num_params());
  CHECK_THROWS_AS(model.segment("nope"), std::out_of_range);
  VectorXd theta(model.num_params());
  model.get_params(theta);
  CHECK(theta[0] == std::log(4.0));  // filter std = n_y / n_zeta, as its log
  const auto& ev = model.segment("encoder/variance");
  CHECK(ev.size == (local ? 1 + n_eta : model.latent_dim()));  // per channel (local) or per component
  CHECK(theta.segment(ev.offset, ev.size).isConstant(-4.0));
  CHECK(model.segment("diffusion").size == ev.size);
  // set(get) round trip, and set actually reaches the components.
  const VectorXd other = theta + gaussian(theta.size(), 1, 1);
  model.set_params(other);
  VectorXd back(model.num_params());
  model.get_params(back);
  CHECK(back == other);
  CHECK(model.filter.std() == std::exp(other[0]));
  CHECK(model.macro_drift.params() ==
        other.segment(model.segment("drift/macro").offset, model.macro_drift.num_params()));
  // Same seed, same model; another seed, other weights.
  VectorXd a(model.num_params()), b(model.num_params());
  MsdeModel(small_config(n_eta, local)).get_params(a);
  auto c2 = small_config(n_eta, local);
  c2.seed = 6;
  MsdeModel(c2).get_params(b);
  CHECK(a == theta);
  CHECK(a != b);
  CHECK_THROWS_AS(MsdeModel([] {
                    auto c = small_config(0);
                    c.n_zeta = 5;
                    return c;
                  }()),
                  msrom::InputError);
}

TEST_CASE("The whole ELBO's gradient matches finite differences for every parameter", "[vi][elbo]") {
  // Global eta (the paper's) with 0 and 2 variables, and the local field: 2 channels on each of the 4 cells;
  // each on a 1-D and on a 2-D grid, of one field component and of two (u and v).
  // Both kinds of eta also with a drift of time (the global micro drift reads t first, the local one as its
  // stencil MLP's global input).
  const auto [n_eta, local, time] = GENERATE(std::make_tuple(0, false, false), std::make_tuple(2, false, false),
                                             std::make_tuple(2, true, false), std::make_tuple(2, false, true),
                                             std::make_tuple(2, true, true));
  const bool two_d = GENERATE(false, true);
  const int fields = GENERATE(1, 2);
  MsdeConfig config = small_config(n_eta, local, two_d, fields);
  config.drift_time = time;
  MsdeModel model(config);
  CHECK(model.dims() == (two_d ? 2 : 1));
  if (local) {  // the CNN's strides multiply to the stride n_y / n_zeta (per axis): its output sits on the cells
    CHECK(model.cnn_strides == std::vector<int>{2, 2});
    CHECK(model.cnn_length() == model.cells());
    CHECK(model.segment("drift/micro").size == model.micro_local.num_params());
  }
  // Move every parameter off its initial value (the warp's last layer starts at 0, variances are equal).
  VectorXd theta(model.num_params());
  model.get_params(theta);
  theta += 0.1 * gaussian(theta.size(), 1, 2);
  model.set_params(theta);

  const int B = 6;
  const MatrixXd Y = window_data(model.n_y, B);
  const VectorXd t = VectorXd::LinSpaced(B, 0.3, 0.8);
  MatrixXd eps(model.latent_dim(), B);
  draw_eps(1, 0, eps);
  const double beta = 0.7;

  Elbo elbo;
  VectorXd grad = VectorXd::Zero(model.num_params());
  const ElboTerms terms = elbo.evaluate(model, Y, t, eps, beta, grad);
  CHECK(terms.elbo == Approx(terms.log_likelihood - beta * terms.drift_residual).epsilon(1e-15));
  CHECK(elbo.evaluate(model, Y, t, eps, beta).elbo == terms.elbo);  // value-only path: the same number

  Elbo probe;
  const VectorXd fd = fd_gradient(model, theta, probe, Y, t, eps, beta);
  // Relative error per entry, with a floor of 1e-6 of the largest gradient entry for entries that are
  // (nearly) zero.
  const double floor = 1e-6 * fd.cwiseAbs().maxCoeff();
  double worst = 0;
  for (const auto& s : model.segments()) {
    const VectorXd a = grad.segment(s.offset, s.size), b = fd.segment(s.offset, s.size);
    const double err = ((a - b).array().abs() / b.array().abs().max(floor)).maxCoeff();
    CAPTURE(n_eta, local, time, two_d, fields, s.name, s.size, err);
    CHECK(err < 1e-6);
    worst = std::max(worst, err);
  }
  CAPTURE(n_eta, local, time, two_d, fields, theta.size(), worst);
  CHECK(worst < 1e-6);

  // scale and accumulation
  VectorXd g2 = grad;
  elbo.evaluate(model, Y, t, eps, beta, g2, -0.5);
  CHECK((g2 - 0.5 * grad).norm() <= 1e-14 * grad.norm());
}

TEST_CASE("The multiple-shooting term: its value by hand, and its gradient against finite differences", "[vi][elbo]") {
  const auto [n_eta, local, time] = GENERATE(std::make_tuple(0, false, false), std::make_tuple(2, false, false),
                                             std::make_tuple(2, true, false), std::make_tuple(2, false, true),
                                             std::make_tuple(2, true, true));
  const bool two_d = GENERATE(false, true);
  MsdeConfig config = small_config(n_eta, local, two_d);
  config.drift_time = time;
  MsdeModel model(config);
  VectorXd theta(model.num_params());
  model.get_params(theta);
  theta += 0.1 * gaussian(theta.size(), 1, 3);
  model.set_params(theta);
  const int B = 6, D = model.latent_dim();
  const MatrixXd Y = window_data(model.n_y, B);
  const VectorXd t = VectorXd::LinSpaced(B, 0.3, 0.8);
  MatrixXd eps(D, B);
  draw_eps(1, 0, eps);
  const double beta = 0.7;
  ShootingOptions so;
  so.horizon = 3;
  so.substeps = 2;
  so.weight = 0.8;
  so.stride = GENERATE(1, 2);

  Elbo plain, elbo;
  elbo.set_shooting(so);
  VectorXd g0 = VectorXd::Zero(model.num_params()), grad = VectorXd::Zero(model.num_params());
  const ElboTerms t0 = plain.evaluate(model, Y, t, eps, beta, g0);
  const ElboTerms terms = elbo.evaluate(model, Y, t, eps, beta, grad);
  CHECK(t0.shooting == 0);
  CHECK(terms.log_likelihood == t0.log_likelihood);
  CHECK(terms.drift_residual == t0.drift_residual);
  CHECK(terms.elbo == Approx(terms.log_likelihood - beta * (terms.drift_residual + terms.shooting)).epsilon(1e-15));
  CHECK(elbo.evaluate(model, Y, t, eps, beta).elbo == terms.elbo);

  // By hand, one start column at a time: Heun with h = w / 2, scored after every second step (a drift of
  // time evaluated at t_i + (step - 1) h and, the corrector, t_i + step h).
  const MatrixXd mu = elbo.encoder_mean();
  const VectorXd Sigma = model.diffusion().cwiseAbs2();
  const double w = 0.1, h = w / 2;
  double want = 0;
  DriftTape tape;
  for (int i = 0; i + 3 < B; i += so.stride) {
    MatrixXd z = mu.col(i), f1(D, 1), f2(D, 1);
    for (int step = 1; step <= 6; ++step) {
      model.drift_forward(z, f1, tape, VectorXd::Constant(1, t[i] + (step - 1) * h));
      const MatrixXd p = z + h * f1;
      model.drift_forward(p, f2, tape, VectorXd::Constant(1, t[i] + step * h));
      z += 0.5 * h * (f1 + f2);
      if (step % 2 == 0) {
        const int k = step / 2;
        want += 0.5 * 0.8 * so.stride / (k * w) * ((z.col(0) - mu.col(i + k)).array().square() / Sigma.array()).sum();
      }
    }
  }
  CHECK(terms.shooting > 0);
  CHECK(terms.shooting == Approx(want).epsilon(1e-12));

  // Sigma enters as a constant: the diffusion's gradient is the plain ELBO's; every other segment against
  // 4th-order central differences of the ELBO with the term.
  const auto& sd = model.segment("diffusion");
  CHECK(grad.segment(sd.offset, sd.size) == g0.segment(sd.offset, sd.size));
  CHECK((grad - g0).norm() > 1e-3 * g0.norm());  // the term does move the drift and encoder gradients
  Elbo probe;
  probe.set_shooting(so);
  const VectorXd fd = fd_gradient(model, theta, probe, Y, t, eps, beta);
  const double floor = 1e-6 * fd.cwiseAbs().maxCoeff();
  for (const auto& s : model.segments()) {
    if (s.name == "diffusion") continue;
    const VectorXd a = grad.segment(s.offset, s.size), b = fd.segment(s.offset, s.size);
    const double err = ((a - b).array().abs() / b.array().abs().max(floor)).maxCoeff();
    CAPTURE(n_eta, local, time, two_d, s.name, s.size, err);
    CHECK(err < 1e-6);
  }
  // A horizon beyond the window is cut to B - 1; bad options are refused.
  ShootingOptions far = so;
  far.horizon = 50;
  far.substeps = 1;
  far.stride = 1;
  Elbo e50, e5;
  e50.set_shooting(far);
  far.horizon = B - 1;
  e5.set_shooting(far);
  CHECK(e50.evaluate(model, Y, t, eps, beta).elbo == e5.evaluate(model, Y, t, eps, beta).elbo);
  far.substeps = 0;
  CHECK_THROWS_AS(e5.set_shooting(far), std::invalid_argument);
}

TEST_CASE("MsdeModel on a 2-D grid: sizes, and the encoder and macro decoder keep a constant field", "[vi][elbo]") {
  const bool local = GENERATE(false, true);
  MsdeModel model(small_config(2, local, true));
  CHECK(model.stride == 4);  // 8 x 12 -> 2 x 3
  CHECK(model.coarse == nn::Grid{2, 2, 3});
  CHECK(model.decode_scale() == 16.0);
  CHECK(model.filter.std() == Approx(4.0).epsilon(1e-15));
  // The 5 x 5 stencil of 1 (global) or 3 (local) channels, plus the n_eta globals (global model).
  CHECK(model.macro_drift.stencil_inputs() == 25 * (local ? 3 : 1));
  CHECK(model.macro_drift.globals() == (local ? 0 : 2));
  CHECK(model.cnn_length() == 6);  // 8 x 12 after two strides of 2 (global: cnn_stride; local: 4 = 2 x 2)
  // G_s of a constant field is the constant on every cell (the kernel sums to 1). D_zeta = s^2 G_s^T of a
  // constant zeta keeps its mean exactly (the mass of every cell is spread over the fine points), and is the
  // product of the 1-D macro decoders of a constant along x and along y (the filter is separable).
  const MatrixXd Y = MatrixXd::Constant(model.n_y, 2, 0.7);
  const MatrixXd mu = encode_mean(model, Y);
  CHECK((mu.topRows(model.n_zeta).array() - 0.7).abs().maxCoeff() < 1e-14);
  MatrixXd Dz(model.n_y, 1);
  model.filter.apply_transpose(MatrixXd::Constant(model.n_zeta, 1, -1.3), model.stride, Dz);
  Dz *= model.decode_scale();
  CHECK(Dz.mean() == Approx(-1.3).epsilon(1e-14));
  const nn::GaussianFilter axis(4.0);
  MatrixXd ax(8, 1), ay(12, 1);
  axis.apply_transpose(MatrixXd::Ones(2, 1), 4, ax);
  axis.apply_transpose(MatrixXd::Ones(3, 1), 4, ay);
  double worst = 0;
  for (int j = 0; j < 12; ++j)
    for (int i = 0; i < 8; ++i) worst = std::max(worst, std::abs(Dz(j * 8 + i, 0) + 1.3 * 16 * ax(i, 0) * ay(j, 0)));
  CHECK(worst < 1e-14);
  CHECK((Dz.array() + 1.3).abs().maxCoeff() > 1e-3);  // not trivially constant: the check above has teeth
  // A grid no single stride coarsens to n_zeta cells is refused.
  auto bad = small_config(2, local, true);
  bad.n_zeta = 8;  // 96 / 8 = 12 is not a square
  CHECK_THROWS_AS(MsdeModel(bad), msrom::InputError);
}

TEST_CASE("MsdeModel with two field components: each is filtered and decoded alone, the drift couples them",
          "[vi][elbo]") {
  const bool local = GENERATE(false, true);
  MsdeModel two(small_config(2, local, true, 2)), one(small_config(2, local, true, 1));
  const int np = 96, nc = 6;
  CHECK(two.fields == 2);
  CHECK(two.stride == 4);
  CHECK(two.cells() == nc);
  CHECK(two.n_zeta == 2 * nc);
  CHECK(two.latent_dim() == (local ? nc * (2 + 2) : 2 * nc + 2));
  // The 5 x 5 stencil of the 2 components (and, local, the 2 eta channels); 2 outputs per cell.
  CHECK(two.macro_drift.stencil_inputs() == 25 * (local ? 4 : 2));
  CHECK(two.macro_drift.mlp().output_dim() == 2);
  CHECK(two.decoder_rho_zeta.size() == 2 * np);
  CHECK(two.encoder_convs[0].num_params() == one.encoder_convs[0].num_params() + 2 * 25);  // 2 input channels
  // zeta = [G_s a; G_s b] for y = [a; b], bit for bit the one-component filter of each.
  const MatrixXd a = window_data(np, 3), b = 0.5 * window_data(np, 3).colwise().reverse();
  MatrixXd y(2 * np, 3);
  y << a, b;
  const MatrixXd mu2 = encode_mean(two, y), mua = encode_mean(one, a), mub = encode_mean(one, b);
  CHECK(mu2.topRows(nc) == mua.topRows(nc));
  CHECK(mu2.middleRows(nc, nc) == mub.topRows(nc));
  CHECK((mua.topRows(nc) - mub.topRows(nc)).norm() > 0.1);  // the two components differ
  // The macro decoder keeps each component's mean, and decodes it as the one-component decoder does.
  MatrixXd z = MatrixXd::Zero(2 * nc, 1), Y(2 * np, 1), Ya(np, 1);
  z.topRows(nc).setConstant(0.7);
  z.bottomRows(nc).setConstant(-1.3);
  two.decode_zeta(z, Y);
  CHECK(Y.topRows(np).mean() == Approx(0.7).epsilon(1e-14));
  CHECK(Y.bottomRows(np).mean() == Approx(-1.3).epsilon(1e-14));
  one.decode_zeta(z.bottomRows(nc), Ya);
  CHECK(Y.bottomRows(np) == Ya);
  // The macro drift of component 1 reads component 2 (the stencil takes both channels) and vice versa.
  MatrixXd Z = gaussian(two.latent_dim(), 1, 7), Z2 = Z;
  Z2(nc + 2, 0) += 0.5;  // component 2 at cell 2
  const MatrixXd f = drift(two, Z, 0.0), f2 = drift(two, Z2, 0.0);
  CHECK((f.topRows(nc) - f2.topRows(nc)).norm() > 1e-8);
  Z2 = Z;
  Z2(2, 0) += 0.5;  // component 1 at cell 2
  CHECK((drift(two, Z2, 0.0).middleRows(nc, nc) - f.middleRows(nc, nc)).norm() > 1e-8);
  // Sizes that do not split into the components are refused.
  auto bad = small_config(2, local, true, 2);
  bad.n_zeta = 7;
  CHECK_THROWS_AS(MsdeModel(bad), msrom::InputError);
}

// ---------------------------------------------------------------------------------- linear-Gaussian case
//
// The model reduced to a linear-Gaussian latent SDE: n_eta = 0, a macro drift without hidden layers whose
// only non-zero weight is the stencil's centre, f(z)_j = -lambda z_j + c (independent OU processes, one per
// coarse cell), the linear observation y = H z + noise with H = s G_s^T (the macro decoder) and per-pixel
// variances a_p, the encoder mu = G_s y, a fixed GP posterior (identity warp, fixed hyper-parameters).
//
// Closed form. At time stamp i write m, S, dm = dm/dt, dl = dlogS/dt (D-vectors), z = m + sqrt(S) eps,
// eps ~ N(0, I). Then
//
//   log-likelihood:  y - H z = (y - H m) - H (sqrt(S) eps), so
//     E[ -1/2 sum_p (y - H z)_p^2 / a_p ] = -1/2 sum_p [ (y - H m)_p^2 + sum_d H_pd^2 S_d ] / a_p
//   (the cross term is linear in eps: mean 0; E[(H sqrt(S) eps)_p^2] = sum_d H_pd^2 S_d).
//
//   drift residual:  r = A (m - z) + dm - f(z),  A = (Sigma / S - dl) / 2,  m - z = -sqrt(S) eps,
//     f(z) = -lambda (m + sqrt(S) eps) + c,  so
//     r = (dm + lambda m - c) + (lambda - A) sqrt(S) eps        (affine in eps: a quadratic form r^2)
//     E[r_d^2] = (dm_d + lambda m_d - c)^2 + (lambda - A_d)^2 S_d
//
//   E[ELBO] = sum_i { -1/2 sum_p [ ((y_i - H m_i)_p^2 + sum_d H_pd^2 S_id) / a_p + log(2 pi a_p) ] }
//             - beta (w/2) sum_i sum_d [ (dm_id + lambda m_id - c)^2 + (lambda - A_id)^2 S_id ] / Sigma_d.
//
// The implementation's expectation is computed EXACTLY, without Monte Carlo noise: its ELBO is a quadratic
// polynomial Q(eps) of the D B independent standard normals, so E[Q] = Q(0) + 1/2 sum_k Q''_kk, and the
// second derivative along coordinate k is Q(e_k) + Q(-e_k) - 2 Q(0) exactly (a quadratic's second difference
// with step 1). A Monte Carlo average over the Philox draws of draw_eps is checked too.
TEST_CASE("The ELBO of a linear-Gaussian latent SDE (OU drift, linear observation) equals its closed form",
          "[vi][elbo]") {
  struct Case {
    int n_y, n_zeta;
  };
  const Case cs = GENERATE(Case{1, 1}, Case{6, 3});
  CAPTURE(cs.n_y, cs.n_zeta);
  MsdeConfig cfg;
  cfg.n_y = cs.n_y;
  cfg.n_zeta = cs.n_zeta;
  cfg.n_eta = 0;
  cfg.macro_hidden = {};
  cfg.gp.lengthscale = 0.2;
  cfg.gp.nugget = 1e-2;
  MsdeModel model(cfg);
  const int D = model.latent_dim(), ny = model.n_y, s = model.stride, B = 8;
  const double lambda = 1.7, c0 = 0.4, beta = 0.6;
  model.macro_drift.mlp().params().setZero();
  model.macro_drift.mlp().weight(0)(0, 2) = -lambda;  // the stencil's centre z_j
  model.macro_drift.mlp().bias(0)[0] = c0;
  for (int d = 0; d < D; ++d) {
    model.encoder_rho[d] = -1.0 + 0.4 * d;
    model.diffusion_rho[d] = 0.2 - 0.3 * d;
  }
  for (int p = 0; p < ny; ++p) model.decoder_rho_zeta[p] = -2.0 + 0.25 * p;
  model.filter.params()[0] += std::log(1.1);

  const MatrixXd Y = gaussian(ny, B, 7);
  const VectorXd t = VectorXd::LinSpaced(B, 0.5, 0.85);
  const double T = t[B - 1] - t[0], w = T / (B - 1);

  // ---- the posterior, computed independently: encoder E = G_s, GP with identity warp.
  const VectorXd& g = model.filter.kernel();
  const int pw = model.filter.half_width();
  MatrixXd E = MatrixXd::Zero(D, ny);
  for (int j = 0; j < D; ++j)
    for (int r = 0; r < model.filter.width(); ++r) E(j, (((s * j + r - pw) % ny) + ny) % ny) += g[r];
  const MatrixXd H = double(s) * E.transpose();
  MatrixXd V(B, 2 * D);
  V.leftCols(D) = (E * Y).transpose();
  for (int d = 0; d < D; ++d) V.col(D + d).setConstant(std::log(softplus(model.encoder_rho[d])));
  const VectorXd u = (t.array() - t[0]) / T;
  const double l = model.gp.lengthscale(), nu = model.gp.nugget();
  MatrixXd K(B, B), Kd(B, B);
  for (int q = 0; q < B; ++q)
    for (int i = 0; i < B; ++i) {
      K(q, i) = std::exp(-0.5 * std::pow((u[q] - u[i]) / l, 2));
      Kd(q, i) = -(u[q] - u[i]) / (l * l) * K(q, i);
    }
  const MatrixXd alpha = (K + nu * MatrixXd::Identity(B, B)).ldlt().solve(V);
  const MatrixXd Mv = K * alpha, dMv = Kd * alpha / T;
  const MatrixXd m = Mv.leftCols(D).transpose(), dm = dMv.leftCols(D).transpose();
  const MatrixXd S = Mv.rightCols(D).transpose().array().exp(), dl = dMv.rightCols(D).transpose();
  VectorXd Sigma(D), a(ny);
  for (int d = 0; d < D; ++d) Sigma[d] = std::pow(softplus(model.diffusion_rho[d]), 2);
  for (int p = 0; p < ny; ++p) a[p] = softplus(model.decoder_rho_zeta[p]);

  // ---- closed form
  double ell = 0, res = 0;
  const MatrixXd H2 = H.cwiseAbs2();
  for (int i = 0; i < B; ++i) {
    const VectorXd e = Y.col(i) - H * m.col(i);
    const VectorXd var = H2 * S.col(i);
    for (int p = 0; p < ny; ++p) ell += -0.5 * ((e[p] * e[p] + var[p]) / a[p] + std::log(2 * M_PI * a[p]));
    for (int d = 0; d < D; ++d) {
      const double A = 0.5 * (Sigma[d] / S(d, i) - dl(d, i));
      const double mean = dm(d, i) + lambda * m(d, i) - c0;
      res += 0.5 * w * (mean * mean + (lambda - A) * (lambda - A) * S(d, i)) / Sigma[d];
    }
  }
  const double closed = ell - beta * res;

  // ---- the implementation's exact expectation over eps (quadratic identity).
  Elbo elbo;
  MatrixXd eps = MatrixXd::Zero(D, B);
  const double q0 = elbo.evaluate(model, Y, t, eps, beta).elbo;
  // the implementation's posterior is the independent one
  CHECK((elbo.m() - m).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((elbo.S() - S).cwiseAbs().maxCoeff() < 1e-12 * S.maxCoeff());
  CHECK((elbo.dm_dt() - dm).cwiseAbs().maxCoeff() < 1e-10 * (1 + dm.cwiseAbs().maxCoeff()));
  CHECK((elbo.dlogS_dt() - dl).cwiseAbs().maxCoeff() < 1e-10 * (1 + dl.cwiseAbs().maxCoeff()));
  double expect = q0;
  for (Index k = 0; k < eps.size(); ++k) {
    eps(k) = 1;
    const double qp = elbo.evaluate(model, Y, t, eps, beta).elbo;
    eps(k) = -1;
    const double qm = elbo.evaluate(model, Y, t, eps, beta).elbo;
    eps(k) = 0;
    expect += 0.5 * (qp + qm - 2 * q0);
  }
  INFO("E[ELBO]: implementation " << std::setprecision(15) << expect << ", closed form " << closed << ", rel diff "
                                  << std::abs(expect - closed) / std::abs(closed));
  CHECK(expect == Approx(closed).epsilon(1e-12));

  // ---- Monte Carlo over the Philox draws: within 5 standard errors of the closed form.
  const int N = 4000;
  double sum = 0, sum2 = 0;
  for (int k = 0; k < N; ++k) {
    draw_eps(3, static_cast<std::uint64_t>(k), eps);
    const double q = elbo.evaluate(model, Y, t, eps, beta).elbo;
    sum += q;
    sum2 += q * q;
  }
  const double mc = sum / N, se = std::sqrt((sum2 / N - mc * mc) / N);
  CAPTURE(N, mc, se, closed);
  CHECK(std::abs(mc - closed) < 5 * se);
}

TEST_CASE("draw_eps: deterministic standard normals per (seed, step)", "[vi][elbo]") {
  MatrixXd a(5, 64), b(5, 64), c(5, 64);
  draw_eps(1, 7, a);
  draw_eps(1, 7, b);
  draw_eps(1, 8, c);
  CHECK(a == b);
  CHECK(a != c);
  MatrixXd big(5, 64 * 200);
  draw_eps(2, 0, big);
  CHECK(std::abs(big.mean()) < 4 / std::sqrt(double(big.size())));
  CHECK(std::abs(big.array().square().mean() - 1) < 4 * std::sqrt(2.0 / big.size()));
}
