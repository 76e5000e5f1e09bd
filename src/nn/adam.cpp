#include "msrom/nn/adam.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

// ------------------------------------------------------------------------------------------- Schedule
double Schedule::lr(double base, std::int64_t t) const {
  switch (kind) {
    case Kind::constant:
      return base;
    case Kind::step_decay:
      return base * std::pow(factor, static_cast<double>(t / every));
    case Kind::cosine: {
      const double x = static_cast<double>(std::min(t, total)) / static_cast<double>(total);
      return lr_min + 0.5 * (base - lr_min) * (1.0 + std::cos(3.14159265358979323846 * x));
    }
  }
  return base;
}

// ----------------------------------------------------------------------------------------------- Adam
Adam::Adam(Index n, AdamOptions options) : options_(options), m_(VectorXd::Zero(n)), v_(VectorXd::Zero(n)) {
  const auto& o = options_;
  if (!(o.lr > 0) || !std::isfinite(o.lr)) throw InputError("Adam: learning rate must be positive");
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
    throw InputError("Adam: beta1 and beta2 must be in [0, 1)");
  if (!(o.eps >= 0)) throw InputError("Adam: eps must be >= 0");
  const auto& s = o.schedule;
  if (s.kind == Schedule::Kind::step_decay && (s.every < 1 || !(s.factor > 0)))
    throw InputError("Adam: step decay needs a positive factor and a period >= 1 step");
  if (s.kind == Schedule::Kind::cosine && (s.total < 1 || !(s.lr_min >= 0)))
    throw InputError("Adam: cosine schedule needs a length >= 1 step and lr_min >= 0");
}

void Adam::step(Eigen::Ref<VectorXd> params, const Eigen::Ref<const VectorXd>& grad) {
  if (params.size() != m_.size() || grad.size() != m_.size())
    throw std::invalid_argument("Adam::step: " + std::to_string(params.size()) + " parameters and " +
                                std::to_string(grad.size()) + " gradients for an optimiser of " +
                                std::to_string(m_.size()));
  const double lr = learning_rate();
  ++t_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(t_));
  const double sqrt_bc2 = std::sqrt(1.0 - std::pow(b2, static_cast<double>(t_)));
  m_.array() = b1 * m_.array() + (1.0 - b1) * grad.array();
  v_.array() = b2 * v_.array() + (1.0 - b2) * grad.array().square();
  params.array() -= (lr / bc1) * m_.array() / (v_.array().sqrt() / sqrt_bc2 + options_.eps);
}

void Adam::set_state(const VectorXd& m, const VectorXd& v, std::int64_t t) {
  if (m.size() != m_.size() || v.size() != v_.size() || t < 0)
    throw InputError("Adam: checkpoint state does not match the optimiser (" + std::to_string(m.size()) + " moments, " +
                     std::to_string(m_.size()) + " parameters)");
  m_ = m;
  v_ = v;
  t_ = t;
}

void Adam::reset() {
  m_.setZero();
  v_.setZero();
  t_ = 0;
}

// ---------------------------------------------------------------------------------------- reductions
void allreduce_sum(Eigen::Ref<VectorXd> v, MPI_Comm comm) {
  if (v.size() > std::numeric_limits<int>::max()) throw std::invalid_argument("allreduce_sum: vector too long");
  MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, MPI_SUM, comm);
}

ReproducibleSum::ReproducibleSum(Index length, MPI_Comm comm)
    : length_(length), comm_(comm), nranks_(size(comm)), counts_(static_cast<std::size_t>(nranks_)),
      displs_(static_cast<std::size_t>(nranks_)) {}

Eigen::Map<VectorXd> ReproducibleSum::add(std::int64_t block) {
  if (block < 0 || block > (std::int64_t{1} << 53)) throw std::invalid_argument("ReproducibleSum: bad block id");
  ids_.push_back(block);
  const std::size_t rec = static_cast<std::size_t>(length_) + 1;
  local_.resize(ids_.size() * rec);
  double* r = local_.data() + (ids_.size() - 1) * rec;
  r[0] = static_cast<double>(block);  // exact below 2^53
  Eigen::Map<VectorXd> slot(r + 1, length_);
  slot.setZero();
  return slot;
}

void ReproducibleSum::reduce(Eigen::Ref<VectorXd> total) {
  if (total.size() != length_) throw std::invalid_argument("ReproducibleSum::reduce: wrong length");
  const std::int64_t rec = length_ + 1;
  const double* records = local_.data();
  std::int64_t nrec = static_cast<std::int64_t>(ids_.size());
  if (nranks_ > 1) {
    const int mine = static_cast<int>(ids_.size());
    MPI_Allgather(&mine, 1, MPI_INT, counts_.data(), 1, MPI_INT, comm_);
    std::int64_t offset = 0;
    for (int r = 0; r < nranks_; ++r) {
      const std::int64_t c = counts_[r] * rec;
      if (offset + c > std::numeric_limits<int>::max())
        throw RuntimeError("ReproducibleSum: more than 2^31 values to gather; use larger blocks");
      displs_[r] = static_cast<int>(offset);
      counts_[r] = static_cast<int>(c);
      offset += c;
    }
    gathered_.resize(static_cast<std::size_t>(offset));
    MPI_Allgatherv(local_.data(), static_cast<int>(mine * rec), MPI_DOUBLE, gathered_.data(), counts_.data(),
                   displs_.data(), MPI_DOUBLE, comm_);
    records = gathered_.data();
    nrec = offset / rec;
  }
  order_.clear();
  for (std::int64_t k = 0; k < nrec; ++k) order_.emplace_back(static_cast<std::int64_t>(records[k * rec]), k);
  std::sort(order_.begin(), order_.end());
  total.setZero();
  for (std::size_t k = 0; k < order_.size(); ++k) {
    if (k > 0 && order_[k].first == order_[k - 1].first)
      throw RuntimeError("ReproducibleSum: block " + std::to_string(order_[k].first) + " contributed twice");
    total += Eigen::Map<const VectorXd>(records + order_[k].second * rec + 1, length_);
  }
}

// -------------------------------------------------------------------------------------------- fitting
double weighted_mse(const Mlp& net, const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& Y,
                    const Eigen::Ref<const VectorXd>& w) {
  if (Y.rows() != net.output_dim() || Y.cols() != X.cols() || w.size() != X.cols())
    throw std::invalid_argument("weighted_mse: X, Y and w disagree with each other or with the network");
  const MatrixXd r = net.forward(X) - Y;
  return w.dot(r.colwise().squaredNorm().transpose()) / w.sum();
}

FitResult fit_weighted_mse(Mlp& net, const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& Y,
                           const Eigen::Ref<const VectorXd>& w, const FitOptions& options, MPI_Comm comm) {
  const Index n = X.cols(), in = net.input_dim(), out = net.output_dim(), P = net.num_params();
  if (X.rows() != in || Y.rows() != out || Y.cols() != n || w.size() != n)
    throw std::invalid_argument("fit_weighted_mse: X is " + std::to_string(X.rows()) + " x " + std::to_string(n) +
                                ", Y " + std::to_string(Y.rows()) + " x " + std::to_string(Y.cols()) + ", w " +
                                std::to_string(w.size()) + " for a network " + std::to_string(in) + " -> " +
                                std::to_string(out));
  if (options.epochs < 0) throw InputError("fit: epochs must be >= 0");
  if (options.batch < 1) throw InputError("fit: batch size must be >= 1");
  if (options.block < 0) throw InputError("fit: reduction block must be >= 0 (0 = automatic)");
  if (n == 0) throw InputError("fit: no samples");
  if (!(w.array() >= 0).all() || !w.allFinite()) throw InputError("fit: weights must be finite and >= 0");
  const double wsum = w.sum();
  if (!(wsum > 0)) throw InputError("fit: all weights are zero");

  const std::int64_t G = options.block > 0 ? options.block : std::max<std::int64_t>(16, (n + 7) / 8);
  const std::int64_t nblocks = (n + G - 1) / G;
  const Range mine = block_range(nblocks, size(comm), rank(comm));
  const std::int64_t batch = std::min<std::int64_t>(options.batch, n);
  const std::int64_t steps_per_epoch = (n + batch - 1) / batch;

  AdamOptions ao;
  ao.lr = options.lr;
  ao.schedule = options.schedule;
  if (ao.schedule.kind == Schedule::Kind::cosine && ao.schedule.total == 0)
    ao.schedule.total = std::max<std::int64_t>(1, options.epochs * steps_per_epoch);
  Adam adam(P, ao);

  ReproducibleSum rs(P + 1, comm);  // [gradient, sum of w_i e_i]
  VectorXd total(P + 1);
  Tape tape;
  Workspace ws;
  VectorXd xbuf(in * batch), dybuf(out * batch);
  std::vector<std::int64_t> perm(static_cast<std::size_t>(n)), members;
  members.reserve(static_cast<std::size_t>(batch));
  std::vector<double> u(static_cast<std::size_t>(n));
  const Philox shuffle(options.seed, std::uint64_t{1} << 40, Purpose::training);

  FitResult result;
  result.epoch_loss.reserve(static_cast<std::size_t>(options.epochs));
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    // Fisher-Yates from the identity, so an epoch's order depends on (seed, epoch) only.
    std::iota(perm.begin(), perm.end(), std::int64_t{0});
    shuffle.uniforms(static_cast<std::uint64_t>(epoch), u.data(), u.size());
    for (std::int64_t i = n - 1; i > 0; --i) {
      const auto j = std::min<std::int64_t>(i, static_cast<std::int64_t>(u[i] * static_cast<double>(i + 1)));
      std::swap(perm[i], perm[j]);
    }
    double epoch_sum = 0;
    for (std::int64_t s = 0; s < steps_per_epoch; ++s) {
      const std::int64_t b0 = s * batch, b1 = std::min(n, b0 + batch);
      members.assign(perm.begin() + b0, perm.begin() + b1);
      std::sort(members.begin(), members.end());
      const double scale = 2.0 * static_cast<double>(n) / (static_cast<double>(b1 - b0) * wsum);
      rs.clear();
      for (std::size_t g0 = 0; g0 < members.size();) {
        const std::int64_t block = members[g0] / G;
        std::size_t g1 = g0;
        while (g1 < members.size() && members[g1] / G == block) ++g1;
        if (block >= mine.begin && block < mine.end) {
          const Index m = static_cast<Index>(g1 - g0);
          Eigen::Map<MatrixXd> Xb(xbuf.data(), in, m), dY(dybuf.data(), out, m);
          for (Index c = 0; c < m; ++c) Xb.col(c) = X.col(members[g0 + c]);
          const auto F = net.forward(Xb, tape);
          double loss = 0;
          for (Index c = 0; c < m; ++c) {
            const Index i = members[g0 + c];
            dY.col(c) = F.col(c) - Y.col(i);
            loss += w[i] * dY.col(c).squaredNorm();
            dY.col(c) *= scale * w[i];
          }
          auto partial = rs.add(block);
          net.backward(tape, dY, partial.head(P), nullptr, ws);
          partial[P] = loss;
        }
        g0 = g1;
      }
      rs.reduce(total);
      adam.step(net.params(), total.head(P));
      epoch_sum += total[P];
    }
    result.epoch_loss.push_back(epoch_sum / wsum);
    if (options.on_epoch) options.on_epoch(epoch, result.epoch_loss.back());
  }
  result.steps = adam.t();
  result.final_loss = weighted_mse(net, X, Y, w);
  return result;
}

}  // namespace msrom::nn
