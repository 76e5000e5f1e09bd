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

// C = [C] + A B (nn/gemm.hpp) for M x K A and K x N B given by strides: A(i, k) = A[i ars + k acs], B(k, j) =
// B[k brs + j bcs]; C is column-major with column stride ldc. work holds gemm_work_*(M, K) doubles (the packed
// operands; the caller owns it, so the kernels allocate nothing). See gemm_impl.hpp.
struct GemmRef {
  const double* A;
  std::ptrdiff_t ars, acs;
  const double* B;
  std::ptrdiff_t brs, bcs;
  double* C;
  std::ptrdiff_t ldc, M, N, K;
  bool accumulate;
  double* work;
};
void gemm_avx2(const GemmRef& g);
void gemm_avx512(const GemmRef& g);
std::ptrdiff_t gemm_work_avx2(std::ptrdiff_t M, std::ptrdiff_t K);
std::ptrdiff_t gemm_work_avx512(std::ptrdiff_t M, std::ptrdiff_t K);

// Elementwise exp with the kernels' algorithm (for tests): y[i] = exp(x[i]).
void exp_avx2(const double* x, double* y, std::ptrdiff_t n);
void exp_avx512(const double* x, double* y, std::ptrdiff_t n);

}  // namespace msrom::nn::detail
