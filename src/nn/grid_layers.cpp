// The spatial layers on 1-D or 2-D periodic grids (include/msrom/nn/grid_layers.hpp): dispatch only.
#include "msrom/nn/grid_layers.hpp"

#include <stdexcept>
#include <string>

namespace msrom::nn {

using Eigen::Index;
using Eigen::MatrixXd;

Grid Grid::coarsened(int s) const {
  if (s < 1 || nx % s != 0 || (dims == 2 && ny % s != 0))
    throw std::invalid_argument("nn::Grid: stride " + std::to_string(s) + " does not divide the grid " +
                                std::to_string(nx) + (dims == 2 ? " x " + std::to_string(ny) : std::string()));
  return {dims, nx / s, dims == 2 ? ny / s : 1};
}

Grid Grid::refined(int s) const {
  return {dims, nx * s, dims == 2 ? ny * s : 1};
}

template <class L1, class L2, bool T>
GridConvLayer<L1, L2, T>::GridConvLayer(const Grid& in, int cin, int cout, int kernel, int stride, Activation act,
                                        std::uint64_t seed)
    : in_(in), out_(T ? in.refined(stride) : in.coarsened(stride)) {
  if (in.dims == 1)
    c1_ = L1(cin, cout, kernel, stride, act, seed);
  else
    c2_ = L2(cin, cout, kernel, stride, act, seed);
}

template <class L1, class L2, bool T>
Eigen::Map<const MatrixXd> GridConvLayer<L1, L2, T>::forward(const Eigen::Ref<const MatrixXd>& X,
                                                             GridConvTape& tape) const {
  return in_.dims == 1 ? c1_.forward(X, tape.t1) : c2_.forward(X, in_.nx, in_.ny, tape.t2);
}

template <class L1, class L2, bool T>
void GridConvLayer<L1, L2, T>::backward(const GridConvTape& tape, const Eigen::Ref<const MatrixXd>& dY,
                                        Eigen::Ref<Eigen::VectorXd> grad, MatrixXd* dX, Workspace& ws) const {
  if (in_.dims == 1)
    c1_.backward(tape.t1, dY, grad, dX, ws);
  else
    c2_.backward(tape.t2, dY, grad, dX, ws);
}

template class GridConvLayer<Conv1d, Conv2d, false>;
template class GridConvLayer<ConvTranspose1d, ConvTranspose2d, true>;

GridFilter::GridFilter(const Grid& fine, double std0) : fine_(fine) {
  if (fine.dims == 1)
    f1_ = GaussianFilter(std0);
  else
    f2_ = GaussianFilter2d(std0);
}

double GridFilter::transpose_scale(int stride) const {
  return fine_.dims == 1 ? double(stride) : double(stride) * double(stride);
}

void GridFilter::apply(const Eigen::Ref<const MatrixXd>& X, int stride, Eigen::Ref<MatrixXd> Z) const {
  if (fine_.dims == 1)
    f1_.apply(X, stride, Z);
  else
    f2_.apply(X, fine_.nx, fine_.ny, stride, Z);
}

void GridFilter::apply_transpose(const Eigen::Ref<const MatrixXd>& Z, int stride, Eigen::Ref<MatrixXd> X) const {
  if (fine_.dims == 1)
    f1_.apply_transpose(Z, stride, X);
  else
    f2_.apply_transpose(Z, fine_.nx, fine_.ny, stride, X);
}

double GridFilter::log_std_gradient(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& dZ,
                                    int stride) const {
  return fine_.dims == 1 ? f1_.log_std_gradient(X, dZ, stride) : f2_.log_std_gradient(X, dZ, fine_.nx, fine_.ny, stride);
}

GridStencilMlp::GridStencilMlp(const Grid& grid, int channels, int radius, int globals, const std::vector<int>& hidden,
                               int out_channels, Activation act, std::uint64_t seed, StencilBoundary boundary)
    : grid_(grid) {
  if (grid.dims == 1)
    s1_ = StencilMlp(channels, radius, globals, hidden, out_channels, act, seed, boundary);
  else
    s2_ = StencilMlp2d(channels, radius, globals, hidden, out_channels, act, seed, boundary);
}

int GridStencilMlp::stencil_inputs() const {
  const int w = 2 * radius() + 1;
  return (grid_.dims == 1 ? w : w * w) * channels();
}

Eigen::Map<const MatrixXd> GridStencilMlp::forward(const Eigen::Ref<const MatrixXd>& X,
                                                   const Eigen::Ref<const MatrixXd>& G, GridStencilTape& tape) const {
  return grid_.dims == 1 ? s1_.forward(X, G, tape.t1) : s2_.forward(X, grid_.nx, grid_.ny, G, tape.t2);
}

void GridStencilMlp::backward(const GridStencilTape& tape, const Eigen::Ref<const MatrixXd>& dY,
                              Eigen::Ref<Eigen::VectorXd> grad, MatrixXd* dX, MatrixXd* dG, Workspace& ws) const {
  if (grid_.dims == 1)
    s1_.backward(tape.t1, dY, grad, dX, dG, ws);
  else
    s2_.backward(tape.t2, dY, grad, dX, dG, ws);
}

void GridStencilMlp::forward(const Eigen::Ref<const MatrixXd>& X, const Eigen::Ref<const MatrixXd>& G,
                             Eigen::Ref<MatrixXd> Y, Eigen::VectorXd& scratch, Workspace& ws) const {
  if (grid_.dims == 1)
    s1_.forward(X, G, Y, scratch, ws);
  else
    s2_.forward(X, grid_.nx, grid_.ny, G, Y, scratch, ws);
}

}  // namespace msrom::nn
