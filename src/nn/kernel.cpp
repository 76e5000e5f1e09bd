// Run-time choice of the MLP inference kernel (nn/kernel.hpp). The kernels themselves are kernel_generic.cpp,
// and kernel_avx2.cpp and kernel_avx512.cpp, each built from kernel_impl.hpp with its own -m flags; nothing
// else in the library is compiled for more than the baseline ISA.
#include "msrom/nn/kernel.hpp"

#include <cmath>
#include <stdexcept>

#include "kernel_detail.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/nn/mlp.hpp"

namespace msrom::nn {

static_assert(static_cast<int>(Activation::swish) == 0 && static_cast<int>(Activation::leaky_relu) == 1 &&
                  static_cast<int>(Activation::tanh) == 2 && static_cast<int>(Activation::identity) == 3,
              "kernel_impl.hpp hard-codes the values of nn::Activation");

namespace {

#if defined(__x86_64__) && defined(MSROM_NN_SIMD_KERNELS)
bool cpu_has(Kernel k) {
  __builtin_cpu_init();
  switch (k) {
    case Kernel::generic: return true;
    case Kernel::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Kernel::avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
}
#else
bool cpu_has(Kernel k) { return k == Kernel::generic; }
#endif

Kernel& current() {
  static Kernel k = best_kernel();
  return k;
}

}  // namespace

std::string to_string(Kernel k) {
  switch (k) {
    case Kernel::generic: return "generic";
    case Kernel::avx2: return "avx2";
    case Kernel::avx512: return "avx512";
  }
  return "unknown";
}

bool available(Kernel k) { return cpu_has(k); }

Kernel best_kernel() {
  for (Kernel k : {Kernel::avx512, Kernel::avx2})
    if (cpu_has(k)) return k;
  return Kernel::generic;
}

Kernel kernel() { return current(); }

void use_kernel(Kernel k) {
  if (!cpu_has(k)) throw std::invalid_argument("nn::use_kernel: this CPU or build cannot run the " + to_string(k) + " kernel");
  current() = k;
}

void kernel_exp(Kernel k, const double* x, double* y, std::ptrdiff_t n) {
  if (!cpu_has(k)) throw std::invalid_argument("nn::kernel_exp: this CPU or build cannot run the " + to_string(k) + " kernel");
#if defined(MSROM_NN_SIMD_KERNELS)
  if (k == Kernel::avx2) return detail::exp_avx2(x, y, n);
  if (k == Kernel::avx512) return detail::exp_avx512(x, y, n);
#endif
  for (std::ptrdiff_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

Kernel select_kernel(const std::string& choice, MPI_Comm comm) {
  Kernel want = Kernel::generic;
  bool known = true;
  if (choice == "auto") want = best_kernel() == Kernel::generic ? Kernel::generic : best_kernel();
  else if (choice == "generic") want = Kernel::generic;
  else if (choice == "avx2") want = Kernel::avx2;
  else if (choice == "avx512") want = Kernel::avx512;
  else known = false;
  if (!known) throw InputError("-nn_kernel: unknown kernel '" + choice + "' (auto, generic, avx2, avx512)");
  // Every rank must be able to run what it was asked for; with auto, every rank must have a SIMD kernel.
  int ok = cpu_has(want) ? 1 : 0, simd = want != Kernel::generic ? 1 : 0;
  int all_ok = 0, all_simd = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
  MPI_Allreduce(&simd, &all_simd, 1, MPI_INT, MPI_MIN, comm);
  if (!all_ok) throw InputError("-nn_kernel: the " + choice + " kernel is not available on every rank's CPU (try auto)");
  if (choice == "auto" && !all_simd) want = Kernel::generic;
  use_kernel(want);
  return want;
}

}  // namespace msrom::nn
