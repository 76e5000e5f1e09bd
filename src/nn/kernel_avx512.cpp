// The avx512 build of the MLP inference kernel (kernel_impl.hpp); compiled with its own -m flags (CMakeLists.txt)
// and called only when the CPU has them (kernel.cpp).
#if defined(__x86_64__)
#define MSROM_NN_ISA_AVX512
#include "kernel_impl.hpp"

namespace msrom::nn::detail {

void layer_avx512(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                  std::ptrdiff_t ldz) {
  layer(L, act, A, lda, B, Z, ldz);
}

void exp_avx512(const double* x, double* y, std::ptrdiff_t n) { exp_impl(x, y, n); }

}  // namespace msrom::nn::detail
#endif
