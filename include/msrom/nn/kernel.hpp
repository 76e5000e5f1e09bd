#pragma once
// Which implementation nn::Mlp's inference forward pass uses, and nn::gemm (nn/gemm.hpp: the products of
// network training and of the convolutions).
//
//   generic  portable C++ for the baseline ISA (src/nn/kernel_generic.cpp): multiply-add, std::exp; nn::gemm
//            is Eigen's product;
//   avx2     explicit AVX2+FMA kernel (src/nn/kernel_impl.hpp), 4 lanes, its own exp; nn::gemm packed and
//            register-blocked (src/nn/gemm_impl.hpp);
//   avx512   the same kernels with 8 lanes.
//
// Every kernel computes each output of each member by one fixed sequence of operations, so a member's result
// is the same bits whatever batch, offset or alignment it is evaluated in: ensembles are bitwise identical for
// any rank count. avx2 and avx512 agree bit for bit; generic differs from them by rounding (~1e-15 relative).
// Eigen's GEMM gives no such guarantee (its tail paths for narrow blocks sum in another order), which is why
// inference does not use it. The SIMD kernels are compiled into every x86-64 build and chosen at run time from
// the CPU's features, so the portable default binary gets them where they exist.
#include <mpi.h>

#include <cstddef>
#include <string>

namespace msrom::nn {

enum class Kernel { generic, avx2, avx512 };

std::string to_string(Kernel k);
bool available(Kernel k);  // can this CPU (and this build) run it?
Kernel best_kernel();      // the fastest available
Kernel kernel();           // the one in use, process-wide; initially best_kernel()
// Switch kernels (process-wide; not while another thread is inside Mlp::forward). std::invalid_argument if
// this CPU cannot run k.
void use_kernel(Kernel k);

// y[i] = exp(x[i]) with kernel k's algorithm (tests, diagnostics): about 1 ulp, overflow to inf above 709.78,
// gradual underflow to 0 below -745.1, NaN stays NaN; generic means std::exp. std::invalid_argument if k is
// not available.
void kernel_exp(Kernel k, const double* x, double* y, std::ptrdiff_t n);

// The -nn_kernel option, collective over comm: "auto" uses the best kernel when every rank can run avx2 or
// avx512 (which agree bit for bit) and generic everywhere otherwise, so results never depend on which node a
// member ran on; "generic", "avx2" or "avx512" force one. InputError on every rank (naming -nn_kernel) if a
// forced kernel is missing on any rank, or for an unknown name. Returns the kernel in use on this rank.
Kernel select_kernel(const std::string& choice, MPI_Comm comm);

}  // namespace msrom::nn
