// The multiscale model's components and its flat parameter vector (include/msrom/vi/msde_model.hpp).
#include "msrom/vi/msde_model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::VectorXd;

double softplus(double x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}
double sigmoid(double x) {
  if (x >= 0) return 1 / (1 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1 + e);
}

namespace {
// Component c of the model draws its initial weights from seed * 64 + c.
std::uint64_t component_seed(std::uint64_t seed, int c) {
  return seed * 64 + static_cast<std::uint64_t>(c);
}

std::string where(const MsdeConfig& c) {
  return "vi::MsdeModel (n_y " + std::to_string(c.n_y) + ", n_zeta " + std::to_string(c.n_zeta) + ", n_eta " +
         std::to_string(c.n_eta) + ")";
}
}  // namespace

MsdeModel::MsdeModel(const MsdeConfig& c) : config(c), n_y(c.n_y), n_zeta(c.n_zeta), n_eta(c.n_eta) {
  if (n_y < 1 || n_zeta < 1 || n_eta < 0 || n_y % n_zeta != 0)
    throw InputError(where(c) + ": n_zeta must divide n_y, and both be positive");
  stride = n_y / n_zeta;
  const int D = latent_dim();
  filter = nn::GaussianFilter(c.filter_std > 0 ? c.filter_std : double(stride));
  if (n_eta > 0) {
    if (c.cnn_channels.empty() || c.cnn_stride < 1) throw InputError(where(c) + ": the eta CNN needs channels");
    Index len = n_y;
    for (std::size_t l = 0; l < c.cnn_channels.size(); ++l) {
      if (len % c.cnn_stride != 0)
        throw InputError(where(c) + ": cnn stride " + std::to_string(c.cnn_stride) + " to the power " +
                         std::to_string(c.cnn_channels.size()) + " must divide n_y");
      len /= c.cnn_stride;
      const int cin = l == 0 ? 1 : c.cnn_channels[l - 1];
      encoder_convs.emplace_back(cin, c.cnn_channels[l], c.cnn_kernel, c.cnn_stride, c.activation,
                                 component_seed(c.seed, 10 + static_cast<int>(l)));
    }
    const int flat = c.cnn_channels.back() * static_cast<int>(len);
    encoder_linear = nn::Mlp({flat, n_eta}, nn::Activation::identity, component_seed(c.seed, 1));
    std::vector<int> micro{D};
    micro.insert(micro.end(), c.micro_hidden.begin(), c.micro_hidden.end());
    micro.push_back(n_eta);
    micro_drift = nn::Mlp(micro, c.activation, component_seed(c.seed, 2));
    decoder_linear = nn::Mlp({n_eta, flat}, nn::Activation::identity, component_seed(c.seed, 3));
    // Mirror of the encoder: C_last -> ... -> C_0 -> 1 channel; LeakyReLU between, identity at the end.
    for (int l = static_cast<int>(c.cnn_channels.size()) - 1; l >= 0; --l) {
      const int cout = l == 0 ? 1 : c.cnn_channels[l - 1];
      decoder_convs.emplace_back(c.cnn_channels[l], cout, c.cnn_kernel, c.cnn_stride,
                                 l == 0 ? nn::Activation::identity : c.activation, component_seed(c.seed, 30 + l));
    }
    decoder_rho_eta = VectorXd::Constant(n_y, c.decoder_variance_rho);
  }
  encoder_rho = VectorXd::Constant(D, c.encoder_variance_rho);
  gp = GpPosterior(c.gp, component_seed(c.seed, 4));
  macro_drift = nn::StencilMlp(1, c.stencil_radius, n_eta, c.macro_hidden, 1, c.activation, component_seed(c.seed, 5));
  diffusion_rho = VectorXd::Constant(D, c.diffusion_rho);
  decoder_rho_zeta = VectorXd::Constant(n_y, c.decoder_variance_rho);

  // The layout of the flat vector.
  Index off = 0;
  auto add = [&](const std::string& name, Index size) {
    segments_.push_back({name, off, size});
    off += size;
  };
  add("filter/log_std", 1);
  for (std::size_t l = 0; l < encoder_convs.size(); ++l)
    add("encoder/conv" + std::to_string(l), encoder_convs[l].num_params());
  if (n_eta > 0) add("encoder/linear", encoder_linear.num_params());
  add("encoder/variance", D);
  add("posterior/gp", gp.num_params());
  add("drift/macro", macro_drift.num_params());
  if (n_eta > 0) add("drift/micro", micro_drift.num_params());
  add("diffusion", D);
  if (n_eta > 0) add("decoder/linear", decoder_linear.num_params());
  for (std::size_t l = 0; l < decoder_convs.size(); ++l)
    add("decoder/conv" + std::to_string(l), decoder_convs[l].num_params());
  add("decoder/variance_zeta", n_y);
  if (n_eta > 0) add("decoder/variance_eta", n_y);
}

int MsdeModel::cnn_length() const {
  Index len = n_y;
  for (std::size_t l = 0; l < encoder_convs.size(); ++l) len /= config.cnn_stride;
  return static_cast<int>(len);
}

std::vector<MsdeModel::Segment> MsdeModel::segments() const {
  return segments_;
}

const MsdeModel::Segment& MsdeModel::segment(const std::string& name) const {
  for (const auto& s : segments_)
    if (s.name == name) return s;
  throw std::out_of_range("vi::MsdeModel: no parameter segment '" + name + "'");
}

Index MsdeModel::num_params() const {
  return segments_.empty() ? 0 : segments_.back().offset + segments_.back().size;
}

// f(double* data, size) for every segment in order, except the GP (two pieces, handled by the caller).
template <class F>
void MsdeModel::visit(F&& f) {
  f(filter.params().data(), 1);
  for (auto& conv : encoder_convs) f(conv.params().data(), conv.num_params());
  if (n_eta > 0) f(encoder_linear.params().data(), encoder_linear.num_params());
  f(encoder_rho.data(), encoder_rho.size());
  f(&gp.log_lengthscale(), 1);
  f(gp.warp().params().data(), gp.warp().num_params());
  f(macro_drift.params().data(), macro_drift.num_params());
  if (n_eta > 0) f(micro_drift.params().data(), micro_drift.num_params());
  f(diffusion_rho.data(), diffusion_rho.size());
  if (n_eta > 0) f(decoder_linear.params().data(), decoder_linear.num_params());
  for (auto& conv : decoder_convs) f(conv.params().data(), conv.num_params());
  f(decoder_rho_zeta.data(), decoder_rho_zeta.size());
  if (n_eta > 0) f(decoder_rho_eta.data(), decoder_rho_eta.size());
}

void MsdeModel::get_params(Eigen::Ref<VectorXd> theta) const {
  if (theta.size() != num_params())
    throw std::invalid_argument("vi::MsdeModel::get_params: " + std::to_string(theta.size()) + " entries, not " +
                                std::to_string(num_params()));
  Index off = 0;
  const_cast<MsdeModel*>(this)->visit([&](double* p, Index n) {  // visit only reads here
    theta.segment(off, n) = Eigen::Map<const VectorXd>(p, n);
    off += n;
  });
}

void MsdeModel::set_params(const Eigen::Ref<const VectorXd>& theta) {
  if (theta.size() != num_params())
    throw std::invalid_argument("vi::MsdeModel::set_params: " + std::to_string(theta.size()) + " entries, not " +
                                std::to_string(num_params()));
  Index off = 0;
  visit([&](double* p, Index n) {
    Eigen::Map<VectorXd>(p, n) = theta.segment(off, n);
    off += n;
  });
}

VectorXd MsdeModel::diffusion() const {
  return diffusion_rho.unaryExpr([](double x) { return softplus(x); });
}

}  // namespace msrom::vi
