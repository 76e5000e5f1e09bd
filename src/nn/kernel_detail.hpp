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

// Z = phi(W A + b 1^T) for one layer and B members, with `act` the value of nn::Activation (identity for the
// output layer). A is n_in x B with column stride lda, Z is n_out x B with column stride ldz. Each kernel
// computes every output by one fixed sequence of operations (see kernel_impl.hpp and kernel_generic.cpp).
using LayerFn = void (*)(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                         std::ptrdiff_t ldz);
void layer_generic(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                   std::ptrdiff_t ldz);
void layer_avx2(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                std::ptrdiff_t ldz);
void layer_avx512(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                  std::ptrdiff_t ldz);

// Elementwise exp with the kernels' algorithm (for tests): y[i] = exp(x[i]).
void exp_avx2(const double* x, double* y, std::ptrdiff_t n);
void exp_avx512(const double* x, double* y, std::ptrdiff_t n);

}  // namespace msrom::nn::detail
