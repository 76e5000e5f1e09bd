// The portable MLP inference kernel (nn/kernel.hpp "generic"): plain C++ for the baseline ISA, compiled with
// -ffp-contract=off (CMakeLists.txt). Like the SIMD kernels, the loops run over a layer's output features j
// with each output a fixed sequence z = b_j; z = z + W_jk a_k (k ascending); phi(z): whichever way the
// compiler vectorises over j, every output gets the same operations, so a member's result does not depend on
// the batch it is in or on the rank count. (Eigen's GEMM, nn::gemm's generic path, does not promise that: its
// tail paths for narrow blocks sum in another order.)
#include <cmath>

#include "kernel_detail.hpp"

namespace msrom::nn::detail {
namespace {
enum : int { kSwish = 0, kLeakyRelu = 1, kTanh = 2 };
}  // namespace

void layer_generic(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                   std::ptrdiff_t ldz) {
  const int n = L.n_out;
  for (std::ptrdiff_t m = 0; m < B; ++m) {
    const double* a = A + m * lda;
    double* z = Z + m * ldz;
    for (int j = 0; j < n; ++j) z[j] = L.b[j];
    for (int k = 0; k < L.n_in; ++k) {
      const double ak = a[k];
      const double* w = L.W + static_cast<std::ptrdiff_t>(k) * n;
      for (int j = 0; j < n; ++j) z[j] = z[j] + w[j] * ak;
    }
    switch (act) {
      case kSwish:
        for (int j = 0; j < n; ++j) z[j] = z[j] / (1.0 + std::exp(-z[j]));
        break;
      case kLeakyRelu:
        for (int j = 0; j < n; ++j) z[j] = z[j] > 0.0 ? z[j] : 0.01 * z[j];
        break;
      case kTanh:
        for (int j = 0; j < n; ++j) z[j] = std::tanh(z[j]);
        break;
      default: break;
    }
  }
}

}  // namespace msrom::nn::detail
