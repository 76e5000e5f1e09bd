// The avx512 build of the MLP inference kernel (kernel_impl.hpp) and of the GEMM (gemm_impl.hpp); compiled with
// its own -m flags (CMakeLists.txt) and called only when the CPU has them (kernel.cpp, gemm.cpp).
#if defined(__x86_64__)
#define MSROM_NN_ISA_AVX512
#include "kernel_impl.hpp"
#include "gemm_impl.hpp"

namespace msrom::nn::detail {

void layer_avx512(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                  std::ptrdiff_t ldz) {
  layer(L, act, A, lda, B, Z, ldz);
}

void exp_avx512(const double* x, double* y, std::ptrdiff_t n) { exp_impl(x, y, n); }

void gemm_avx512(const GemmRef& g) { gemm_impl(g); }

std::ptrdiff_t gemm_work_avx512(std::ptrdiff_t M, std::ptrdiff_t K) { return gemm_work_impl(M, K); }

}  // namespace msrom::nn::detail
#endif
