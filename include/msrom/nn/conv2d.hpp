#pragma once
// Two-dimensional versions of the multiscale model's layers (docs/vi.md), on periodic nx x ny fine grids (the
// 2-D Burgers case: 128 x 128 -> 8 x 8): Conv2d, ConvTranspose2d, GaussianFilter2d and StencilMlp2d. They
// mirror the 1-D layers (nn/conv.hpp, nn/filter.hpp, nn/stencil_mlp.hpp): same flat parameters, accumulated
// gradients, tapes and Workspace, same Xavier-normal initialisation from Philox(seed, 0, training).
//
// Layout. A field of C channels on an nx x ny grid is ONE column of C nx ny entries, CHANNEL FASTEST, then x,
// then y: entry (c, i, j) sits at (j nx + i) C + c (the column is a C x (nx ny) column-major matrix whose
// column j nx + i is cell (i, j)). Batches are columns. All padding is circular in both directions; a stride
// s applies in both directions and must divide nx and ny. The grid shape cannot be inferred from the row
// count, so forward passes take (nx, ny) of their INPUT; the tapes remember it for backward.
//
// Conv2d, C_in -> C_out channels, odd square kernel k = 2p + 1, stride s, mx = nx / s, my = ny / s outputs:
//
//   y[o, oi, oj] = phi( b[o] + sum_{a, r = 0..k-1} sum_c W[o, (a k + r) C_in + c]
//                                                  x[c, (s oi + r - p) mod nx, (s oj + a - p) mod ny] )
//
// r is the x-tap and a the y-tap: the weight W is C_out x k^2 C_in, its column (a k + r) C_in + c multiplies
// channel c at offset (r - p, a - p). Output (oi, oj) is centred on input (s oi, s oj). (PyTorch's
// Conv2d(padding=p, padding_mode='circular', stride=s) on an input of shape [B, C, ny, nx] computes the same
// sum with weight[o, c, a, r] = W[o, (a k + r) C_in + c].)
//
// ConvTranspose2d, C_in -> C_out channels, mx x my in, (s mx) x (s my) out: the ADJOINT of the Conv2d
// C_out -> C_in with the same weight W (C_in x k^2 C_out), plus its own bias and activation:
//
//   y[c, i, j] = phi( b[c] + sum_{o, oi, oj, r, a : (s oi + r - p) mod nx = i, (s oj + a - p) mod ny = j}
//                             W[o, (a k + r) C_out + c] x[o, oi, oj] )
//
// so that <Conv2d_W x, y> = <x, ConvTranspose2d_W y> when the biases are 0 and phi is the identity.
//
// Implementation (im2col, as in 1-D). Per sample the input is padded circularly to (nx + 2p) x (ny + 2p)
// cells; then for each y-tap a the k x-taps of output (oi, oj) are ONE contiguous block of k C values, so the
// im2col matrix cols, (k^2 C) x (mx my B), is built by k block copies per output:
//
//   cols((a k + r) C + c, oi + mx oj + mx my b) = X((((s oj + a - p) mod ny) nx + (s oi + r - p) mod nx) C + c, b)
//
// (row order: channel fastest, then the x-tap r, then the y-tap a, the same order as the field layout; column
// order: the output cells in the field layout, then the samples). The convolution of the whole batch is then
// one nn::gemm, W cols (C_out x mx my B), which is already the output layout. The transposed convolution
// computes cols = W^T X and scatters it back (col2im2d), folding the padding onto the grid.
//
// Back-propagation, with dA = dY .* phi'(pre-activation):
//   Conv2d:           dW += dA cols^T,  db += dA 1,  dX = col2im2d(W^T dA)
//   ConvTranspose2d:  dW += X im2col2d(dA)^T,  db += dA 1 (per channel),  dX = W im2col2d(dA)
//
// Parameters: one flat vector per layer, [vec(W) (column-major), b], gradients in the same layout and
// ACCUMULATED. Initialisation: Xavier normal, W ~ N(0, 2 / (k^2 C_in + k^2 C_out)), b = 0, from
// Philox(seed, 0, training) at step 0. Allocation-free once the tape and workspace have seen a batch this
// large (buffers only grow).
//
// GaussianFilter2d: the separable isotropic Gaussian G_s = G_s^y G_s^x with ONE learnable log sigma shared by
// both axes. Its 1-D kernel g (width w = 2 p + 1, p = round(2 std_0), normalised to sum 1) is that of an
// nn::GaussianFilter (which it holds, and whose code does the x-passes); the 2-D kernel is g_a g_r, which sums
// to 1, so a constant field is kept. On single-channel fields (nx ny) x B, mx = nx / s, my = ny / s:
//
//   (G_s x)[oi, oj] = sum_{a, r} g_a g_r x[(s oi + r - p) mod nx, (s oj + a - p) mod ny]     (forward)
//   G_s^T                                                                                    (exact adjoint)
//
// computed as two 1-D passes: along x (nn::GaussianFilter::apply on the nx x ny sample, one column per grid
// row j), then along y on whole rows, Z(:, oj) = sum_a g_a T(:, (s oj + a - p) mod ny). The transpose runs the
// adjoint passes in the reverse order. Stride 1 gives the residual input y - G_1 y of the eta encoder.
//
// Its derivative (product rule over the two axes, which commute): for Z = G_s X and a cotangent dZ,
//
//   d<dZ, G_s X>/dsigma = d<(G^y_s)^T dZ, G^x_s X>_x / dsigma  +  sum_a dg^y_a dg_a/dsigma,
//   dg^y_a = sum_{b, oi, oj} dZ(oi, oj, b) (G^x_s X)(oi, (s oj + a - p) mod ny, b),
//
// the first term being the 1-D filter's std_gradient along x, and dg_a/dsigma = g_a (d_a^2 - <g d^2>) /
// sigma^3 as in 1-D. For the transposed map, d<dY, G_s^T Z>/dsigma = std_gradient(dY, Z) (as in 1-D);
// log_std_gradient = sigma std_gradient is the gradient for params() = [log sigma].
//
// StencilMlp2d: ONE nn::Mlp applied at every cell of a periodic nx x ny grid to its (2r+1) x (2r+1)
// neighbourhood of all C channels plus G globals broadcast to every cell (r = 2: the paper's 5 x 5):
//
//   y[:, i, j] = NN( x[:, i-r..i+r, j-r], x[:, i-r..i+r, j-r+1], ..., x[:, i-r..i+r, j+r], g ),   indices periodic
//
// i.e. network input entry (qy (2r+1) + qx) C + c is x[c, i + qx - r, j + qy - r] (the im2col row order above),
// followed by the G globals. Batched as ONE Mlp call over nx ny B columns: the gathered input is
// ((2r+1)^2 C + G) x (nx ny B), column (j nx + i) + nx ny b, and the Mlp's output (out x nx ny B) is already
// the output layout (out nx ny) x B. Backward: nn::Mlp::backward, then the gathered input's cotangent is
// scatter-added onto the stencil cells (dX) and summed over the cells (dG). Beyond the grid's edges the indices
// wrap (the paper's), or are zeros or copies of the edge cell (walls, outflow): nn::StencilBoundary, as
// in nn::StencilMlp. Parameters: the Mlp's.
#include <Eigen/Core>

#include <cstdint>
#include <vector>

#include "msrom/nn/filter.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/nn/stencil_mlp.hpp"

namespace msrom::nn {

// im2col of a batch on an nx x ny grid (see top of file): X is (C nx ny) x B, cols (k^2 C) x (mx my B) with
// mx = nx / stride, my = ny / stride (std::invalid_argument if the shapes do not match). `pad` is scratch
// ((nx + 2p)(ny + 2p) C doubles, grown as needed). cols may be a block with an outer stride.
void im2col2d(const Eigen::Ref<const Eigen::MatrixXd>& X, int channels, Eigen::Index nx, Eigen::Index ny, int kernel,
              int stride, Eigen::Ref<Eigen::MatrixXd> cols, Eigen::VectorXd& pad);
// Its adjoint: X = col2im2d(cols) (OVERWRITTEN; X must be (C nx ny) x B).
void col2im2d(const Eigen::Ref<const Eigen::MatrixXd>& cols, int channels, Eigen::Index nx, Eigen::Index ny, int kernel,
              int stride, Eigen::Ref<Eigen::MatrixXd> X, Eigen::VectorXd& pad);

// What a training forward pass of Conv2d/ConvTranspose2d keeps for backward. Valid until the next forward()
// into the same tape.
class Conv2dTape {
 public:
  Eigen::Index batch() const { return batch_; }
  // The output grid of the recorded pass.
  Eigen::Index output_nx() const { return out_nx_; }
  Eigen::Index output_ny() const { return out_ny_; }
  Eigen::Map<const Eigen::MatrixXd> output() const { return {out_.data(), out_rows_, batch_}; }

 private:
  friend class Conv2d;
  friend class ConvTranspose2d;
  Eigen::VectorXd cols_;  // Conv2d: im2col of the input; ConvTranspose2d: a copy of the input
  Eigen::VectorXd out_, dphi_;
  mutable Eigen::VectorXd pad_;  // scratch of forward and backward (so one tape serves one thread)
  Eigen::Index in_rows_ = 0, out_rows_ = 0, batch_ = 0;
  Eigen::Index in_nx_ = 0, in_ny_ = 0, out_nx_ = 0, out_ny_ = 0;
};

class Conv2d {
 public:
  Conv2d() = default;
  // kernel odd >= 1, stride >= 1, channels >= 1 (InputError otherwise).
  Conv2d(int in_channels, int out_channels, int kernel, int stride, Activation activation, std::uint64_t seed);

  int in_channels() const { return cin_; }
  int out_channels() const { return cout_; }
  int kernel() const { return k_; }
  int stride() const { return s_; }
  Activation activation() const { return act_; }
  // Points out along one axis for n points in; std::invalid_argument unless the stride divides n.
  Eigen::Index output_length(Eigen::Index n) const;

  Eigen::Index num_params() const { return params_.size(); }
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }
  void initialize(std::uint64_t seed);
  // W (C_out x k^2 C_in, column (a k + r) C_in + c) and b, views into params().
  Eigen::Map<Eigen::MatrixXd> weight() { return {params_.data(), cout_, taps() * cin_}; }
  Eigen::Map<const Eigen::MatrixXd> weight() const { return {params_.data(), cout_, taps() * cin_}; }
  Eigen::Map<Eigen::VectorXd> bias() { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Map<const Eigen::VectorXd> bias() const { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Index bias_offset() const { return Eigen::Index{cout_} * taps() * cin_; }

  // Training forward: X is (C_in nx ny) x B on an nx x ny grid; returns the (C_out mx my) x B output
  // (mx = nx / s, my = ny / s), a view into the tape. std::invalid_argument for mismatched shapes.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index nx,
                                            Eigen::Index ny, Conv2dTape& tape) const;
  // grad += dLoss/dparams (accumulated); *dX = dLoss/dX (overwritten, resized) unless dX is null.
  void backward(const Conv2dTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Workspace& ws) const;

 private:
  int cin_ = 0, cout_ = 0, k_ = 1, s_ = 1;
  Activation act_ = Activation::identity;
  Eigen::VectorXd params_;
  Eigen::Index taps() const { return Eigen::Index{k_} * k_; }
};

class ConvTranspose2d {
 public:
  ConvTranspose2d() = default;
  ConvTranspose2d(int in_channels, int out_channels, int kernel, int stride, Activation activation, std::uint64_t seed);

  int in_channels() const { return cin_; }
  int out_channels() const { return cout_; }
  int kernel() const { return k_; }
  int stride() const { return s_; }
  Activation activation() const { return act_; }
  // Points out along one axis for m points in.
  Eigen::Index output_length(Eigen::Index m) const { return m * s_; }

  Eigen::Index num_params() const { return params_.size(); }
  Eigen::VectorXd& params() { return params_; }
  const Eigen::VectorXd& params() const { return params_; }
  void initialize(std::uint64_t seed);
  // W (C_in x k^2 C_out): the weight of the Conv2d C_out -> C_in this layer is the adjoint of. b has C_out.
  Eigen::Map<Eigen::MatrixXd> weight() { return {params_.data(), cin_, taps() * cout_}; }
  Eigen::Map<const Eigen::MatrixXd> weight() const { return {params_.data(), cin_, taps() * cout_}; }
  Eigen::Map<Eigen::VectorXd> bias() { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Map<const Eigen::VectorXd> bias() const { return {params_.data() + bias_offset(), cout_}; }
  Eigen::Index bias_offset() const { return Eigen::Index{cin_} * taps() * cout_; }

  // Training forward: X is (C_in mx my) x B on an mx x my grid; returns the (C_out s mx s my) x B output, a
  // view into the tape.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index mx,
                                            Eigen::Index my, Conv2dTape& tape) const;
  void backward(const Conv2dTape& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY, Eigen::Ref<Eigen::VectorXd> grad,
                Eigen::MatrixXd* dX, Workspace& ws) const;

 private:
  int cin_ = 0, cout_ = 0, k_ = 1, s_ = 1;
  Activation act_ = Activation::identity;
  Eigen::VectorXd params_;
  Eigen::Index taps() const { return Eigen::Index{k_} * k_; }
};

class GaussianFilter2d {
 public:
  GaussianFilter2d() = default;
  // std0 > 0 (InputError otherwise): the initial std, in grid points, of both axes; it fixes the width.
  explicit GaussianFilter2d(double std0) : f_(std0) {}

  int half_width() const { return f_.half_width(); }
  int width() const { return f_.width(); }
  double std() const { return f_.std(); }
  Eigen::Index num_params() const { return 1; }
  Eigen::VectorXd& params() { return f_.params(); }  // [log sigma]
  const Eigen::VectorXd& params() const { return f_.params(); }
  // The 1-D filter whose kernel acts along each axis (it shares params()).
  const GaussianFilter& axis_filter() const { return f_; }
  // The 1-D kernel g (width() entries); the 2-D kernel is g g^T.
  const Eigen::VectorXd& kernel() const { return f_.kernel(); }

  // All three take the FINE grid nx x ny and the stride (dividing both; std::invalid_argument otherwise).
  // Z = G_s X: X is (nx ny) x B, Z must be (nx/s ny/s) x B.
  void apply(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index nx, Eigen::Index ny, int stride,
             Eigen::Ref<Eigen::MatrixXd> Z) const;
  // X = G_s^T Z (OVERWRITTEN): Z is (nx/s ny/s) x B, X must be (nx ny) x B.
  void apply_transpose(const Eigen::Ref<const Eigen::MatrixXd>& Z, Eigen::Index nx, Eigen::Index ny, int stride,
                       Eigen::Ref<Eigen::MatrixXd> X) const;
  // d <dZ, G_s X> / dsigma for X ((nx ny) x B) and dZ ((nx/s ny/s) x B). The transposed map's derivative is
  // d <dY, G_s^T Z> / dsigma = std_gradient(dY, Z, nx, ny, s).
  double std_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& dZ,
                      Eigen::Index nx, Eigen::Index ny, int stride) const;
  // The same with respect to the parameter, log sigma: sigma std_gradient.
  double log_std_gradient(const Eigen::Ref<const Eigen::MatrixXd>& X, const Eigen::Ref<const Eigen::MatrixXd>& dZ,
                          Eigen::Index nx, Eigen::Index ny, int stride) const {
    return std() * std_gradient(X, dZ, nx, ny, stride);
  }

 private:
  GaussianFilter f_;
  // Scratch (not for concurrent use of one filter, as GaussianFilter): per-sample mx x ny intermediates and
  // the y-taps' kernel cotangent.
  mutable Eigen::VectorXd t_, u_, dgy_;
  Eigen::Index check(const char* who, Eigen::Index nx, Eigen::Index ny, int stride, Eigen::Index fine_rows,
                     Eigen::Index coarse_rows, Eigen::Index bf, Eigen::Index bc) const;
};

class StencilTape2d {
 public:
  Eigen::Index batch() const { return batch_; }
  Eigen::Map<const Eigen::MatrixXd> output() const;

 private:
  friend class StencilMlp2d;
  Tape mlp_;
  Eigen::VectorXd in_;
  mutable Eigen::VectorXd dy_;  // backward scratch (one tape serves one thread)
  mutable Eigen::MatrixXd dI_;
  Eigen::Index nx_ = 0, ny_ = 0, batch_ = 0;
  int out_ = 0;
};

class StencilMlp2d {
 public:
  StencilMlp2d() = default;
  // widths of the Mlp: {(2 radius + 1)^2 channels + globals, hidden..., out_channels}. InputError for
  // radius < 0 or non-positive channel counts.
  StencilMlp2d(int channels, int radius, int globals, const std::vector<int>& hidden, int out_channels,
               Activation activation, std::uint64_t seed, StencilBoundary boundary = StencilBoundary::periodic);

  int channels() const { return channels_; }
  int radius() const { return radius_; }
  int globals() const { return globals_; }
  StencilBoundary boundary() const { return boundary_; }
  int out_channels() const { return net_.output_dim(); }
  const Mlp& mlp() const { return net_; }
  Mlp& mlp() { return net_; }
  Eigen::Index num_params() const { return net_.num_params(); }
  Eigen::VectorXd& params() { return net_.params(); }
  const Eigen::VectorXd& params() const { return net_.params(); }

  // Training forward: X (C nx ny) x B, G globals x B; returns (out nx ny) x B, a view into the tape.
  Eigen::Map<const Eigen::MatrixXd> forward(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index nx,
                                            Eigen::Index ny, const Eigen::Ref<const Eigen::MatrixXd>& G,
                                            StencilTape2d& tape) const;
  // grad += dLoss/dparams (accumulated); *dX, *dG overwritten (resized) unless null.
  void backward(const StencilTape2d& tape, const Eigen::Ref<const Eigen::MatrixXd>& dY,
                Eigen::Ref<Eigen::VectorXd> grad, Eigen::MatrixXd* dX, Eigen::MatrixXd* dG, Workspace& ws) const;
  // Inference (nn::Mlp's kernels, bitwise independent of the batch): Y must be a contiguous (out nx ny) x B.
  // `scratch` holds the gathered input.
  void forward(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index nx, Eigen::Index ny,
               const Eigen::Ref<const Eigen::MatrixXd>& G, Eigen::Ref<Eigen::MatrixXd> Y, Eigen::VectorXd& scratch,
               Workspace& ws) const;

 private:
  int channels_ = 1, radius_ = 0, globals_ = 0;
  StencilBoundary boundary_ = StencilBoundary::periodic;
  Mlp net_;
  void gather(const Eigen::Ref<const Eigen::MatrixXd>& X, Eigen::Index nx, Eigen::Index ny,
              const Eigen::Ref<const Eigen::MatrixXd>& G, Eigen::VectorXd& in) const;
};

}  // namespace msrom::nn
