#pragma once
// The stochastic multiscale model of Ilersich & Nair (2025) (method doc section 2; docs/vi.md): a latent SDE
// on a coarse mesh, with an amortized encoder and a product-of-experts decoder. Written below for a 1-D
// field; a 2-D field (fine_ny > 1; the Burgers 2-D case) is the same model on an nx x ny grid with the 2-D
// layers behind nn/grid_layers.hpp: the filter, every conv and the stencil MLPs act on both axes with the
// same stride s on each (n_zeta = (nx / s) (ny / s)), the stencil is the (2r+1) x (2r+1) neighbourhood, and
// the macro decoder's factor s becomes s^2 (decode_scale()).
//
// Latent state z = [zeta; eta]: zeta = the field on n_zeta coarse cells, eta = n_eta global auxiliary
// (unresolved-scale) variables; D = n_zeta + n_eta. Fine field y in R^{n_y}, s = n_y / n_zeta.
//
//   dz = f_theta(z) dt + diag(g) dbeta,   g = softplus(rho_g)                  (the prior SDE)
//   f_zeta(z)_j = NN_macro(zeta_{j-r..j+r}, eta)   stencil-shared MLP, r = 2, periodic (nn::StencilMlp;
//                                                  or zeros / edge copies beyond the edges: stencil_boundary)
//   f_eta(z)    = NN_micro(zeta, eta)              MLP [n_zeta + n_eta] -> n_eta
//   (drift_time: f_eta(t, z) = NN_micro(t, zeta, eta), the time first, as the authors' public code does; the
//   prior SDE is then non-autonomous, and t is the data's own time. A local field's micro stencil MLP reads t
//   as its one global input.)
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
// LOCAL auxiliary field (local_eta = true; beyond the paper, method doc section 2 "Beyond the paper"): eta is
// n_eta channels on every coarse cell, D = n_zeta (1 + n_eta), and every map stays local and translation
// invariant, so a member can later be split over ranks with halo exchange only:
//   z = [zeta; eta_1; ...; eta_{n_eta}]             channel-SLOWEST: each channel a field on the n_zeta cells
//                                                   (a new stage appends channels: the old entries keep place)
//   f_zeta(z)_j = NN_macro(x_{j-r..j+r})            x_j = [zeta_j, eta_1j, ..., eta_{n_eta}j] (all channels)
//   f_eta(z)_j  = NN_micro(x_{j-r..j+r})            a second stencil MLP, n_eta outputs per cell
//   mean of eta = Conv_1x1(CNN(y - G_1 y))          the CNN's strides multiply to s = n_y / n_zeta (the
//                                                   prime factors of s spread over the layers), so its output
//                                                   sits on the coarse cells; a kernel-1 conv maps C_last
//                                                   channels to n_eta
//   D_eta(eta)  = ConvT(...ConvT(ConvT_1x1(eta)))   the mirror: kernel-1 transposed conv to C_last channels
//                                                   (LeakyReLU), then the strided transposed convs
// The encoder variances and the diffusion are one per channel (1 + n_eta numbers), so every parameter but the
// decoder's per-pixel variances is independent of the mesh size. A local schedule is local from stage 0.
//
// SEVERAL COMPONENTS (fields = C > 1; the cylinder wake's u and v, the paper's 2 x 32 x 8 coarse grid): zeta
// has C channels on the coarse cells, zeta = [G_s y_1; ...; G_s y_C] (one learnable filter for all), the CNN
// encoder takes the C components as input channels and the decoder's last transposed conv gives C, the macro
// drift's stencil MLP reads the C channels of the (2r+1)^dims neighbourhood (plus eta) and gives C per cell,
// and the decoder variances are per point and component (n_y of them). In the counts above, read n_y as C
// times the grid's points and n_zeta as C times its cells; a local model has C + n_eta channels per cell.
// With C = 1 the model is the one-component model, bit for bit.
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

#include "msrom/nn/grid_layers.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/vi/gp_posterior.hpp"

namespace msrom::vi {

struct MsdeConfig {
  int n_y = 0;     // fine points
  int n_zeta = 0;  // coarse cells (must divide n_y; 2-D: (nx / s) (ny / s) for one stride s on both axes)
  int fine_ny = 1; // 1: a 1-D field on n_y / fields points; > 1: a 2-D field on (n_y / fields / fine_ny) x
                   // fine_ny, x fastest
  int fields = 1;  // C components of the field (e.g. u and v): y = [y_1; ...; y_C] and zeta = [zeta_1; ...;
                   // zeta_C], component-slowest, so n_y and n_zeta count every component (C times the grid's
                   // points and cells)
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
  bool local_eta = false;  // eta: n_eta global variables (the paper), or n_eta channels per coarse cell
  // What the drifts' stencils read beyond the coarse grid's edges: the wrapped-around cells (periodic, the
  // paper's), zeros, or copies of the edge cell (replicate); the last two for fields with walls or outflow.
  // The filter and the CNNs stay circular.
  nn::StencilBoundary stencil_boundary = nn::StencilBoundary::periodic;
  // The micro drift also reads the time t: global eta, its input is [t; zeta; eta]; local eta, t is the micro
  // stencil MLP's one global input (after the stencil). The authors' code (ailersic/multiscale-visde, every
  // case's DriftMicroNet) does the former; the paper's text does not say so. The macro drift never reads t.
  bool drift_time = false;
};

// What a training pass of the drift, or of the eta readout / eta decoder input, keeps for its backward pass.
struct DriftTape {
  nn::GridStencilTape macro, micro_local;
  nn::Tape micro;
  Eigen::MatrixXd x, gx, gx2, gfm, gz, gzeta, geta, gmicro;  // (local: x, gx, gx2, gfm channel-fastest)
  Eigen::MatrixXd xt;  // drift_time: [t; z], the global micro drift's input, or t (1 x B), the local one's global
};
struct EtaTape {
  nn::Tape linear;
  nn::GridConvTape cell;
  Eigen::MatrixXd dphi, buf, h;
};

// softplus(x) = log(1 + e^x), its derivative sigmoid(x) (both overflow-safe).
double softplus(double x);
double sigmoid(double x);

struct MsdeModel {
  // InputError for inconsistent sizes.
  explicit MsdeModel(const MsdeConfig& config);

  MsdeConfig config;
  int n_y = 0, n_zeta = 0, n_eta = 0, stride = 1;  // stride: n_y / n_zeta (1-D), along each axis (2-D)
  int fields = 1;                                  // C (config.fields)
  nn::Grid fine, coarse;                           // ONE component's grid and the coarse cells' (dims 1 or 2)
  int dims() const { return fine.dims; }
  int cells() const { return static_cast<int>(coarse.size()); }  // n_zeta / C
  // The macro decoder's factor s^dims: D_zeta = s^dims G_s^T zeta keeps a constant.
  double decode_scale() const { return filter.transpose_scale(stride); }
  int latent_dim() const { return local ? cells() * (fields + n_eta) : n_zeta + n_eta; }
  int eta_rows() const { return latent_dim() - n_zeta; }  // the eta block of z
  int cnn_length() const;  // grid points after the CNN's strides (n_y / their product^dims)
  bool local = false;      // config.local_eta
  std::vector<int> cnn_strides;  // per CNN layer: cnn_stride each (global); product n_y / n_zeta (local)

  nn::GridFilter filter;
  std::vector<nn::GridConv> encoder_convs;  // empty when n_eta = 0
  nn::Mlp encoder_linear;                 // [C_last cnn_length] -> n_eta, identity
  Eigen::VectorXd encoder_rho;            // D (local: C + n_eta, one per channel)
  GpPosterior gp;
  nn::GridStencilMlp macro_drift;  // C (2r+1)^dims + n_eta -> C per cell (local: (C + n_eta) (2r+1)^dims -> C)
  nn::Mlp micro_drift;            // D -> n_eta (n_eta > 0)
  Eigen::VectorXd diffusion_rho;  // D (local: C + n_eta, one per channel)
  nn::Mlp decoder_linear;         // n_eta -> C_last cnn_length (n_eta > 0)
  // local eta (n_eta > 0): these replace encoder_linear, decoder_linear and micro_drift
  nn::GridConv encoder_cell;           // C_last -> n_eta per cell, kernel 1, identity
  nn::GridConvTranspose decoder_cell;  // n_eta -> C_last per cell, kernel 1, activation
  nn::GridStencilMlp micro_local;      // (C + n_eta) channels on the stencil -> n_eta per cell
  std::vector<nn::GridConvTranspose> decoder_convs;
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
  // The per-channel vectors of the local model (encoder_rho, diffusion_rho) on every latent component, and
  // the adjoint (a per-component gradient summed per channel); the identity for the global model.
  Eigen::VectorXd per_component(const Eigen::VectorXd& v) const;
  Eigen::VectorXd per_channel_sum(const Eigen::VectorXd& g) const;

  // ---- the field's components. The data and the latent state keep them component-SLOWEST (y = [y_1; ...;
  // y_C]); the layers take them channel-FASTEST (nn/grid_layers.hpp). With C = 1 both are the same column.
  // zeta (n_zeta x B) = G_s y per component (the macro encoder); out = G_1 y per component (the smoothing of
  // the eta encoder's residual); y (n_y x B) = s^dims G_s^T zeta per component (the macro decoder).
  void filter_fields(const Eigen::Ref<const Eigen::MatrixXd>& Y, int stride, Eigen::Ref<Eigen::MatrixXd> out) const;
  void decode_zeta(const Eigen::Ref<const Eigen::MatrixXd>& zeta, Eigen::Ref<Eigen::MatrixXd> Y) const;
  // d/dlog(std) of <dZ, G_s X> summed over the components (X: n_y rows, dZ: the filtered rows).
  double filter_log_std_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X,
                                 const Eigen::Ref<const Eigen::MatrixXd>& dZ, int stride) const;
  // A batch of C-channel fields on n points: component-slowest columns to channel-fastest ones, and back.
  static void to_channel_fastest(const Eigen::Ref<const Eigen::MatrixXd>& slow, int C, Eigen::Index n,
                                 Eigen::MatrixXd& fast);
  static void to_channel_slowest(const Eigen::Ref<const Eigen::MatrixXd>& fast, int C, Eigen::Index n,
                                 Eigen::Ref<Eigen::MatrixXd> slow);

  // ---- the parts that differ between global and local eta; training passes with tapes, used by the ELBO
  // and by the rollouts (one place for each map).
  // F = f_theta(time, Z), D x B; `time` holds the B columns' times (read only when config.drift_time, which
  // needs them: std::invalid_argument otherwise).
  void drift_forward(const Eigen::Ref<const Eigen::MatrixXd>& Z, Eigen::Ref<Eigen::MatrixXd> F, DriftTape& t,
                     const Eigen::Ref<const Eigen::VectorXd>& time = Eigen::VectorXd()) const;
  // grad (the flat layout) += the drift segments' gradient; gZ += (dF/dZ)^T gF.
  void drift_backward(DriftTape& t, const Eigen::Ref<const Eigen::MatrixXd>& gF, Eigen::Ref<Eigen::VectorXd> grad,
                      Eigen::Ref<Eigen::MatrixXd> gZ, nn::Workspace& ws) const;
  // The eta block of the encoder mean from the CNN features H ((C_last cnn_length) x B): out is the eta
  // block of z (n_eta x B global, n_eta n_zeta x B local).
  void eta_readout_forward(const Eigen::Ref<const Eigen::MatrixXd>& H, Eigen::Ref<Eigen::MatrixXd> out,
                           EtaTape& t) const;
  void eta_readout_backward(EtaTape& t, const Eigen::Ref<const Eigen::MatrixXd>& gOut,
                            Eigen::Ref<Eigen::VectorXd> grad, Eigen::MatrixXd& gH, nn::Workspace& ws) const;
  // The micro decoder's first layer: the eta block of z -> the input of decoder_convs (t.h).
  void eta_decoder_forward(const Eigen::Ref<const Eigen::MatrixXd>& eta, EtaTape& t) const;
  // gH: the cotangent of t.h (overwritten as scratch); gEta (the eta block of z's cotangent) overwritten.
  void eta_decoder_backward(EtaTape& t, Eigen::MatrixXd& gH, Eigen::Ref<Eigen::VectorXd> grad,
                            Eigen::Ref<Eigen::MatrixXd> gEta, nn::Workspace& ws) const;

 private:
  std::vector<Segment> segments_;
  template <class F>
  void visit(F&& f);
};

}  // namespace msrom::vi
