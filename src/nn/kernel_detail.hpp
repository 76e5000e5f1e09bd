#pragma once
// Internal interface between nn::Mlp and the inference kernels (kernel_generic.cpp, kernel_avx2.cpp,
// kernel_avx512.cpp). Deliberately free of Eigen and of the standard library's inline templates: those two
// files are compiled with different -m flags, and an inline function they both instantiate would be merged
// by the linker into one copy that might use instructions this CPU lacks. See kernel.cpp for the design.
#include <cstddef>

namespace msrom::nn::detail {

// One affine layer: W is n_out x n_in, column-major (column k at W + k n_out), b has n_out entries.
struct LayerRef {
  const double* W;
  const double* b;
  int n_in, n_out;
};

// Y = f(X) for a network of L layers, the hidden ones with activation `act` (the value of nn::Activation),
// the last one affine. X is n_0 x B with column stride ldx, Y is n_L x B with column stride ldy; buf0 and
// buf1 each hold max_l n_l x B doubles.
using ForwardFn = void (*)(const LayerRef* layers, int L, int act, const double* X, std::ptrdiff_t ldx, std::ptrdiff_t B,
                           double* Y, std::ptrdiff_t ldy, double* buf0, double* buf1);

void forward_generic(const LayerRef* layers, int L, int act, const double* X, std::ptrdiff_t ldx, std::ptrdiff_t B,
                     double* Y, std::ptrdiff_t ldy, double* buf0, double* buf1);
void forward_avx2(const LayerRef* layers, int L, int act, const double* X, std::ptrdiff_t ldx, std::ptrdiff_t B,
                  double* Y, std::ptrdiff_t ldy, double* buf0, double* buf1);
void forward_avx512(const LayerRef* layers, int L, int act, const double* X, std::ptrdiff_t ldx, std::ptrdiff_t B,
                    double* Y, std::ptrdiff_t ldy, double* buf0, double* buf1);

// Elementwise exp with the kernels' algorithm (for tests): y[i] = exp(x[i]).
void exp_avx2(const double* x, double* y, std::ptrdiff_t n);
void exp_avx512(const double* x, double* y, std::ptrdiff_t n);

}  // namespace msrom::nn::detail
