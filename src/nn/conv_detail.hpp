#pragma once
// Private helpers of the convolution and stencil layers (src/nn/conv.cpp, src/nn/stencil_mlp.cpp: 1-D,
// src/nn/conv2d.cpp: 2-D). Not installed.
#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <string>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"
#include "msrom/nn/stencil_mlp.hpp"

namespace msrom::nn::detail {

// v's storage with at least n entries (buffers only grow).
inline double* grow(Eigen::VectorXd& v, Eigen::Index n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// q mod n in [0, n).
inline Eigen::Index wrap(Eigen::Index q, Eigen::Index n) {
  const Eigen::Index r = q % n;
  return r < 0 ? r + n : r;
}

// The cell a stencil reads for index q of an n-cell axis (nn::StencilBoundary): q mod n (periodic), -1 beyond
// the ends (zero: a zero there), or q clamped to 0..n-1 (replicate).
inline Eigen::Index neighbour(Eigen::Index q, Eigen::Index n, StencilBoundary b) {
  if (q >= 0 && q < n) return q;
  switch (b) {
    case StencilBoundary::zero: return -1;
    case StencilBoundary::replicate: return q < 0 ? 0 : n - 1;
    default: return wrap(q, n);
  }
}

inline void check_shape(const char* who, int cin, int cout, int kernel, int stride) {
  if (cin < 1 || cout < 1 || kernel < 1 || kernel % 2 == 0 || stride < 1)
    throw InputError(std::string(who) + ": channels " + std::to_string(cin) + " -> " + std::to_string(cout) +
                     ", kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride) +
                     ": channels and stride must be >= 1 and the kernel odd");
}

// Xavier normal over the first nweights entries of w (fan_in = taps C_in, fan_out = taps C_out), the rest
// (the biases) zero; Philox(seed, 0, training) at step 0.
inline void xavier(Eigen::Ref<Eigen::VectorXd> w, Eigen::Index nweights, double fan_in, double fan_out,
                   std::uint64_t seed) {
  const Philox rng(seed, 0, Purpose::training);
  rng.normals(0, w.data(), static_cast<std::size_t>(nweights));
  w.head(nweights) *= std::sqrt(2.0 / (fan_in + fan_out));
  w.tail(w.size() - nweights).setZero();
}

}  // namespace msrom::nn::detail
