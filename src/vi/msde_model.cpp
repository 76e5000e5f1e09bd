// The multiscale model's components and its flat parameter vector (include/msrom/vi/msde_model.hpp).
#include "msrom/vi/msde_model.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
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

// The local model's CNN strides: the prime factors of s, largest first, each given to the layer with the
// smallest product so far (s = 50, 3 layers: 5, 5, 2; s = 16: 4, 2, 2). Layers left over get stride 1.
std::vector<int> spread_strides(int s, std::size_t layers) {
  std::vector<int> primes;
  for (int p = 2; s > 1; ++p)
    while (s % p == 0) {
      primes.push_back(p);
      s /= p;
    }
  std::vector<int> out(layers, 1);
  for (auto it = primes.rbegin(); it != primes.rend(); ++it) {
    std::size_t k = 0;
    for (std::size_t l = 1; l < layers; ++l)
      if (out[l] < out[k]) k = l;
    out[k] *= *it;
  }
  return out;
}
}  // namespace

MsdeModel::MsdeModel(const MsdeConfig& c)
    : config(c), n_y(c.n_y), n_zeta(c.n_zeta), n_eta(c.n_eta), fields(c.fields), local(c.local_eta) {
  if (fields < 1 || n_y < 1 || n_zeta < 1 || n_eta < 0 || c.fine_ny < 1 || n_y % fields != 0 || n_zeta % fields != 0)
    throw InputError(where(c) + ": n_y and n_zeta must be positive multiples of the " + std::to_string(fields) +
                     " field components");
  const int points = n_y / fields, ncells = n_zeta / fields;  // of one component
  if (points % ncells != 0 || points % c.fine_ny != 0)
    throw InputError(where(c) + ": n_zeta must divide n_y, and both be positive");
  fine = c.fine_ny > 1 ? nn::Grid{2, points / c.fine_ny, c.fine_ny} : nn::Grid{1, points, 1};
  if (fine.dims == 1) {
    stride = points / ncells;
  } else {
    stride = static_cast<int>(std::lround(std::sqrt(double(points / ncells))));
    if (Index{stride} * stride * ncells != points || fine.nx % stride != 0 || fine.ny % stride != 0)
      throw InputError(where(c) + ": the " + std::to_string(fine.nx) + " x " + std::to_string(fine.ny) +
                       " grid has no stride s with (nx / s) (ny / s) = n_zeta");
  }
  coarse = fine.coarsened(stride);
  const int D = latent_dim();
  filter = nn::GridFilter(fine, c.filter_std > 0 ? c.filter_std : double(stride));
  if (n_eta > 0) {
    if (c.cnn_channels.empty() || c.cnn_stride < 1) throw InputError(where(c) + ": the eta CNN needs channels");
    cnn_strides = local ? spread_strides(stride, c.cnn_channels.size()) : std::vector<int>(c.cnn_channels.size(), c.cnn_stride);
    std::vector<nn::Grid> grids{fine};  // the input grid of every encoder layer, then the CNN's output grid
    for (std::size_t l = 0; l < c.cnn_channels.size(); ++l) {
      const nn::Grid& g = grids.back();
      if (g.nx % cnn_strides[l] != 0 || g.ny % (g.dims == 2 ? cnn_strides[l] : 1) != 0)
        throw InputError(where(c) + ": cnn stride " + std::to_string(c.cnn_stride) + " to the power " +
                         std::to_string(c.cnn_channels.size()) + " must divide n_y" +
                         (g.dims == 2 ? " (both axes of the grid)" : ""));
      const int cin = l == 0 ? fields : c.cnn_channels[l - 1];
      encoder_convs.emplace_back(g, cin, c.cnn_channels[l], c.cnn_kernel, cnn_strides[l], c.activation,
                                 component_seed(c.seed, 10 + static_cast<int>(l)));
      grids.push_back(encoder_convs.back().output_grid());
    }
    const int last = c.cnn_channels.back();
    const int flat = last * static_cast<int>(grids.back().size());
    if (local) {
      encoder_cell = nn::GridConv(coarse, last, n_eta, 1, 1, nn::Activation::identity, component_seed(c.seed, 1));
      micro_local = nn::GridStencilMlp(coarse, fields + n_eta, c.stencil_radius, c.drift_time ? 1 : 0, c.micro_hidden, n_eta, c.activation,
                                       component_seed(c.seed, 2), c.stencil_boundary);
      decoder_cell = nn::GridConvTranspose(coarse, n_eta, last, 1, 1, c.activation, component_seed(c.seed, 3));
    } else {
      encoder_linear = nn::Mlp({flat, n_eta}, nn::Activation::identity, component_seed(c.seed, 1));
      std::vector<int> micro{D + (c.drift_time ? 1 : 0)};
      micro.insert(micro.end(), c.micro_hidden.begin(), c.micro_hidden.end());
      micro.push_back(n_eta);
      micro_drift = nn::Mlp(micro, c.activation, component_seed(c.seed, 2));
      decoder_linear = nn::Mlp({n_eta, flat}, nn::Activation::identity, component_seed(c.seed, 3));
    }
    // Mirror of the encoder: C_last -> ... -> C_0 -> C channels; LeakyReLU between, identity at the end.
    for (int l = static_cast<int>(c.cnn_channels.size()) - 1; l >= 0; --l) {
      const int cout = l == 0 ? fields : c.cnn_channels[l - 1];
      decoder_convs.emplace_back(grids[static_cast<std::size_t>(l) + 1], c.cnn_channels[l], cout, c.cnn_kernel,
                                 cnn_strides[l], l == 0 ? nn::Activation::identity : c.activation,
                                 component_seed(c.seed, 30 + l));
    }
    decoder_rho_eta = VectorXd::Constant(n_y, c.decoder_variance_rho);
  }
  const int nrho = local ? fields + n_eta : D;  // per latent component, or per channel (local)
  encoder_rho = VectorXd::Constant(nrho, c.encoder_variance_rho);
  gp = GpPosterior(c.gp, component_seed(c.seed, 4));
  macro_drift = local ? nn::GridStencilMlp(coarse, fields + n_eta, c.stencil_radius, 0, c.macro_hidden, fields,
                                           c.activation, component_seed(c.seed, 5), c.stencil_boundary)
                      : nn::GridStencilMlp(coarse, fields, c.stencil_radius, n_eta, c.macro_hidden, fields,
                                           c.activation, component_seed(c.seed, 5), c.stencil_boundary);
  diffusion_rho = VectorXd::Constant(nrho, c.diffusion_rho);
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
  if (n_eta > 0 && local) add("encoder/cell", encoder_cell.num_params());
  if (n_eta > 0 && !local) add("encoder/linear", encoder_linear.num_params());
  add("encoder/variance", nrho);
  add("posterior/gp", gp.num_params());
  add("drift/macro", macro_drift.num_params());
  if (n_eta > 0) add("drift/micro", local ? micro_local.num_params() : micro_drift.num_params());
  add("diffusion", nrho);
  if (n_eta > 0 && local) add("decoder/cell", decoder_cell.num_params());
  if (n_eta > 0 && !local) add("decoder/linear", decoder_linear.num_params());
  for (std::size_t l = 0; l < decoder_convs.size(); ++l)
    add("decoder/conv" + std::to_string(l), decoder_convs[l].num_params());
  add("decoder/variance_zeta", n_y);
  if (n_eta > 0) add("decoder/variance_eta", n_y);
}

int MsdeModel::cnn_length() const {
  return encoder_convs.empty() ? static_cast<int>(fine.size())
                               : static_cast<int>(encoder_convs.back().output_grid().size());
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
  if (n_eta > 0 && local) f(encoder_cell.params().data(), encoder_cell.num_params());
  if (n_eta > 0 && !local) f(encoder_linear.params().data(), encoder_linear.num_params());
  f(encoder_rho.data(), encoder_rho.size());
  f(&gp.log_lengthscale(), 1);
  f(gp.warp().params().data(), gp.warp().num_params());
  f(macro_drift.params().data(), macro_drift.num_params());
  if (n_eta > 0 && local) f(micro_local.params().data(), micro_local.num_params());
  if (n_eta > 0 && !local) f(micro_drift.params().data(), micro_drift.num_params());
  f(diffusion_rho.data(), diffusion_rho.size());
  if (n_eta > 0 && local) f(decoder_cell.params().data(), decoder_cell.num_params());
  if (n_eta > 0 && !local) f(decoder_linear.params().data(), decoder_linear.num_params());
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

VectorXd MsdeModel::per_component(const VectorXd& v) const {
  if (!local) return v;
  VectorXd out(latent_dim());
  const int n = cells();
  for (int c = 0; c < fields + n_eta; ++c) out.segment(Index{c} * n, n).setConstant(v[c]);
  return out;
}

VectorXd MsdeModel::per_channel_sum(const VectorXd& g) const {
  if (!local) return g;
  VectorXd out(fields + n_eta);
  const int n = cells();
  for (int c = 0; c < fields + n_eta; ++c) out[c] = g.segment(Index{c} * n, n).sum();
  return out;
}

void MsdeModel::filter_fields(const Eigen::Ref<const MatrixXd>& Y, int s, Eigen::Ref<MatrixXd> out) const {
  const Index np = fine.size(), nc = np / (fine.dims == 1 ? s : Index{s} * s);
  for (int c = 0; c < fields; ++c) filter.apply(Y.middleRows(c * np, np), s, out.middleRows(c * nc, nc));
}

void MsdeModel::decode_zeta(const Eigen::Ref<const MatrixXd>& zeta, Eigen::Ref<MatrixXd> Y) const {
  const Index np = fine.size(), nc = cells();
  for (int c = 0; c < fields; ++c)
    filter.apply_transpose(zeta.middleRows(c * nc, nc), stride, Y.middleRows(c * np, np));
  Y *= decode_scale();
}

double MsdeModel::filter_log_std_gradient(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& dZ,
                                          int s) const {
  const Index np = fine.size(), nc = np / (fine.dims == 1 ? s : Index{s} * s);
  double g = 0;
  for (int c = 0; c < fields; ++c) g += filter.log_std_gradient(X.middleRows(c * np, np), dZ.middleRows(c * nc, nc), s);
  return g;
}

void MsdeModel::to_channel_fastest(const Eigen::Ref<const MatrixXd>& slow, int C, Index n, MatrixXd& fast) {
  fast.resize(Index{C} * n, slow.cols());
  for (Index b = 0; b < slow.cols(); ++b)
    Eigen::Map<MatrixXd>(fast.col(b).data(), C, n) = Eigen::Map<const MatrixXd>(slow.col(b).data(), n, C).transpose();
}

void MsdeModel::to_channel_slowest(const Eigen::Ref<const MatrixXd>& fast, int C, Index n, Eigen::Ref<MatrixXd> slow) {
  for (Index b = 0; b < fast.cols(); ++b)
    Eigen::Map<MatrixXd>(slow.col(b).data(), n, C) = Eigen::Map<const MatrixXd>(fast.col(b).data(), C, n).transpose();
}

VectorXd MsdeModel::diffusion() const {
  return per_component(diffusion_rho).unaryExpr([](double x) { return softplus(x); });
}

void MsdeModel::drift_forward(const Eigen::Ref<const MatrixXd>& Z, Eigen::Ref<MatrixXd> F, DriftTape& t,
                              const Eigen::Ref<const VectorXd>& time) const {
  const int nz = n_zeta, er = eta_rows(), C = fields, n = cells();
  const Index B = Z.cols();
  if (config.drift_time && time.size() != B)
    throw std::invalid_argument("vi::MsdeModel::drift_forward: a drift of time needs the " + std::to_string(B) +
                                " columns' times, got " + std::to_string(time.size()));
  if (!local) {
    if (C == 1) {
      F.topRows(nz) = macro_drift.forward(Z.topRows(nz), Z.bottomRows(er), t.macro);
    } else {
      to_channel_fastest(Z.topRows(nz), C, n, t.x);
      to_channel_slowest(macro_drift.forward(t.x, Z.bottomRows(er), t.macro), C, n, F.topRows(nz));
    }
    if (n_eta > 0 && config.drift_time) {
      t.xt.resize(Z.rows() + 1, B);
      t.xt.row(0) = time.transpose();
      t.xt.bottomRows(Z.rows()) = Z;
      F.bottomRows(er) = micro_drift.forward(t.xt, t.micro);
    } else if (n_eta > 0) {
      F.bottomRows(er) = micro_drift.forward(Z, t.micro);
    }
    return;
  }
  to_channel_fastest(Z, C + n_eta, n, t.x);
  const MatrixXd none(0, B);
  to_channel_slowest(macro_drift.forward(t.x, none, t.macro), C, n, F.topRows(nz));
  if (n_eta > 0 && config.drift_time) {  // the time: the micro stencil MLP's one global input
    t.xt = time.transpose();
    to_channel_slowest(micro_local.forward(t.x, t.xt, t.micro_local), n_eta, n, F.bottomRows(er));
  } else if (n_eta > 0) {
    to_channel_slowest(micro_local.forward(t.x, none, t.micro_local), n_eta, n, F.bottomRows(er));
  }
}

void MsdeModel::drift_backward(DriftTape& t, const Eigen::Ref<const MatrixXd>& gF, Eigen::Ref<VectorXd> grad,
                               Eigen::Ref<MatrixXd> gZ, nn::Workspace& ws) const {
  const int nz = n_zeta, er = eta_rows(), C = fields, n = cells();
  const auto& sm = segment("drift/macro");
  if (!local) {
    if (C == 1) {
      macro_drift.backward(t.macro, gF.topRows(nz), grad.segment(sm.offset, sm.size), &t.gzeta,
                           n_eta > 0 ? &t.geta : nullptr, ws);
      gZ.topRows(nz) += t.gzeta;
    } else {
      to_channel_fastest(gF.topRows(nz), C, n, t.gfm);
      macro_drift.backward(t.macro, t.gfm, grad.segment(sm.offset, sm.size), &t.gx, n_eta > 0 ? &t.geta : nullptr,
                           ws);
      t.gzeta.resize(nz, gF.cols());
      to_channel_slowest(t.gx, C, n, t.gzeta);
      gZ.topRows(nz) += t.gzeta;
    }
    if (n_eta > 0) {
      gZ.bottomRows(er) += t.geta;
      const auto& su = segment("drift/micro");
      micro_drift.backward(t.micro, gF.bottomRows(er), grad.segment(su.offset, su.size), &t.gmicro, ws);
      gZ += t.gmicro.bottomRows(gZ.rows());  // drift_time: row 0 is the time's (not a parameter)
    }
    return;
  }
  if (C == 1) {
    macro_drift.backward(t.macro, gF.topRows(nz), grad.segment(sm.offset, sm.size), &t.gx, nullptr, ws);
  } else {
    to_channel_fastest(gF.topRows(nz), C, n, t.gfm);
    macro_drift.backward(t.macro, t.gfm, grad.segment(sm.offset, sm.size), &t.gx, nullptr, ws);
  }
  if (n_eta > 0) {
    const auto& su = segment("drift/micro");
    to_channel_fastest(gF.bottomRows(er), n_eta, n, t.gfm);
    micro_local.backward(t.micro_local, t.gfm, grad.segment(su.offset, su.size), &t.gx2, nullptr, ws);
    t.gx += t.gx2;
  }
  t.gz.resize(gZ.rows(), gZ.cols());
  to_channel_slowest(t.gx, C + n_eta, n, t.gz);
  gZ += t.gz;
}

void MsdeModel::eta_readout_forward(const Eigen::Ref<const MatrixXd>& H, Eigen::Ref<MatrixXd> out, EtaTape& t) const {
  if (!local) {
    out = encoder_linear.forward(H, t.linear);
    return;
  }
  to_channel_slowest(encoder_cell.forward(H, t.cell), n_eta, cells(), out);
}

void MsdeModel::eta_readout_backward(EtaTape& t, const Eigen::Ref<const MatrixXd>& gOut, Eigen::Ref<VectorXd> grad,
                                     MatrixXd& gH, nn::Workspace& ws) const {
  if (!local) {
    const auto& sg = segment("encoder/linear");
    encoder_linear.backward(t.linear, gOut, grad.segment(sg.offset, sg.size), &gH, ws);
    return;
  }
  const auto& sg = segment("encoder/cell");
  to_channel_fastest(gOut, n_eta, cells(), t.buf);
  encoder_cell.backward(t.cell, t.buf, grad.segment(sg.offset, sg.size), &gH, ws);
}

void MsdeModel::eta_decoder_forward(const Eigen::Ref<const MatrixXd>& eta, EtaTape& t) const {
  if (!local) {
    t.h = decoder_linear.forward(eta, t.linear);
    t.dphi.resize(t.h.rows(), t.h.cols());
    nn::activate(config.activation, t.h, t.dphi);
    return;
  }
  to_channel_fastest(eta, n_eta, cells(), t.buf);
  t.h = decoder_cell.forward(t.buf, t.cell);
}

void MsdeModel::eta_decoder_backward(EtaTape& t, MatrixXd& gH, Eigen::Ref<VectorXd> grad, Eigen::Ref<MatrixXd> gEta,
                                     nn::Workspace& ws) const {
  if (!local) {
    gH.array() *= t.dphi.array();
    const auto& sg = segment("decoder/linear");
    decoder_linear.backward(t.linear, gH, grad.segment(sg.offset, sg.size), &t.buf, ws);
    gEta = t.buf;
    return;
  }
  const auto& sg = segment("decoder/cell");
  decoder_cell.backward(t.cell, gH, grad.segment(sg.offset, sg.size), &t.buf, ws);
  to_channel_slowest(t.buf, n_eta, cells(), gEta);
}

}  // namespace msrom::vi
