#pragma once
// The explicit-SIMD GEMM of nn/gemm.hpp, written once and compiled twice, like the MLP kernel whose register
// wrappers it uses: included after kernel_impl.hpp by kernel_avx2.cpp and kernel_avx512.cpp. Everything is in
// an anonymous namespace, and there is no Eigen and no standard-library template in here (kernel_detail.hpp).
//
// C (M x N) = [C] + A (M x K) B (K x N), BLIS-style: A is packed once into panels of kMR rows, B block by
// block (kKC x kNC) into panels of kNR columns, and a register tile of kMR x kNR accumulators runs over a
// packed panel pair. Every output is the one fixed sequence
//
//   c = accumulate ? C(i, j) : 0;  c = fma(A(i, k), B(k, j), c) for k = 0, 1, ..., K - 1
//
// in whichever lane, tile or block it lands (between K blocks c goes through memory as a double, which
// changes nothing), so the avx2 and avx512 builds agree bit for bit, and with a scalar std::fma loop.
#include "kernel_detail.hpp"

namespace msrom::nn::detail {
namespace {

#if defined(MSROM_NN_ISA_AVX512)
constexpr int kGemmVecs = 3;  // vectors of rows per register tile: 3 x 8 = 24 rows ...
constexpr int kNR = 8;        // ... by 8 columns: 24 accumulators of the 32 registers
#else
constexpr int kGemmVecs = 3;  // 3 x 4 = 12 rows by 4 columns: 12 accumulators of the 16 registers
constexpr int kNR = 4;
#endif
constexpr int kMR = kGemmVecs * kLanes;
constexpr std::ptrdiff_t kKC = 256;  // K per packed block: a kMR x kKC panel of A stays in L1
constexpr std::ptrdiff_t kNC = 96;   // columns per packed block of B (kKC x kNC, ~200 KB: L2)

inline std::ptrdiff_t round_up(std::ptrdiff_t n, std::ptrdiff_t r) { return (n + r - 1) / r * r; }

// Packed A: panel p holds rows [p kMR, p kMR + kMR) as K consecutive groups of kMR values (zeros past M).
inline void pack_a(const GemmRef& g, double* Ap) {
  for (std::ptrdiff_t i0 = 0; i0 < g.M; i0 += kMR) {
    const std::ptrdiff_t mr = g.M - i0 < kMR ? g.M - i0 : kMR;
    for (std::ptrdiff_t k = 0; k < g.K; ++k, Ap += kMR) {
      const double* a = g.A + i0 * g.ars + k * g.acs;
      std::ptrdiff_t r = 0;
      for (; r < mr; ++r) Ap[r] = a[r * g.ars];
      for (; r < kMR; ++r) Ap[r] = 0.0;
    }
  }
}

// Packed block of B: rows [pc, pc + kc), columns [jc, jc + nc); panel q holds columns [jc + q kNR, ...) as kc
// consecutive groups of kNR values (zeros past the block).
inline void pack_b(const GemmRef& g, std::ptrdiff_t pc, std::ptrdiff_t kc, std::ptrdiff_t jc, std::ptrdiff_t nc,
                   double* Bp) {
  for (std::ptrdiff_t j0 = 0; j0 < nc; j0 += kNR) {
    const std::ptrdiff_t nr = nc - j0 < kNR ? nc - j0 : kNR;
    for (std::ptrdiff_t k = 0; k < kc; ++k, Bp += kNR) {
      const double* b = g.B + (pc + k) * g.brs + (jc + j0) * g.bcs;
      std::ptrdiff_t c = 0;
      for (; c < nr; ++c) Bp[c] = b[c * g.bcs];
      for (; c < kNR; ++c) Bp[c] = 0.0;
    }
  }
}

// One register tile over kc packed steps: C (kMR x kNR at column stride ldc) = [C] + Ap Bp.
inline void micro(std::ptrdiff_t kc, const double* Ap, const double* Bp, double* C, std::ptrdiff_t ldc, bool load_c) {
  Reg acc[kGemmVecs][kNR];
#pragma GCC unroll 8
  for (int c = 0; c < kNR; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < kGemmVecs; ++r) acc[r][c] = load_c ? load(C + c * ldc + r * kLanes) : set1(0.0);
  for (std::ptrdiff_t k = 0; k < kc; ++k, Ap += kMR, Bp += kNR) {
    Reg a[kGemmVecs];
#pragma GCC unroll 4
    for (int r = 0; r < kGemmVecs; ++r) a[r] = load(Ap + r * kLanes);
#pragma GCC unroll 8
    for (int c = 0; c < kNR; ++c) {
      const Reg b = set1(Bp[c]);
#pragma GCC unroll 4
      for (int r = 0; r < kGemmVecs; ++r) acc[r][c] = fmadd(a[r], b, acc[r][c]);
    }
  }
#pragma GCC unroll 8
  for (int c = 0; c < kNR; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < kGemmVecs; ++r) store(C + c * ldc + r * kLanes, acc[r][c]);
}

inline void gemm_impl(const GemmRef& g) {
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K <= 0) {
    if (!g.accumulate)
      for (std::ptrdiff_t j = 0; j < g.N; ++j)
        for (std::ptrdiff_t i = 0; i < g.M; ++i) g.C[i + j * g.ldc] = 0.0;
    return;
  }
  double* Ap = g.work;
  double* Bp = Ap + round_up(g.M, kMR) * g.K;
  pack_a(g, Ap);
  double edge[kMR * kNR];
  for (std::ptrdiff_t jc = 0; jc < g.N; jc += kNC) {
    const std::ptrdiff_t nc = g.N - jc < kNC ? g.N - jc : kNC;
    for (std::ptrdiff_t pc = 0; pc < g.K; pc += kKC) {
      const std::ptrdiff_t kc = g.K - pc < kKC ? g.K - pc : kKC;
      const bool load_c = g.accumulate || pc > 0;
      pack_b(g, pc, kc, jc, nc, Bp);
      for (std::ptrdiff_t i0 = 0; i0 < g.M; i0 += kMR) {
        const double* ap = Ap + i0 * g.K + pc * kMR;  // panel i0 / kMR, step pc
        const std::ptrdiff_t mr = g.M - i0 < kMR ? g.M - i0 : kMR;
        for (std::ptrdiff_t j0 = 0; j0 < nc; j0 += kNR) {
          const std::ptrdiff_t nr = nc - j0 < kNR ? nc - j0 : kNR;
          double* c = g.C + i0 + (jc + j0) * g.ldc;
          const double* bp = Bp + j0 * kc;
          if (mr == kMR && nr == kNR) {
            micro(kc, ap, bp, c, g.ldc, load_c);
            continue;
          }
          // An edge tile goes through a full-size copy (the padding rows and columns are computed, not kept).
          for (int q = 0; q < kNR; ++q)
            for (int r = 0; r < kMR; ++r) edge[r + q * kMR] = (load_c && q < nr && r < mr) ? c[r + q * g.ldc] : 0.0;
          micro(kc, ap, bp, edge, kMR, load_c);
          for (std::ptrdiff_t q = 0; q < nr; ++q)
            for (std::ptrdiff_t r = 0; r < mr; ++r) c[r + q * g.ldc] = edge[r + q * kMR];
        }
      }
    }
  }
}

inline std::ptrdiff_t gemm_work_impl(std::ptrdiff_t M, std::ptrdiff_t K) {
  return round_up(M, kMR) * K + round_up(kNC, kNR) * kKC;
}

}  // namespace
}  // namespace msrom::nn::detail
