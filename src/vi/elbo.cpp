// The ELBO of one window and its gradient by back-propagation (include/msrom/vi/elbo.hpp, docs/vi.md).
#include "msrom/vi/elbo.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "msrom/core/random.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
constexpr double kLog2Pi = 1.8378770664093454836;
// The eps stream's member id: above the layer ids of nn::Mlp (0..L) and fit_weighted_mse's 2^40.
constexpr std::uint64_t kEpsMember = (std::uint64_t{1} << 40) + 32;

VectorXd softplus_of(const VectorXd& x) {
  return x.unaryExpr([](double v) { return softplus(v); });
}
VectorXd sigmoid_of(const VectorXd& x) {
  return x.unaryExpr([](double v) { return sigmoid(v); });
}
}  // namespace

void draw_eps(std::uint64_t seed, std::uint64_t step, Eigen::Ref<MatrixXd> eps) {
  if (eps.outerStride() != eps.rows()) throw std::invalid_argument("vi::draw_eps: eps must be contiguous");
  Philox(seed, kEpsMember, Purpose::training).normals(step, eps.data(), static_cast<std::size_t>(eps.size()));
}

void Elbo::set_shooting(const ShootingOptions& s) {
  if (s.horizon < 0 || s.substeps < 1 || s.stride < 1 || !(s.weight >= 0))
    throw std::invalid_argument("vi::Elbo::set_shooting: horizon " + std::to_string(s.horizon) + " (>= 0), substeps " +
                                std::to_string(s.substeps) + " (>= 1), stride " + std::to_string(s.stride) +
                                " (>= 1), weight " + std::to_string(s.weight) + " (>= 0)");
  shoot_ = s;
}

// Z_0 = mu's columns i = 0, stride, 2 stride, ... (i + K <= B - 1; N of them); Heun steps
// Z <- Z + h/2 (f(Z) + f(Z + h f(Z))), h = w / substeps; after k intervals Z is scored against mu's columns
// i + k (elbo.hpp).
double Elbo::shooting_forward(const MsdeModel& model, const Eigen::Ref<const VectorXd>& t, double w) {
  const Index B = mu_.cols(), K = std::min<Index>(shoot_.horizon, B - 1), S = shoot_.substeps;
  const Index N = (B - 1 - K) / shoot_.stride + 1;
  const double h = w / double(S);
  shoot_tapes_.resize(static_cast<std::size_t>(2 * K * S));
  shoot_z_.resize(static_cast<std::size_t>(K * S + 1));
  shoot_z_[0].resize(mu_.rows(), N);
  shoot_t_.resize(N);
  for (Index n = 0; n < N; ++n) {
    shoot_z_[0].col(n) = mu_.col(n * shoot_.stride);
    shoot_t_[n] = t[n * shoot_.stride];
  }
  double total = 0;
  for (Index j = 0; j < K * S; ++j) {
    const MatrixXd& Z = shoot_z_[static_cast<std::size_t>(j)];
    shoot_f1_.resize(Z.rows(), N);
    shoot_f2_.resize(Z.rows(), N);
    shoot_tj_ = shoot_t_.array() + double(j) * h;  // the starts' times after j steps (a drift of time)
    model.drift_forward(Z, shoot_f1_, shoot_tapes_[static_cast<std::size_t>(2 * j)], shoot_tj_);
    shoot_p_ = Z + h * shoot_f1_;
    shoot_tj_.array() += h;
    model.drift_forward(shoot_p_, shoot_f2_, shoot_tapes_[static_cast<std::size_t>(2 * j + 1)], shoot_tj_);
    shoot_z_[static_cast<std::size_t>(j + 1)] = Z + (0.5 * h) * (shoot_f1_ + shoot_f2_);
    if ((j + 1) % S == 0) {
      const Index k = (j + 1) / S;
      shooting_error(k, shoot_z_[static_cast<std::size_t>(j + 1)], shoot_gf_);
      const double c = 0.5 * shoot_.weight * shoot_.stride / (double(k) * w);
      total += c * (shoot_gf_.array().square().colwise() / Sigma_.array()).sum();
    }
  }
  return total;
}

void Elbo::shooting_error(Index k, const MatrixXd& Z, MatrixXd& E) const {
  E.resize(Z.rows(), Z.cols());
  for (Index n = 0; n < Z.cols(); ++n) E.col(n) = Z.col(n) - mu_.col(n * shoot_.stride + k);
}

// Reverse mode through the Heun steps: with g the cotangent of Z_{j+1}, F2 = f(P) gets h/2 g, P's cotangent
// is gP = J_f(P)^T (h/2 g), Z_j's is g + gP + J_f(Z_j)^T (h/2 g + h gP). The ELBO's sign and beta are folded
// in: G += dELBO/dtheta for the drift segments, gmu_ += dELBO/dmu (starts and targets).
void Elbo::shooting_backward(const MsdeModel& model, double w, double beta, VectorXd& G) {
  const Index B = mu_.cols(), K = std::min<Index>(shoot_.horizon, B - 1), S = shoot_.substeps;
  const Index N = (B - 1 - K) / shoot_.stride + 1;
  const double h = w / double(S);
  shoot_g_.setZero(mu_.rows(), N);
  for (Index j = K * S - 1; j >= 0; --j) {
    if ((j + 1) % S == 0) {
      const Index k = (j + 1) / S;
      const double c = beta * shoot_.weight * shoot_.stride / (double(k) * w);
      shooting_error(k, shoot_z_[static_cast<std::size_t>(j + 1)], shoot_gf_);
      shoot_gf_ = shoot_gf_.array().colwise() / Sigma_.array();
      shoot_g_ -= c * shoot_gf_;
      for (Index n = 0; n < N; ++n) gmu_.col(n * shoot_.stride + k) += c * shoot_gf_.col(n);
    }
    shoot_gf_ = (0.5 * h) * shoot_g_;
    shoot_gp_.setZero(mu_.rows(), N);
    model.drift_backward(shoot_tapes_[static_cast<std::size_t>(2 * j + 1)], shoot_gf_, G, shoot_gp_, ws_);
    shoot_gf_ += h * shoot_gp_;
    shoot_g_ += shoot_gp_;
    model.drift_backward(shoot_tapes_[static_cast<std::size_t>(2 * j)], shoot_gf_, G, shoot_g_, ws_);
  }
  for (Index n = 0; n < N; ++n) gmu_.col(n * shoot_.stride) += shoot_g_.col(n);
}

ElboTerms Elbo::evaluate(const MsdeModel& model, const Eigen::Ref<const MatrixXd>& Y,
                         const Eigen::Ref<const VectorXd>& t, const Eigen::Ref<const MatrixXd>& eps, double beta) {
  return run(model, Y, t, eps, beta, nullptr);
}

ElboTerms Elbo::evaluate(const MsdeModel& model, const Eigen::Ref<const MatrixXd>& Y,
                         const Eigen::Ref<const VectorXd>& t, const Eigen::Ref<const MatrixXd>& eps, double beta,
                         Eigen::Ref<VectorXd> grad, double scale) {
  if (grad.size() != model.num_params())
    throw std::invalid_argument("vi::Elbo::evaluate: grad has " + std::to_string(grad.size()) + " entries, the model " +
                                std::to_string(model.num_params()));
  const ElboTerms terms = run(model, Y, t, eps, beta, &grad_local_);
  grad += scale * grad_local_;
  return terms;
}

ElboTerms Elbo::run(const MsdeModel& model, const Eigen::Ref<const MatrixXd>& Y, const Eigen::Ref<const VectorXd>& t,
                    const Eigen::Ref<const MatrixXd>& eps, double beta, VectorXd* grad) {
  const int D = model.latent_dim(), nz = model.n_zeta, ne = model.n_eta, ny = model.n_y, s = model.stride;
  const int C = model.fields, np = ny / C;
  const int er = model.eta_rows();  // the eta block of z: n_eta (global) or n_eta n_zeta (local)
  const Index B = Y.cols();
  if (Y.rows() != ny || B < 2 || t.size() != B || eps.rows() != D || eps.cols() != B)
    throw std::invalid_argument("vi::Elbo: a window is n_y x B (B >= 2) with B times and D x B eps; got Y " +
                                std::to_string(Y.rows()) + " x " + std::to_string(B) + ", " + std::to_string(t.size()) +
                                " times, eps " + std::to_string(eps.rows()) + " x " + std::to_string(eps.cols()));
  const double T = t[B - 1] - t[0];
  if (!(T > 0)) throw std::invalid_argument("vi::Elbo: the window's times must increase");
  const double w = T / double(B - 1);

  // ---- 1. encoder: node means mu (D x B), node log-variances (constants).
  mu_.resize(D, B);
  model.filter_fields(Y, s, mu_.topRows(nz));
  if (ne > 0) {
    Gy_.resize(ny, B);
    model.filter_fields(Y, 1, Gy_);
    R_ = Y - Gy_;  // the sub-filter residual
    if (C > 1) {   // the CNN's input channels
      MsdeModel::to_channel_fastest(R_, C, np, gtmp_);
      R_.swap(gtmp_);
    }
    enc_tapes_.resize(model.encoder_convs.size());
    const double* hp = R_.data();
    Index hr = ny;
    for (std::size_t l = 0; l < model.encoder_convs.size(); ++l) {
      const auto out = model.encoder_convs[l].forward(Eigen::Map<const MatrixXd>(hp, hr, B), enc_tapes_[l]);
      hp = out.data();
      hr = out.rows();
    }
    model.eta_readout_forward(Eigen::Map<const MatrixXd>(hp, hr, B), mu_.bottomRows(er), enc_eta_tape_);
  }
  const VectorXd enc_rho = model.per_component(model.encoder_rho), enc_var = softplus_of(enc_rho);
  V_.resize(B, 2 * D);
  V_.leftCols(D) = mu_.transpose();
  V_.rightCols(D).rowwise() = enc_var.array().log().matrix().transpose();

  // ---- 2. GP posterior at the time stamps, 3. the reparametrised sample.
  u_ = (t.array() - t[0]) / T;
  model.gp.forward(u_, u_, V_, gp_tape_);
  const MatrixXd& M = gp_tape_.mean();
  const MatrixXd& dM = gp_tape_.derivative();
  m_ = M.leftCols(D).transpose();
  lS_ = M.rightCols(D).transpose();
  dm_ = dM.leftCols(D).transpose() / T;
  dlS_ = dM.rightCols(D).transpose() / T;
  S_ = lS_.array().exp();
  sq_ = (0.5 * lS_.array()).exp();
  z_ = m_ + sq_.cwiseProduct(eps);

  // ---- 4. decoder and log-likelihood.
  Dz_.resize(ny, B);
  model.decode_zeta(z_.topRows(nz), Dz_);
  a_ = softplus_of(model.decoder_rho_zeta);
  if (ne > 0) {
    model.eta_decoder_forward(z_.bottomRows(er), dec_eta_tape_);
    dec_tapes_.resize(model.decoder_convs.size());
    const double* hp = dec_eta_tape_.h.data();
    Index hr = dec_eta_tape_.h.rows();
    for (std::size_t l = 0; l < model.decoder_convs.size(); ++l) {
      const auto out = model.decoder_convs[l].forward(Eigen::Map<const MatrixXd>(hp, hr, B), dec_tapes_[l]);
      hp = out.data();
      hr = out.rows();
    }
    if (C == 1) {
      De_ = Eigen::Map<const MatrixXd>(hp, hr, B);
    } else {
      De_.resize(ny, B);
      MsdeModel::to_channel_slowest(Eigen::Map<const MatrixXd>(hp, hr, B), C, np, De_);
    }
    b_ = softplus_of(model.decoder_rho_eta);
    s2_ = (a_.array() * b_.array() / (a_.array() + b_.array())).matrix();
    cc_ = s2_.cwiseQuotient(b_);
    ymean_ = Dz_ + cc_.asDiagonal() * De_;
  } else {
    s2_ = a_;
    ymean_ = Dz_;
  }
  ElboTerms terms;
  terms.log_likelihood = -0.5 * ((Y - ymean_).array().square().colwise() / s2_.array()).sum() -
                         0.5 * double(B) * (s2_.array().log() + kLog2Pi).sum();

  // ---- 5. drift residual.
  g_ = model.diffusion();
  Sigma_ = g_.cwiseAbs2();
  f_.resize(D, B);
  model.drift_forward(z_, f_, drift_tape_, t);
  A_ = 0.5 * (S_.array().inverse().colwise() * Sigma_.array() - dlS_.array());
  r_ = dm_ - f_ - A_.cwiseProduct(sq_).cwiseProduct(eps);
  terms.drift_residual = 0.5 * w * (r_.array().square().colwise() / Sigma_.array()).sum();
  terms.shooting = shoot_.horizon > 0 ? shooting_forward(model, t, w) : 0.0;
  terms.elbo = terms.log_likelihood - beta * (terms.drift_residual + terms.shooting);
  if (!grad) return terms;

  // ================================================================ backward: G = dELBO/dtheta
  VectorXd& G = *grad;
  G.setZero(model.num_params());
  auto seg = [&](const char* name) {
    const auto& sg = model.segment(name);
    return G.segment(sg.offset, sg.size);
  };
  auto seg_n = [&](const std::string& name) {
    const auto& sg = model.segment(name);
    return G.segment(sg.offset, sg.size);
  };

  // ---- likelihood -> decoder variances, decoders, z.
  gy_ = (Y - ymean_).array().colwise() / s2_.array();  // dLL/d mean
  const VectorXd gs2 =
      0.5 * ((Y - ymean_).array().square().rowwise().sum() / s2_.array().square() - double(B) / s2_.array()).matrix();
  gz_.resize(D, B);
  if (ne > 0) {
    const VectorXd gcc = gy_.cwiseProduct(De_).rowwise().sum();
    const Eigen::ArrayXd a = a_.array(), b = b_.array(), ab2 = (a + b).square();
    const Eigen::ArrayXd gs2_tot = gs2.array() + gcc.array() / b;  // cc = s2 / b
    const Eigen::ArrayXd gb = -gcc.array() * s2_.array() / b.square() + gs2_tot * a.square() / ab2;
    const Eigen::ArrayXd ga = gs2_tot * b.square() / ab2;
    seg("decoder/variance_zeta") = (ga * sigmoid_of(model.decoder_rho_zeta).array()).matrix();
    seg("decoder/variance_eta") = (gb * sigmoid_of(model.decoder_rho_eta).array()).matrix();
    // micro decoder: mean += cc .* D_eta
    gh_ = cc_.asDiagonal() * gy_;
    if (C > 1) {
      MsdeModel::to_channel_fastest(gh_, C, np, gtmp_);
      std::swap(gh_, gtmp_);
    }
    for (int l = static_cast<int>(model.decoder_convs.size()) - 1; l >= 0; --l) {
      model.decoder_convs[l].backward(dec_tapes_[l], gh_, seg_n("decoder/conv" + std::to_string(l)), &gtmp_, ws_);
      std::swap(gh_, gtmp_);
    }
    model.eta_decoder_backward(dec_eta_tape_, gh_, G, gz_.bottomRows(er), ws_);
  } else {
    seg("decoder/variance_zeta") = (gs2.array() * sigmoid_of(model.decoder_rho_zeta).array()).matrix();
  }
  // macro decoder D_zeta = c G_s^T zeta (c = s^dims): dzeta = c G_s gy, dsigma = c d<gy, G_s^T zeta>/dsigma.
  const double c = model.decode_scale();
  model.filter_fields(gy_, s, gz_.topRows(nz));
  gz_.topRows(nz) *= c;
  seg("filter/log_std")[0] += c * model.filter_log_std_gradient(gy_, z_.topRows(nz), s);

  // ---- drift residual: r = dm - f - A .* sq .* eps, term -beta (w/2) sum r^2 / Sigma.
  const MatrixXd gr = (-beta * w) * (r_.array().colwise() / Sigma_.array()).matrix();
  gdm_ = gr;
  gf_ = -gr;
  const MatrixXd gA = -gr.cwiseProduct(sq_).cwiseProduct(eps);
  // A = (Sigma / S - dlogS) / 2
  const VectorXd gSigma =
      (0.5 * beta * w) * (r_.array().square().colwise() / Sigma_.array().square()).rowwise().sum().matrix() +
      (0.5 * gA.array() / S_.array()).rowwise().sum().matrix();
  gdlS_ = -0.5 * gA;
  glS_ =
      -0.5 * (gA.array() * (S_.array().inverse().colwise() * Sigma_.array())).matrix();  // gS S, gS = -gA Sigma/(2S^2)
  // drift MLPs
  model.drift_backward(drift_tape_, gf_, G, gz_, ws_);
  seg("diffusion") = model.per_channel_sum(
      (gSigma.array() * 2.0 * g_.array() * sigmoid_of(model.per_component(model.diffusion_rho)).array()).matrix());
  // z = m + sq .* eps; sq = exp(logS / 2); the residual's -A .* sq .* eps.
  gm_ = gz_;
  const MatrixXd gsq = gz_.cwiseProduct(eps) - gr.cwiseProduct(A_).cwiseProduct(eps);
  glS_ += 0.5 * gsq.cwiseProduct(sq_);

  // ---- GP -> node values.
  GM_.resize(B, 2 * D);
  GD_.resize(B, 2 * D);
  GM_.leftCols(D) = gm_.transpose();
  GM_.rightCols(D) = glS_.transpose();
  GD_.leftCols(D) = gdm_.transpose() / T;
  GD_.rightCols(D) = gdlS_.transpose() / T;
  dV_.resize(B, 2 * D);
  model.gp.backward(gp_tape_, GM_, GD_, dV_, seg("posterior/gp"));
  // log s2 = log softplus(rho): d/drho = sigmoid / softplus
  seg("encoder/variance") =
      model.per_channel_sum((dV_.rightCols(D).colwise().sum().transpose().array() * sigmoid_of(enc_rho).array() /
                             enc_var.array())
                                .matrix());
  gmu_ = dV_.leftCols(D).transpose();
  if (shoot_.horizon > 0) shooting_backward(model, w, beta, G);

  // ---- encoder.
  seg("filter/log_std")[0] += model.filter_log_std_gradient(Y, gmu_.topRows(nz), s);
  if (ne > 0) {
    model.eta_readout_backward(enc_eta_tape_, gmu_.bottomRows(er), G, gh_, ws_);
    for (int l = static_cast<int>(model.encoder_convs.size()) - 1; l >= 0; --l) {
      model.encoder_convs[l].backward(enc_tapes_[l], gh_, seg_n("encoder/conv" + std::to_string(l)), &gtmp_, ws_);
      std::swap(gh_, gtmp_);
    }
    // R = Y - G_1 Y: the filter sees the cotangent -gR.
    if (C > 1) {
      gtmp_.resize(ny, B);
      MsdeModel::to_channel_slowest(gh_, C, np, gtmp_);
      std::swap(gh_, gtmp_);
    }
    seg("filter/log_std")[0] -= model.filter_log_std_gradient(Y, gh_, 1);
  }
  return terms;
}

}  // namespace msrom::vi
