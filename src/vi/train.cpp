// Data-parallel training of the multiscale model (include/msrom/vi/train.hpp).
#include "msrom/vi/train.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/random.hpp"
#include "msrom/vi/elbo.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
constexpr std::uint64_t kWindowMember = (std::uint64_t{1} << 40) + 33;
constexpr std::uint64_t kOffsetMember = (std::uint64_t{1} << 40) + 34;  // WindowSampling::snapshots' offsets
}

Trajectories read_trajectories(const std::string& path, int split, const std::string& option) {
  const auto f = h5::File::open(path, option);
  const std::string who = option + ": '" + path + "': ";
  Trajectories data;
  data.components.clear();
  for (const auto& name : f.children("/fields"))
    if (name.size() < 6 || name.compare(name.size() - 6, 6, "_clean") != 0) data.components.push_back(name);
  if (data.components.empty() || !f.exists("/time"))
    throw InputError(who + "not a field data set (no /fields/<component> or no /time)");
  const std::string first = "/fields/" + data.components[0];
  const auto shape = f.shape(first);
  if (shape.size() != 3 && shape.size() != 4)
    throw InputError(who + first + " is not a field [members, nt, nx] or [members, nt, nx, ny]");
  for (const auto& name : data.components)
    if (f.shape("/fields/" + name) != shape) throw InputError(who + "/fields/" + name + " does not match " + first);
  const auto members = static_cast<long>(shape[0]);
  const auto nt = static_cast<Index>(shape[1]);
  const auto nx = static_cast<Index>(shape[2]) * (shape.size() == 4 ? static_cast<Index>(shape[3]) : 1);
  const auto C = static_cast<Index>(data.components.size());
  if (f.shape("/time") != h5::Shape{shape[1]}) throw InputError(who + "/time does not match " + first);
  const auto t = f.read("/time");
  // The split: by member (/split labels), or by time (the attributes system_train_end, system_validation_end
  // of a data set of one long trajectory, e.g. the cylinder wake).
  Index t_begin = 0, t_end = nt;
  std::vector<double> labels(static_cast<std::size_t>(members), 0.0);
  data.split_by_time = f.has_attribute("/", "system_train_end") && f.has_attribute("/", "system_validation_end");
  if (split >= 0 && data.split_by_time) {
    const double a = f.read_double_attribute("/", "system_train_end"),
                 b = f.read_double_attribute("/", "system_validation_end");
    const double tol = 1e-9 * std::max({1.0, std::abs(t.front()), std::abs(t.back())});
    const double lo = split == 0 ? -INFINITY : split == 1 ? a : b, hi = split == 0 ? a : split == 1 ? b : INFINITY;
    while (t_begin < nt && t[static_cast<std::size_t>(t_begin)] < lo - tol) ++t_begin;
    t_end = t_begin;
    while (t_end < nt && t[static_cast<std::size_t>(t_end)] <= hi + tol) ++t_end;
    if (t_end - t_begin < 2)
      throw InputError(who + "the time split (train t <= " + std::to_string(a) + ", validation to " +
                       std::to_string(b) + ") leaves split " + std::to_string(split) + " fewer than 2 snapshots");
  } else if (split >= 0) {
    if (!f.exists("/split")) throw InputError(who + "no /split labels");
    labels = f.read("/split");
    if (static_cast<long>(labels.size()) != members) throw InputError(who + "/split does not match " + first);
  }
  if (shape.size() == 4) data.fine_ny = static_cast<int>(shape[2]);
  if (f.has_attribute(first, "noise")) data.noise = f.read_double_attribute(first, "noise");
  const Index n = t_end - t_begin;
  data.time = Eigen::Map<const VectorXd>(t.data() + t_begin, n);
  for (long m = 0; m < members; ++m) {
    if (split >= 0 && !data.split_by_time && labels[static_cast<std::size_t>(m)] != split) continue;
    // [nt, nx] row-major = nx x nt column-major: snapshots as columns; the components stacked.
    h5::Shape start(shape.size(), 0), count = shape;
    start[0] = static_cast<hsize_t>(m);
    start[1] = static_cast<hsize_t>(t_begin);
    count[0] = 1;
    count[1] = static_cast<hsize_t>(n);
    MatrixXd u(C * nx, n);
    for (Index c = 0; c < C; ++c) {
      const auto part = f.read_slab("/fields/" + data.components[static_cast<std::size_t>(c)], start, count);
      u.middleRows(c * nx, nx) = Eigen::Map<const MatrixXd>(part.data(), nx, n);
    }
    data.u.push_back(std::move(u));
  }
  if (data.u.empty()) throw InputError(who + "has no trajectories of split " + std::to_string(split));
  return data;
}

double kl_beta(int it, int warmup, int anneal) {
  if (anneal <= 0) return it >= warmup ? 1.0 : 0.0;
  return std::clamp(double(it - warmup) / anneal, 0.0, 1.0);
}

std::pair<int, Index> draw_window(const Trajectories& data, int window, std::uint64_t seed, std::uint64_t it,
                                  std::uint64_t slot, WindowSampling sampling) {
  const bool by_snapshot = sampling == WindowSampling::snapshots;
  // What is counted per trajectory: its window starts, or (by snapshot) its snapshots if it holds a window.
  auto count = [&](const MatrixXd& u) -> Index {
    if (u.cols() < window) return 0;
    return by_snapshot ? u.cols() : u.cols() - window + 1;
  };
  Index total = 0;
  for (const auto& u : data.u) total += count(u);
  const double U = Philox(seed, kWindowMember, Purpose::training).uniform(it, slot);
  Index n = std::min<Index>(static_cast<Index>(U * double(total)), total - 1);
  for (std::size_t k = 0; k < data.u.size(); ++k) {
    const Index here = count(data.u[k]);
    if (n >= here) {
      n -= here;
      continue;
    }
    if (!by_snapshot) return {static_cast<int>(k), n};
    const double V = Philox(seed, kOffsetMember, Purpose::training).uniform(it, slot);
    const Index j = std::min<Index>(static_cast<Index>(V * window), window - 1);
    return {static_cast<int>(k), std::clamp<Index>(n - j, 0, data.u[k].cols() - window)};
  }
  throw std::logic_error("vi::draw_window: no window");
}

TrainResult train(MsdeModel& model, const Trajectories& data, const TrainOptions& o, MPI_Comm comm) {
  const int B = o.window, W = o.windows_per_step;
  if (B < 2 || W < 1 || o.iterations < 0)
    throw InputError("vi::train: window " + std::to_string(B) + " (>= 2), windows per step " + std::to_string(W) +
                     " (>= 1), iterations " + std::to_string(o.iterations) + " (>= 0)");
  if (data.u.empty()) throw InputError("vi::train: no trajectories");
  bool any = false;
  for (const auto& u : data.u) {
    if (u.rows() != model.n_y || u.cols() != data.time.size())
      throw InputError("vi::train: a trajectory is " + std::to_string(u.rows()) + " x " + std::to_string(u.cols()) +
                       ", the model has n_y = " + std::to_string(model.n_y) + " and the time axis " +
                       std::to_string(data.time.size()) + " points");
    any = any || u.cols() >= B;
  }
  if (!any) throw InputError("vi::train: every trajectory is shorter than a window of " + std::to_string(B));

  const Index P = model.num_params();
  nn::AdamOptions ao;
  ao.lr = o.lr;
  ao.schedule = o.schedule;
  nn::Adam own_adam(P, ao);
  nn::Adam& adam = o.adam ? *o.adam : own_adam;
  if (adam.m().size() != P) throw InputError("vi::train: the optimiser's state does not match the model");
  nn::ReproducibleSum rs(P + 4, comm);
  const Range mine = block_range(W, size(comm), rank(comm));
  Elbo elbo;
  elbo.set_shooting(o.shooting);
  VectorXd theta(P), total(P + 4);
  MatrixXd eps(model.latent_dim(), B);
  model.get_params(theta);
  const double per = 1.0 / (double(W) * B);

  TrainResult result;
  result.steps.reserve(static_cast<std::size_t>(std::max(0, o.iterations - o.start)));
  result.next = std::max(o.start, o.iterations);
  for (int it = o.start; it < o.iterations; ++it) {
    const double beta = kl_beta(it, o.kl_warmup, o.kl_anneal);
    rs.clear();
    for (Index w = mine.begin; w < mine.end; ++w) {
      const auto [k, s] = draw_window(data, B, o.seed, static_cast<std::uint64_t>(it), static_cast<std::uint64_t>(w), o.sampling);
      draw_eps(o.seed, static_cast<std::uint64_t>(it) * W + static_cast<std::uint64_t>(w), eps);
      auto part = rs.add(w);
      const ElboTerms terms =
          elbo.evaluate(model, data.u[k].middleCols(s, B), data.time.segment(s, B), eps, beta, part.head(P), -per);
      part[P] = -per * terms.elbo;
      part[P + 1] = per * terms.log_likelihood;
      part[P + 2] = per * terms.drift_residual;
      part[P + 3] = per * terms.shooting;
    }
    rs.reduce(total);
    TrainOptions::Report rep;
    rep.loss = total[P];
    rep.log_likelihood = total[P + 1];
    rep.drift_residual = total[P + 2];
    rep.shooting = total[P + 3];
    rep.beta = beta;
    rep.lr = adam.learning_rate();
    adam.step(theta, total.head(P));
    model.set_params(theta);
    result.steps.push_back(rep);
    if (o.on_step) o.on_step(it, rep);
    if (o.stop_after && it + 1 < o.iterations && o.stop_after(it)) {
      result.next = it + 1;
      break;
    }
  }
  return result;
}

double validation_loss(const MsdeModel& model, const Trajectories& data, int window, int max_windows,
                       std::uint64_t seed, MPI_Comm comm) {
  std::vector<std::pair<int, Index>> wins;
  for (std::size_t k = 0; k < data.u.size(); ++k)
    for (Index s = 0; s + window <= data.u[k].cols(); s += window)
      if (static_cast<int>(wins.size()) < max_windows) wins.emplace_back(static_cast<int>(k), s);
  if (wins.empty()) throw InputError("vi::validation_loss: no trajectory holds a window of " + std::to_string(window));
  nn::ReproducibleSum rs(1, comm);
  const Range mine = block_range(static_cast<std::int64_t>(wins.size()), size(comm), rank(comm));
  Elbo elbo;
  MatrixXd eps(model.latent_dim(), window);
  rs.clear();
  for (Index w = mine.begin; w < mine.end; ++w) {
    const auto [k, s] = wins[static_cast<std::size_t>(w)];
    draw_eps(seed, (std::uint64_t{1} << 32) + static_cast<std::uint64_t>(w), eps);
    const ElboTerms t = elbo.evaluate(model, data.u[k].middleCols(s, window), data.time.segment(s, window), eps, 1.0);
    rs.add(w)[0] = -t.elbo;
  }
  VectorXd total(1);
  rs.reduce(total);
  return total[0] / (double(wins.size()) * window);
}

}  // namespace msrom::vi
