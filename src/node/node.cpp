#include "msrom/node/node.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

namespace msrom::node {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

void DelaySeries::gather(Index t, double* out) const {
  const Index d = r->rows();
  for (int k = 0; k < m; ++k) {
    const double* src = r->data() + (t - k * tau) * d;
    for (Index j = 0; j < d; ++j) out[k * d + j] = src[j];
  }
}

MatrixXd delay_embed(const Eigen::Ref<const MatrixXd>& r, int m, Index tau) {
  if (m < 1) throw InputError("delay embedding: m must be >= 1 (got " + std::to_string(m) + ")");
  if (tau < 1) throw InputError("delay embedding: tau must be >= 1 sample (got " + std::to_string(tau) + ")");
  const Index d = r.rows(), n = r.cols(), span = Index{m - 1} * tau;
  if (n <= span)
    throw InputError("delay embedding: a series of " + std::to_string(n) + " samples is too short for m = " +
                     std::to_string(m) + ", tau = " + std::to_string(tau));
  MatrixXd u(m * d, n - span);
  for (Index j = 0; j < n - span; ++j)
    for (int k = 0; k < m; ++k) u.block(k * d, j, d, 1) = r.col(j + span - k * tau);
  return u;
}

Index embedding_lag(const std::vector<double>& rho, double threshold, double factor) {
  for (std::size_t k = 1; k < rho.size(); ++k)
    if (rho[k] < threshold)
      return std::max<Index>(1, static_cast<Index>(std::llround(factor * static_cast<double>(k))));
  throw InputError("delay embedding: the residual's ACF never drops below " + std::to_string(threshold) +
                   " within " + std::to_string(rho.size()) + " lags");
}

std::size_t first_zero(const std::vector<double>& rho) {
  for (std::size_t k = 1; k < rho.size(); ++k)
    if (rho[k] <= 0) return k;
  return rho.size();
}

// ------------------------------------------------------------------------------------------ NodeTrainer
NodeTrainer::NodeTrainer(double h, int steps, double decay) : h_(h), steps_(steps), gx_(4) {
  if (!(h > 0)) throw InputError("node: the step h must be > 0");
  if (steps < 1) throw InputError("node: windows need at least 1 step");
  if (!(decay > 0)) throw InputError("node: the weight decay must be > 0");
  for (int k = 1; k <= steps; ++k) w_.push_back(std::exp(-k / (decay * steps)));
  tapes_.resize(static_cast<std::size_t>(4) * steps);
}

void NodeTrainer::gather(const DelaySeries& data, const Index* starts, Index B, Index offset, MatrixXd& out) const {
  const Index n = data.dim();
  if (out.rows() != n || out.cols() != B) out.resize(n, B);
  for (Index b = 0; b < B; ++b) data.gather(starts[b] + offset, out.col(b).data());
}

double NodeTrainer::loss_and_gradient(const nn::Mlp& net, const DelaySeries& data, const Index* starts, Index B,
                                      double scale, Eigen::Ref<VectorXd> grad) {
  const Index n = data.dim();
  if (net.input_dim() != n || net.output_dim() != n)
    throw std::invalid_argument("node: the network's widths do not match the delay vectors (" + std::to_string(n) + ")");
  const int K = steps_;
  const double h = h_;
  // Stored errors per step (n x B each, side by side): err_ is n x (K B).
  if (err_.rows() != n || err_.cols() != K * B) err_.resize(n, K * B);
  if (u_.rows() != n || u_.cols() != B) {
    u_.resize(n, B);
    x_.resize(n, B);
    g_.resize(n, B);
    dy_.resize(n, B);
    acc_.resize(n, B);
  }
  gather(data, starts, B, 0, u_);
  double loss = 0;
  // ---- forward
  for (int k = 0; k < K; ++k) {
    nn::Tape* t = &tapes_[static_cast<std::size_t>(4) * k];
    const auto y1 = net.forward(u_, t[0]);
    x_ = u_ + (0.5 * h) * y1;
    const auto y2 = net.forward(x_, t[1]);
    x_ = u_ + (0.5 * h) * y2;
    const auto y3 = net.forward(x_, t[2]);
    x_ = u_ + h * y3;
    const auto y4 = net.forward(x_, t[3]);
    u_ += (h / 6.0) * (y1 + 2.0 * y2 + 2.0 * y3 + y4);
    gather(data, starts, B, k + 1, target_);
    auto e = err_.middleCols(Index{k} * B, B);
    e = u_ - target_;
    loss += w_[k] * e.squaredNorm();
  }
  // ---- backward
  g_.setZero();
  for (int k = K - 1; k >= 0; --k) {
    g_ += (2.0 * w_[k] * scale) * err_.middleCols(Index{k} * B, B);
    const nn::Tape* t = &tapes_[static_cast<std::size_t>(4) * k];
    dy_ = (h / 6.0) * g_;
    net.backward(t[3], dy_, grad, &gx_[3], ws_);
    dy_ = (h / 3.0) * g_ + h * gx_[3];
    net.backward(t[2], dy_, grad, &gx_[2], ws_);
    dy_ = (h / 3.0) * g_ + (0.5 * h) * gx_[2];
    net.backward(t[1], dy_, grad, &gx_[1], ws_);
    dy_ = (h / 6.0) * g_ + (0.5 * h) * gx_[1];
    net.backward(t[0], dy_, grad, &gx_[0], ws_);
    g_ += gx_[0] + gx_[1] + gx_[2] + gx_[3];
  }
  return loss * scale;
}

void rk4_step(const nn::Mlp& net, Eigen::Ref<MatrixXd> U, double h, MatrixXd s[5], nn::Workspace& ws) {
  const Index n = U.rows(), B = U.cols();
  for (int i = 0; i < 5; ++i)
    if (s[i].rows() != n || s[i].cols() != B) s[i].resize(n, B);
  MatrixXd& x = s[4];
  net.forward(U, s[0], ws);
  x = U + (0.5 * h) * s[0];
  net.forward(x, s[1], ws);
  x = U + (0.5 * h) * s[1];
  net.forward(x, s[2], ws);
  x = U + h * s[2];
  net.forward(x, s[3], ws);
  U += (h / 6.0) * (s[0] + 2.0 * s[1] + 2.0 * s[2] + s[3]);
}

void EnsembleStepper::assign(std::vector<int> node_of_column, int networks) {
  cols_.assign(static_cast<std::size_t>(networks), {});
  for (std::size_t c = 0; c < node_of_column.size(); ++c)
    cols_[static_cast<std::size_t>(node_of_column[c])].push_back(static_cast<Index>(c));
}

void EnsembleStepper::step(const std::vector<nn::Mlp>& nets, Eigen::Ref<MatrixXd> V, double h, int substeps) {
  for (std::size_t k = 0; k < cols_.size(); ++k) {
    const auto& cols = cols_[k];
    if (cols.empty()) continue;
    v_.resize(V.rows(), static_cast<Index>(cols.size()));
    for (std::size_t i = 0; i < cols.size(); ++i) v_.col(static_cast<Index>(i)) = V.col(cols[i]);
    for (int s = 0; s < substeps; ++s) rk4_step(nets[k], v_, h, scratch_, ws_);
    for (std::size_t i = 0; i < cols.size(); ++i) V.col(cols[i]) = v_.col(static_cast<Index>(i));
  }
}

double NodeTrainer::loss(const nn::Mlp& net, const DelaySeries& data, const Index* starts, Index B, double scale) {
  const Index n = data.dim();
  gather(data, starts, B, 0, u_);
  MatrixXd s[5];
  double total = 0;
  for (int k = 0; k < steps_; ++k) {
    rk4_step(net, u_, h_, s, ws_);
    gather(data, starts, B, k + 1, target_);
    total += w_[k] * (u_ - target_).squaredNorm();
  }
  (void)n;
  return total * scale;
}

// ---------------------------------------------------------------------------------------------- train
std::vector<Index> window_starts(const DelaySeries& data, const std::vector<std::pair<Index, Index>>& segments,
                                 int steps) {
  std::vector<Index> s;
  for (const auto& [begin, end] : segments)
    for (Index t = begin + data.first(); t + steps < end; ++t) s.push_back(t);
  return s;
}

TrainResult train(nn::Mlp& net, const DelaySeries& data, const std::vector<Index>& starts, double h,
                  const TrainOptions& o, MPI_Comm comm) {
  if (starts.empty()) throw InputError("node: no training windows (series too short for the window and embedding)");
  if (o.batch < 1 || o.block < 1 || o.iterations < 0 || !(o.lr > 0))
    throw InputError("node: batch, block >= 1, iterations >= 0 and lr > 0 are required");
  NodeTrainer trainer(h, o.steps, o.decay);
  nn::AdamOptions ao;
  ao.lr = o.lr;
  ao.schedule = o.schedule;
  if (ao.schedule.kind == nn::Schedule::Kind::cosine && ao.schedule.total == 0) ao.schedule.total = std::max(1, o.iterations);
  nn::Adam adam(net.num_params(), ao);
  const Index P = net.num_params();
  const Index nblocks = (o.batch + o.block - 1) / o.block;
  const Range mine = block_range(nblocks, size(comm), rank(comm));
  nn::ReproducibleSum rs(P + 1, comm);
  VectorXd total(P + 1);
  std::vector<Index> batch(static_cast<std::size_t>(o.batch));
  const Philox rng(o.seed, std::uint64_t{1} << 40, Purpose::training);
  const double scale = 1.0 / (static_cast<double>(o.batch) * data.dim() *
                              [&] {
                                double W = 0;
                                for (double w : trainer.weights()) W += w;
                                return W;
                              }());
  TrainResult result;
  result.loss.reserve(static_cast<std::size_t>(o.iterations));
  const auto nstarts = static_cast<double>(starts.size());
  for (int it = 0; it < o.iterations; ++it) {
    for (int b = 0; b < o.batch; ++b) {
      const double u = rng.uniform(static_cast<std::uint64_t>(it), static_cast<std::uint64_t>(b));
      const auto i = std::min(static_cast<std::size_t>(u * nstarts), starts.size() - 1);
      batch[static_cast<std::size_t>(b)] = starts[i];
    }
    rs.clear();
    for (Index blk = mine.begin; blk < mine.end; ++blk) {
      auto p = rs.add(blk);
      const Index b0 = blk * o.block, nb = std::min<Index>(o.block, o.batch - b0);
      p[P] = trainer.loss_and_gradient(net, data, batch.data() + b0, nb, scale, p.head(P));
    }
    rs.reduce(total);
    result.loss.push_back(total[P]);
    if (o.on_step) o.on_step(it, total[P]);
    adam.step(net.params(), total.head(P));
  }
  return result;
}

void train_ensemble(std::vector<nn::Mlp>& nets, const DelaySeries& data, const std::vector<Index>& starts, double h,
                    const TrainOptions& options, MPI_Comm comm, std::vector<std::vector<double>>* losses) {
  const int members = static_cast<int>(nets.size());
  if (members == 0) return;
  const int nranks = size(comm), me = rank(comm);
  const int groups = std::min(nranks, members);
  // Group g holds the ranks r with r * groups / nranks == g: contiguous, sizes differ by at most one.
  const int color = static_cast<int>(static_cast<long>(me) * groups / nranks);
  MPI_Comm group;
  MPI_Comm_split(comm, color, me, &group);
  if (losses) losses->assign(static_cast<std::size_t>(members), {});
  std::vector<int> leader(static_cast<std::size_t>(groups), -1);
  for (int r = nranks - 1; r >= 0; --r) leader[static_cast<std::size_t>(static_cast<long>(r) * groups / nranks)] = r;
  try {
    for (int i = color; i < members; i += groups) {
      TrainOptions o = options;
      o.seed = options.seed + static_cast<std::uint64_t>(i);
      if (rank(group) != 0) o.on_step = nullptr;
      auto r = train(nets[static_cast<std::size_t>(i)], data, starts, h, o, group);
      if (losses) (*losses)[static_cast<std::size_t>(i)] = std::move(r.loss);
    }
  } catch (...) {
    MPI_Comm_free(&group);
    throw;
  }
  MPI_Comm_free(&group);
  // Every rank gets every member from its group's first rank.
  for (int i = 0; i < members; ++i) {
    auto& p = nets[static_cast<std::size_t>(i)].params();
    const int root = leader[static_cast<std::size_t>(i % groups)];
    MPI_Bcast(p.data(), static_cast<int>(p.size()), MPI_DOUBLE, root, comm);
    if (losses) {
      auto& l = (*losses)[static_cast<std::size_t>(i)];
      l.resize(static_cast<std::size_t>(options.iterations));
      MPI_Bcast(l.data(), options.iterations, MPI_DOUBLE, root, comm);
    }
  }
}

MatrixXd free_run(const nn::Mlp& net, const DelaySeries& data, const std::vector<Index>& t0, double h, Index steps,
                  Index row) {
  const Index n = data.dim(), B = static_cast<Index>(t0.size());
  MatrixXd U(n, B);
  for (Index b = 0; b < B; ++b) data.gather(t0[static_cast<std::size_t>(b)], U.col(b).data());
  MatrixXd out(steps, B), s[5];
  nn::Workspace ws;
  for (Index k = 0; k < steps; ++k) {
    rk4_step(net, U, h, s, ws);
    out.row(k) = U.row(row);
  }
  return out;
}

}  // namespace msrom::node
