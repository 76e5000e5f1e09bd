// The avx512 build of the MLP inference kernel (kernel_impl.hpp); compiled with its own -m flags (CMakeLists.txt)
// and called only when the CPU has them (kernel.cpp).
#if defined(__x86_64__)
#define MSROM_NN_ISA_AVX512
#include "kernel_impl.hpp"

namespace msrom::nn::detail {

void forward_avx512(const LayerRef* layers, int L, int act, const double* X, std::ptrdiff_t ldx, std::ptrdiff_t B,
                  double* Y, std::ptrdiff_t ldy, double* buf0, double* buf1) {
  forward_impl(layers, L, act, X, ldx, B, Y, ldy, buf0, buf1);
}

void exp_avx512(const double* x, double* y, std::ptrdiff_t n) { exp_impl(x, y, n); }

}  // namespace msrom::nn::detail
#endif
