// The stencil-shared MLP (include/msrom/nn/stencil_mlp.hpp): gather the neighbourhoods of all cells and
// samples into one batch (beyond the ends: nn::StencilBoundary), one nn::Mlp pass, scatter the input cotangents
// back.
#include "msrom/nn/stencil_mlp.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "conv_detail.hpp"
#include "msrom/core/errors.hpp"

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;
using detail::neighbour;

namespace {
std::vector<int> stencil_widths(int channels, int radius, int globals, const std::vector<int>& hidden, int out) {
  if (channels < 1 || radius < 0 || globals < 0 || out < 1)
    throw InputError("nn::StencilMlp: channels " + std::to_string(channels) + ", radius " + std::to_string(radius) +
                     ", globals " + std::to_string(globals) + ", outputs " + std::to_string(out) + " are invalid");
  std::vector<int> w{(2 * radius + 1) * channels + globals};
  w.insert(w.end(), hidden.begin(), hidden.end());
  w.push_back(out);
  return w;
}
}  // namespace

std::string to_string(StencilBoundary b) {
  switch (b) {
    case StencilBoundary::zero: return "zero";
    case StencilBoundary::replicate: return "replicate";
    default: return "periodic";
  }
}

StencilBoundary stencil_boundary_from_string(const std::string& name) {
  for (auto b : {StencilBoundary::periodic, StencilBoundary::zero, StencilBoundary::replicate})
    if (name == to_string(b)) return b;
  throw InputError("unknown stencil boundary '" + name + "' (periodic, zero, replicate)");
}

Eigen::Map<const MatrixXd> StencilTape::output() const {
  const auto y = mlp_.output();
  return {y.data(), Index{out_} * n_, batch_};
}

StencilMlp::StencilMlp(int channels, int radius, int globals, const std::vector<int>& hidden, int out_channels,
                       Activation activation, std::uint64_t seed, StencilBoundary boundary)
    : channels_(channels),
      radius_(radius),
      globals_(globals),
      boundary_(boundary),
      net_(stencil_widths(channels, radius, globals, hidden, out_channels), activation, seed) {}

Index StencilMlp::gather(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& G, VectorXd& in) const {
  const Index C = channels_, B = X.cols(), n = X.rows() / C, rows = net_.input_dim();
  if (n < 1 || n * C != X.rows() || G.rows() != globals_ || G.cols() != B)
    throw std::invalid_argument("nn::StencilMlp: input is " + std::to_string(X.rows()) + " x " + std::to_string(B) +
                                " with " + std::to_string(G.rows()) + " x " + std::to_string(G.cols()) +
                                " globals; expected a multiple of " + std::to_string(C) + " rows and " +
                                std::to_string(globals_) + " globals per column");
  if (in.size() < rows * n * B) in.resize(rows * n * B);
  for (Index b = 0; b < B; ++b) {
    const double* x = X.col(b).data();
    for (Index j = 0; j < n; ++j) {
      double* col = in.data() + (j + n * b) * rows;
      for (Index q = 0; q <= 2 * radius_; ++q) {
        const Index s = neighbour(j + q - radius_, n, boundary_);
        if (s < 0)
          std::memset(col + q * C, 0, sizeof(double) * C);
        else
          std::memcpy(col + q * C, x + s * C, sizeof(double) * C);
      }
      for (Index k = 0; k < globals_; ++k) col[(2 * radius_ + 1) * C + k] = G(k, b);
    }
  }
  return n;
}

Eigen::Map<const MatrixXd> StencilMlp::forward(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& G,
                                               StencilTape& tape) const {
  const Index n = gather(X, G, tape.in_), B = X.cols();
  tape.n_ = n;
  tape.batch_ = B;
  tape.out_ = net_.output_dim();
  net_.forward(Eigen::Map<const MatrixXd>(tape.in_.data(), net_.input_dim(), n * B), tape.mlp_);
  return tape.output();
}

void StencilMlp::backward(const StencilTape& tape, const Eigen::Ref<const MatrixXd>& dY, Eigen::Ref<VectorXd> grad,
                          MatrixXd* dX, MatrixXd* dG, Workspace& ws) const {
  const Index n = tape.n_, B = tape.batch_, C = channels_, out = net_.output_dim();
  if (dY.rows() != out * n || dY.cols() != B)
    throw std::invalid_argument("nn::StencilMlp::backward: dY must be " + std::to_string(out * n) + " x " +
                                std::to_string(B));
  // dY (out n) x B is the Mlp's out x (n B) cotangent when stored contiguously; otherwise copy it.
  const double* dy = dY.data();
  if (dY.outerStride() != dY.rows()) {
    if (tape.dy_.size() < dY.size()) tape.dy_.resize(dY.size());
    Eigen::Map<MatrixXd>(tape.dy_.data(), dY.rows(), B) = dY;
    dy = tape.dy_.data();
  }
  const Eigen::Map<const MatrixXd> dYm(dy, out, n * B);
  net_.backward(tape.mlp_, dYm, grad, (dX || dG) ? &tape.dI_ : nullptr, ws);
  const MatrixXd& dI = tape.dI_;
  if (dX) {
    dX->setZero(C * n, B);
    for (Index b = 0; b < B; ++b)
      for (Index j = 0; j < n; ++j)
        for (Index q = 0; q <= 2 * radius_; ++q) {
          const Index s = neighbour(j + q - radius_, n, boundary_);
          if (s >= 0) dX->col(b).segment(s * C, C) += dI.col(j + n * b).segment(q * C, C);
        }
  }
  if (dG) {
    dG->setZero(globals_, B);
    if (globals_ > 0)
      for (Index b = 0; b < B; ++b) dG->col(b) = dI.middleCols(n * b, n).bottomRows(globals_).rowwise().sum();
  }
}

void StencilMlp::forward(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& G,
                         Eigen::Ref<MatrixXd> Y, VectorXd& scratch, Workspace& ws) const {
  const Index n = gather(X, G, scratch), B = X.cols(), out = net_.output_dim();
  if (Y.rows() != out * n || Y.cols() != B || Y.outerStride() != Y.rows())
    throw std::invalid_argument("nn::StencilMlp::forward: Y must be a contiguous " + std::to_string(out * n) + " x " +
                                std::to_string(B));
  Eigen::Map<MatrixXd> Ym(Y.data(), out, n * B);
  net_.forward(Eigen::Map<const MatrixXd>(scratch.data(), net_.input_dim(), n * B), Ym, ws);
}

}  // namespace msrom::nn
