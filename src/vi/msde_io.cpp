// Model files, normalisation and stage initialisation of the multiscale model (include/msrom/vi/msde_io.hpp).
#include "msrom/vi/msde_io.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "msrom/core/errors.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

Normalisation fit_normalisation(const Trajectories& data) {
  double n = 0, s = 0;
  for (const auto& u : data.u) {
    s += u.sum();
    n += double(u.size());
  }
  Normalisation norm;
  if (n == 0) return norm;
  norm.mean = s / n;
  double q = 0;
  for (const auto& u : data.u) q += (u.array() - norm.mean).square().sum();
  const double sd = std::sqrt(q / n);
  norm.scale = sd > 0 && std::isfinite(sd) ? sd : 1.0;
  return norm;
}

void normalise(Trajectories& data, const Normalisation& n) {
  for (auto& u : data.u) u = (u.array() - n.mean) / n.scale;
}

namespace {
std::string group_of(int n_eta) {
  return "/msde/eta_" + std::to_string(n_eta);
}
std::vector<double> to_doubles(const std::vector<int>& v) {
  return {v.begin(), v.end()};
}
// Scalar config fields, in this order, as double attributes.
struct Field {
  const char* name;
  double MsdeConfig::*real;
  int MsdeConfig::*integer;
};
const Field kFields[] = {
    {"n_y", nullptr, &MsdeConfig::n_y},
    {"n_zeta", nullptr, &MsdeConfig::n_zeta},
    {"n_eta", nullptr, &MsdeConfig::n_eta},
    {"stencil_radius", nullptr, &MsdeConfig::stencil_radius},
    {"cnn_kernel", nullptr, &MsdeConfig::cnn_kernel},
    {"cnn_stride", nullptr, &MsdeConfig::cnn_stride},
    {"filter_std", &MsdeConfig::filter_std, nullptr},
    {"encoder_variance_rho", &MsdeConfig::encoder_variance_rho, nullptr},
    {"decoder_variance_rho", &MsdeConfig::decoder_variance_rho, nullptr},
    {"diffusion_rho", &MsdeConfig::diffusion_rho, nullptr},
};
}  // namespace

void save_msde(h5::OutputFile& out, const MsdeModel& model, const Normalisation& norm, const StageHistory* history) {
  const std::string g = group_of(model.n_eta);
  VectorXd theta(model.num_params());
  model.get_params(theta);
  out.write(g + "/params", {static_cast<hsize_t>(theta.size())}, theta.data());
  const auto& c = model.config;
  out.write(g + "/macro_hidden", to_doubles(c.macro_hidden));
  out.write(g + "/micro_hidden", to_doubles(c.micro_hidden));
  out.write(g + "/cnn_channels", to_doubles(c.cnn_channels));
  out.write(g + "/gp_warp_hidden", to_doubles(c.gp.warp_hidden));
  if (history) {
    out.write(g + "/history/loss", history->loss);
    out.write(g + "/history/log_likelihood", history->log_likelihood);
    out.write(g + "/history/drift_residual", history->drift_residual);
    out.write(g + "/history/beta", history->beta);
    out.write(g + "/history/lr", history->lr);
  }
  for (const auto& f : kFields) out.attribute(g, f.name, f.real ? c.*(f.real) : double(c.*(f.integer)));
  out.attribute(g, "gp_lengthscale", c.gp.lengthscale);
  out.attribute(g, "gp_nugget", c.gp.nugget);
  out.attribute(g, "seed", static_cast<std::int64_t>(c.seed));
  out.attribute(g, "activation", nn::to_string(c.activation));
  out.attribute(g, "gp_warp_activation", nn::to_string(c.gp.warp_activation));
  out.attribute(g, "eta_field", std::string(c.local_eta ? "local" : "global"));
  out.attribute(g, "stencil_boundary", nn::to_string(c.stencil_boundary));
  out.attribute(g, "fine_ny", double(c.fine_ny));
  out.attribute(g, "fields", double(c.fields));
  out.attribute(g, "drift_time", double(c.drift_time ? 1 : 0));
  out.attribute(g, "norm_mean", norm.mean);
  out.attribute(g, "norm_scale", norm.scale);
  std::vector<std::string> names;
  for (const auto& s : model.segments()) names.push_back(s.name);
  out.attribute(g, "segments", names);
}

void save_msde_index(h5::OutputFile& out, const std::vector<int>& stages) {
  out.write("/msde/stages", to_doubles(stages));
  out.attribute("/msde", "final", static_cast<double>(stages.empty() ? -1 : stages.back()));
}

std::vector<int> msde_stages(const h5::File& f, const std::string& option) {
  const std::string who = option + ": '" + f.path() + "': ";
  if (!f.exists("/msde")) throw InputError(who + "not a multiscale model (no /msde)");
  if (!f.exists("/msde/stages")) throw InputError(who + "no /msde/stages");
  std::vector<int> out;
  for (double v : f.read("/msde/stages")) {
    if (!(v >= 0 && v < 1e4) || v != std::floor(v)) throw InputError(who + "/msde/stages holds " + std::to_string(v));
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) throw InputError(who + "/msde/stages is empty");
  return out;
}

LoadedMsde load_msde(const std::string& path, int n_eta, const std::string& option) {
  const auto f = h5::File::open(path, option);
  return load_msde(f, n_eta, option);
}

LoadedMsde load_msde(const h5::File& f, int n_eta, const std::string& option) {
  const std::string who = option + ": '" + f.path() + "': ";
  const auto stages = msde_stages(f, option);
  if (n_eta < 0) n_eta = stages.back();
  if (std::find(stages.begin(), stages.end(), n_eta) == stages.end())
    throw InputError(who + "no stage n_eta = " + std::to_string(n_eta) + " in /msde/stages");
  const std::string g = group_of(n_eta);
  if (!f.exists(g + "/params")) throw InputError(who + "no " + g + "/params");
  auto ints = [&](const std::string& name) {
    const std::string obj = g + "/" + name;
    if (!f.exists(obj)) throw InputError(who + "no " + obj);
    std::vector<int> v;
    for (double x : f.read(obj)) {
      if (!(x >= 1 && x <= 1e6) || x != std::floor(x)) throw InputError(who + obj + " holds " + std::to_string(x));
      v.push_back(static_cast<int>(x));
    }
    return v;
  };
  auto number = [&](const char* name) {
    if (!f.has_attribute(g, name)) throw InputError(who + "no attribute " + name + " on " + g);
    const double v = f.read_double_attribute(g, name);
    if (!std::isfinite(v)) throw InputError(who + "attribute " + name + " of " + g + " is not finite");
    return v;
  };
  MsdeConfig c;
  for (const auto& fd : kFields) {
    const double v = number(fd.name);
    if (fd.real) {
      c.*(fd.real) = v;
    } else {
      if (v != std::floor(v) || std::abs(v) > 1e8)
        throw InputError(who + "attribute " + fd.name + " of " + g + " is not an integer");
      c.*(fd.integer) = static_cast<int>(v);
    }
  }
  if (c.n_eta != n_eta) throw InputError(who + g + " holds a model with n_eta = " + std::to_string(c.n_eta));
  c.macro_hidden = ints("macro_hidden");
  c.micro_hidden = ints("micro_hidden");
  c.cnn_channels = ints("cnn_channels");
  c.gp.warp_hidden = ints("gp_warp_hidden");
  c.gp.lengthscale = number("gp_lengthscale");
  c.gp.nugget = number("gp_nugget");
  c.seed = static_cast<std::uint64_t>(number("seed"));
  for (const char* a : {"activation", "gp_warp_activation", "segments"})
    if (!f.has_attribute(g, a)) throw InputError(who + "no attribute " + a + " on " + g);
  c.activation = nn::activation_from_string(f.read_string_attribute(g, "activation"));
  c.gp.warp_activation = nn::activation_from_string(f.read_string_attribute(g, "gp_warp_activation"));
  if (f.has_attribute(g, "eta_field")) {  // files before the local field hold global models
    const std::string e = f.read_string_attribute(g, "eta_field");
    if (e != "global" && e != "local") throw InputError(who + "attribute eta_field of " + g + " is '" + e + "'");
    c.local_eta = e == "local";
  }
  if (f.has_attribute(g, "stencil_boundary")) {  // files before the option hold periodic stencils
    const std::string e = f.read_string_attribute(g, "stencil_boundary");
    try {
      c.stencil_boundary = nn::stencil_boundary_from_string(e);
    } catch (const InputError&) {
      throw InputError(who + "attribute stencil_boundary of " + g + " is '" + e + "'");
    }
  }
  if (f.has_attribute(g, "fine_ny")) {  // files before the 2-D model hold 1-D models
    const double v = number("fine_ny");
    if (!(v >= 1 && v <= 1e6) || v != std::floor(v)) throw InputError(who + "attribute fine_ny of " + g + " is " + std::to_string(v));
    c.fine_ny = static_cast<int>(v);
  }
  if (f.has_attribute(g, "fields")) {  // files before the multi-component model hold one component
    const double v = number("fields");
    if (!(v >= 1 && v <= 64) || v != std::floor(v)) throw InputError(who + "attribute fields of " + g + " is " + std::to_string(v));
    c.fields = static_cast<int>(v);
  }
  if (f.has_attribute(g, "drift_time")) {  // files before the option hold autonomous drifts
    const double v = number("drift_time");
    if (v != 0 && v != 1) throw InputError(who + "attribute drift_time of " + g + " is " + std::to_string(v));
    c.drift_time = v == 1;
  }
  if (c.n_y < 1 || c.n_y > 100000000 || c.n_zeta < 1 || c.n_eta < 0 || c.stencil_radius < 0 || c.cnn_kernel < 1 ||
      c.cnn_kernel % 2 == 0 || c.cnn_stride < 1 || !(c.gp.lengthscale > 0) || !(c.gp.nugget > 0))
    throw InputError(who + g + ": invalid model sizes");
  LoadedMsde out{MsdeModel(c), {}};
  std::vector<std::string> names;
  for (const auto& s : out.model.segments()) names.push_back(s.name);
  if (f.read_strings_attribute(g, "segments") != names)
    throw InputError(who + g + ": the segments attribute does not match the model it describes");
  const auto theta = f.read(g + "/params");
  if (static_cast<Index>(theta.size()) != out.model.num_params())
    throw InputError(who + g + "/params has " + std::to_string(theta.size()) + " entries, the model needs " +
                     std::to_string(out.model.num_params()));
  for (double v : theta)
    if (!std::isfinite(v)) throw InputError(who + g + "/params holds non-finite values");
  out.model.set_params(Eigen::Map<const VectorXd>(theta.data(), static_cast<Index>(theta.size())));
  out.norm.mean = number("norm_mean");
  out.norm.scale = number("norm_scale");
  if (!(out.norm.scale > 0)) throw InputError(who + "attribute norm_scale of " + g + " must be > 0");
  return out;
}

bool is_msde_file(const std::string& path) {
  try {
    const auto f = h5::File::open(path, "-model");
    return f.exists("/msde");
  } catch (...) {
    return false;
  }
}

namespace {
// Copies a previous stage's MLP into the next stage's where the weights have counterparts. First layer's
// input columns: C = 0, the previous columns are a prefix of the next; C > 0, the input is blocks of
// channels (one per stencil point), and block q's c_prev old channels move from q c_prev to q c_next. Last
// layer's output rows: the first out_prev keep their places. Hidden layers are copied whole. `globals`: with
// C > 0, the last inputs of the first layer that follow the stencil (the time of a drift of time).
void copy_mlp(nn::Mlp& next, const nn::Mlp& prev, int c_next, int c_prev, int out_prev, int globals = 0) {
  const int L = prev.num_layers();
  for (int l = 0; l < L; ++l) {
    const auto W = prev.weight(l);
    auto N = next.weight(l);
    const Index rows = l == L - 1 ? std::min<Index>(out_prev, W.rows()) : W.rows();
    if (l > 0) {
      N.topRows(rows) = W.topRows(rows);
    } else if (c_next == 0) {
      N.topLeftCorner(rows, W.cols()) = W.topRows(rows);
    } else {
      for (Index q = 0; q < (W.cols() - globals) / c_prev; ++q)
        N.block(0, q * c_next, rows, c_prev) = W.block(0, q * c_prev, rows, c_prev);
      N.topRightCorner(rows, globals) = W.topRightCorner(rows, globals);  // the inputs after the stencil (the time)
    }
    next.bias(l).head(rows) = prev.bias(l).head(rows);
  }
}

// The local model's eta parts (prev.n_eta = je > 0): old channels keep their places in every layer.
void init_local_from_previous_stage(MsdeModel& next, const MsdeModel& prev) {
  const int je = prev.n_eta;
  for (std::size_t l = 0; l < prev.encoder_convs.size(); ++l) next.encoder_convs[l].params() = prev.encoder_convs[l].params();
  for (std::size_t l = 0; l < prev.decoder_convs.size(); ++l) next.decoder_convs[l].params() = prev.decoder_convs[l].params();
  next.decoder_rho_eta = prev.decoder_rho_eta;
  // encoder_cell: W (n_eta x C_last), b (n_eta): the old output rows
  next.encoder_cell.weight().topRows(je) = prev.encoder_cell.weight();
  next.encoder_cell.bias().head(je) = prev.encoder_cell.bias();
  // decoder_cell: W (n_eta x C_last) (the adjoint's layout), b (C_last): the old input rows
  next.decoder_cell.weight().topRows(je) = prev.decoder_cell.weight();
  next.decoder_cell.bias() = prev.decoder_cell.bias();
  copy_mlp(next.micro_local.mlp(), prev.micro_local.mlp(), next.fields + next.n_eta, next.fields + je, je,
           prev.micro_local.globals());
}
}  // namespace

void init_from_previous_stage(MsdeModel& next, const MsdeModel& prev) {
  MsdeConfig a = next.config, b = prev.config;
  a.n_eta = b.n_eta = 0;
  a.seed = b.seed = 0;
  const bool same = a.n_y == b.n_y && a.n_zeta == b.n_zeta && a.fine_ny == b.fine_ny && a.fields == b.fields &&
                    a.stencil_radius == b.stencil_radius &&
                    a.macro_hidden == b.macro_hidden && a.micro_hidden == b.micro_hidden &&
                    a.activation == b.activation && a.cnn_kernel == b.cnn_kernel && a.cnn_channels == b.cnn_channels &&
                    a.cnn_stride == b.cnn_stride && a.gp.warp_hidden == b.gp.warp_hidden &&
                    a.local_eta == b.local_eta && a.drift_time == b.drift_time;
  if (!same || next.n_eta < prev.n_eta)
    throw InputError("vi::init_from_previous_stage: the stages differ in more than n_eta (or n_eta decreases)");
  const int je = prev.n_eta;
  next.filter.params() = prev.filter.params();
  next.gp.log_lengthscale() = const_cast<MsdeModel&>(prev).gp.log_lengthscale();
  next.gp.warp().params() = prev.gp.warp().params();
  next.decoder_rho_zeta = prev.decoder_rho_zeta;
  next.encoder_rho.head(prev.encoder_rho.size()) = prev.encoder_rho;  // per component, or per channel (local)
  next.diffusion_rho.head(prev.diffusion_rho.size()) = prev.diffusion_rho;
  // macro drift: global, input columns [stencil (2r+1) | eta_1..eta_je] keep their places; local, the
  // stencil's points are blocks of C channels, whose first C_prev columns are the old channels.
  const int C = next.fields;
  copy_mlp(next.macro_drift.mlp(), prev.macro_drift.mlp(), next.local ? C + next.n_eta : 0, next.local ? C + je : 0, C);
  if (je == 0) return;
  if (next.local) {
    init_local_from_previous_stage(next, prev);
    return;
  }
  for (std::size_t l = 0; l < prev.encoder_convs.size(); ++l) next.encoder_convs[l].params() = prev.encoder_convs[l].params();
  for (std::size_t l = 0; l < prev.decoder_convs.size(); ++l) next.decoder_convs[l].params() = prev.decoder_convs[l].params();
  next.decoder_rho_eta = prev.decoder_rho_eta;
  next.encoder_linear.weight(0).topRows(je) = prev.encoder_linear.weight(0);
  next.encoder_linear.bias(0).head(je) = prev.encoder_linear.bias(0);
  next.decoder_linear.weight(0).leftCols(je) = prev.decoder_linear.weight(0);
  next.decoder_linear.bias(0) = prev.decoder_linear.bias(0);
  copy_mlp(next.micro_drift, prev.micro_drift, 0, 0, je);  // (drift_time: t is input 0, it keeps its place)
}

}  // namespace msrom::vi
