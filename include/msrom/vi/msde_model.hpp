#pragma once
// The stochastic multiscale model of Ilersich & Nair (2025), 1-D field cases (method doc section 2;
// docs/vi.md): a latent SDE on a coarse mesh, with an amortized encoder and a product-of-experts decoder.
//
// Latent state z = [zeta; eta]: zeta = the field on n_zeta coarse cells, eta = n_eta global auxiliary
// (unresolved-scale) variables; D = n_zeta + n_eta. Fine field y in R^{n_y}, s = n_y / n_zeta.
//
//   dz = f_theta(z) dt + diag(g) dbeta,   g = softplus(rho_g)                  (the prior SDE)
//   f_zeta(z)_j = NN_macro(zeta_{j-r..j+r}, eta)   stencil-shared MLP, r = 2, periodic (nn::StencilMlp)
//   f_eta(z)    = NN_micro(zeta, eta)              MLP [n_zeta + n_eta] -> n_eta
//
// Encoder (amortized, applied to every snapshot of a window):
//   mean of zeta = G_s y                            learnable Gaussian filter, stride s (nn::GaussianFilter)
//   mean of eta  = Linear(CNN(y - G_1 y))           strided circular convolutions + LeakyReLU, then linear
//   variances    = softplus(rho_enc)                learned constants, one per latent component
//
// Decoder, product of experts:
//   D_zeta(zeta) = s G_s^T zeta                     the encoder's kernel, transposed (s: a constant is kept)
//   D_eta(eta)   = ConvT(...ConvT(LeakyReLU(Linear(eta))))
//   p(y | z) = N( D_zeta + (s2 / s2_eta) D_eta, s2 ),   s2 = (1/s2_zeta + 1/s2_eta)^{-1},
//   s2_zeta = softplus(rho_dec_zeta), s2_eta = softplus(rho_dec_eta), per fine point.
// (The product of the experts N(D_zeta, s2_zeta) and N(D_zeta + D_eta, s2_eta): the micro expert corrects
// the macro reconstruction.) With n_eta = 0 there is no eta encoder, micro drift or micro decoder and
// p(y | z) = N(D_zeta, s2_zeta).
//
// The variational posterior's GP interpolant (vi::GpPosterior) belongs to the model too: its parameters are
// trained with the rest.
//
// All parameters form ONE flat vector (get_params/set_params, segments()), in the order of segments(), for
// nn::Adam and the gradient reduction; each component keeps its own storage (nn::Mlp and the conv layers
// own their vectors), so a step is get -> Adam -> set. Components are initialised from Philox streams keyed
// by (seed * 64 + component): the same weights on every rank, without a broadcast.
#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "msrom/nn/conv.hpp"
#include "msrom/nn/filter.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/nn/stencil_mlp.hpp"
#include "msrom/vi/gp_posterior.hpp"

namespace msrom::vi {

struct MsdeConfig {
  int n_y = 0;     // fine points
  int n_zeta = 0;  // coarse cells (must divide n_y)
  int n_eta = 0;   // auxiliary variables (0: the "implicit-scale" model)
  int stencil_radius = 2;
  std::vector<int> macro_hidden{128, 128};
  std::vector<int> micro_hidden{128, 512, 128};
  nn::Activation activation = nn::Activation::leaky_relu;  // drifts and CNNs
  int cnn_kernel = 25;
  std::vector<int> cnn_channels{4, 16, 64};
  int cnn_stride = 2;                  // every conv; stride^layers must divide n_y
  double filter_std = 0;               // initial std in fine points; 0: n_y / n_zeta
  double encoder_variance_rho = -4.0;  // encoder variance softplus(rho) at the start
  double decoder_variance_rho = -4.0;  // decoder variances at the start
  double diffusion_rho = -2.0;         // g = softplus(rho) at the start
  GpConfig gp;
  std::uint64_t seed = 1;
};

// softplus(x) = log(1 + e^x), its derivative sigmoid(x) (both overflow-safe).
double softplus(double x);
double sigmoid(double x);

struct MsdeModel {
  // InputError for inconsistent sizes.
  explicit MsdeModel(const MsdeConfig& config);

  MsdeConfig config;
  int n_y = 0, n_zeta = 0, n_eta = 0, stride = 1;  // stride = n_y / n_zeta
  int latent_dim() const { return n_zeta + n_eta; }
  int cnn_length() const;  // fine points after the CNN's strides (n_y / stride^layers)

  nn::GaussianFilter filter;
  std::vector<nn::Conv1d> encoder_convs;  // empty when n_eta = 0
  nn::Mlp encoder_linear;                 // [C_last cnn_length] -> n_eta, identity
  Eigen::VectorXd encoder_rho;            // D
  GpPosterior gp;
  nn::StencilMlp macro_drift;     // (2r+1) + n_eta -> 1 per cell
  nn::Mlp micro_drift;            // D -> n_eta (n_eta > 0)
  Eigen::VectorXd diffusion_rho;  // D
  nn::Mlp decoder_linear;         // n_eta -> C_last cnn_length (n_eta > 0)
  std::vector<nn::ConvTranspose1d> decoder_convs;
  Eigen::VectorXd decoder_rho_zeta;  // n_y
  Eigen::VectorXd decoder_rho_eta;   // n_y (n_eta > 0)

  // ---- the flat parameter vector
  struct Segment {
    std::string name;
    Eigen::Index offset = 0, size = 0;
  };
  // Names and places of every component, in order (e.g. "filter/log_std", "encoder/conv0", "posterior/gp").
  std::vector<Segment> segments() const;
  const Segment& segment(const std::string& name) const;  // std::out_of_range if unknown
  Eigen::Index num_params() const;
  void get_params(Eigen::Ref<Eigen::VectorXd> theta) const;
  void set_params(const Eigen::Ref<const Eigen::VectorXd>& theta);

  // g (D): the diffusion's diagonal.
  Eigen::VectorXd diffusion() const;

 private:
  std::vector<Segment> segments_;
  template <class F>
  void visit(F&& f);
};

}  // namespace msrom::vi
