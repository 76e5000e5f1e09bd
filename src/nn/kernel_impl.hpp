#pragma once
// The explicit-SIMD MLP inference kernel, written once and compiled twice: kernel_avx2.cpp defines
// MSROM_NN_ISA_AVX2 (4 lanes, -mavx2 -mfma), kernel_avx512.cpp MSROM_NN_ISA_AVX512 (8 lanes, -mavx512f).
// Everything here is in an anonymous namespace (one private copy per file, see kernel_detail.hpp).
//
// Why the result does not depend on lanes, alignment or batch position: the SIMD lanes run over a layer's
// OUTPUT features j, and members are broadcast. Output (j, m) is always
//
//   z = b_j;  z = fma(W_jk, a_km, z) for k = 0, 1, ..., n_in - 1;  a = phi(z)
//
// the same scalar sequence of correctly rounded IEEE operations in whichever lane, tile, vector width or
// batch offset it lands; phi uses only +, -, *, /, fma, min, max and exact bit manipulation. So a member's
// drift is the same bits for any split of the members over ranks, and the 4-lane and 8-lane builds agree bit
// for bit (tests/unit/test_nn.cpp checks both).
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which -Wmaybe-uninitialized misreports.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstdint>

#include "kernel_detail.hpp"

namespace msrom::nn::detail {
namespace {

#if defined(MSROM_NN_ISA_AVX512)
constexpr int kLanes = 8;
constexpr int kRows = 2;     // vectors of output features per register tile
constexpr int kMembers = 6;  // members per register tile: 12 accumulators of the 32 registers
using Reg = __m512d;
using Mask = __mmask8;
inline Mask mask_first(int n) { return static_cast<Mask>((1u << n) - 1u); }
inline Reg load(const double* p) { return _mm512_loadu_pd(p); }
inline Reg load(const double* p, Mask m) { return _mm512_maskz_loadu_pd(m, p); }
inline void store(double* p, Reg a) { _mm512_storeu_pd(p, a); }
inline void store(double* p, Reg a, Mask m) { _mm512_mask_storeu_pd(p, m, a); }
inline Reg set1(double a) { return _mm512_set1_pd(a); }
inline Reg add(Reg a, Reg b) { return _mm512_add_pd(a, b); }
inline Reg sub(Reg a, Reg b) { return _mm512_sub_pd(a, b); }
inline Reg mul(Reg a, Reg b) { return _mm512_mul_pd(a, b); }
inline Reg div(Reg a, Reg b) { return _mm512_div_pd(a, b); }
inline Reg fmadd(Reg a, Reg b, Reg c) { return _mm512_fmadd_pd(a, b, c); }   // a b + c
inline Reg fnmadd(Reg a, Reg b, Reg c) { return _mm512_fnmadd_pd(a, b, c); } // c - a b
inline Reg vmin(Reg a, Reg b) { return _mm512_min_pd(a, b); }
inline Reg vmax(Reg a, Reg b) { return _mm512_max_pd(a, b); }
inline Reg select_positive(Reg x, Reg if_pos, Reg otherwise) {
  return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_GT_OQ), otherwise, if_pos);
}
inline Reg bits_sub_shift(Reg a, std::int64_t c) {  // reinterpret((bits(a) - c) << 52)
  return _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_sub_epi64(_mm512_castpd_si512(a), _mm512_set1_epi64(c)), 52));
}
#elif defined(MSROM_NN_ISA_AVX2)
constexpr int kLanes = 4;
constexpr int kRows = 3;     // 12 accumulators + 3 weights + 1 broadcast = the 16 registers
constexpr int kMembers = 4;
using Reg = __m256d;
using Mask = __m256i;
inline Mask mask_first(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_set_epi64x(3, 2, 1, 0)); }
inline Reg load(const double* p) { return _mm256_loadu_pd(p); }
inline Reg load(const double* p, Mask m) { return _mm256_maskload_pd(p, m); }
inline void store(double* p, Reg a) { _mm256_storeu_pd(p, a); }
inline void store(double* p, Reg a, Mask m) { _mm256_maskstore_pd(p, m, a); }
inline Reg set1(double a) { return _mm256_set1_pd(a); }
inline Reg add(Reg a, Reg b) { return _mm256_add_pd(a, b); }
inline Reg sub(Reg a, Reg b) { return _mm256_sub_pd(a, b); }
inline Reg mul(Reg a, Reg b) { return _mm256_mul_pd(a, b); }
inline Reg div(Reg a, Reg b) { return _mm256_div_pd(a, b); }
inline Reg fmadd(Reg a, Reg b, Reg c) { return _mm256_fmadd_pd(a, b, c); }
inline Reg fnmadd(Reg a, Reg b, Reg c) { return _mm256_fnmadd_pd(a, b, c); }
inline Reg vmin(Reg a, Reg b) { return _mm256_min_pd(a, b); }
inline Reg vmax(Reg a, Reg b) { return _mm256_max_pd(a, b); }
inline Reg select_positive(Reg x, Reg if_pos, Reg otherwise) {
  return _mm256_blendv_pd(otherwise, if_pos, _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_GT_OQ));
}
inline Reg bits_sub_shift(Reg a, std::int64_t c) {
  return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_sub_epi64(_mm256_castpd_si256(a), _mm256_set1_epi64x(c)), 52));
}
#else
#error "kernel_impl.hpp: define MSROM_NN_ISA_AVX2 or MSROM_NN_ISA_AVX512"
#endif

// The values of nn::Activation (mlp.hpp; kernel.cpp static_asserts them).
enum : int { kSwish = 0, kLeakyRelu = 1, kTanh = 2, kIdentity = 3 };

// 1.5 * 2^52: adding it rounds |y| < 2^51 to the nearest integer (ties to even) and leaves that integer in
// the low mantissa bits.
constexpr double kMagic = 6755399441055744.0;
constexpr std::int64_t kMagicBits = 0x4338000000000000;

inline Reg round_int(Reg y) { return sub(add(y, set1(kMagic)), set1(kMagic)); }
// 2^k for integral k in [-1022, 1023].
inline Reg pow2(Reg k) { return bits_sub_shift(add(k, set1(kMagic)), kMagicBits - 1023); }

// exp(x) to about 1 ulp, with gradual overflow to inf (x > 709.78) and underflow to 0 (x < -745.1); NaN in,
// NaN out (max/min return their second operand when one is NaN). Cody-Waite reduction x = n ln2 + r,
// |r| <= ln2/2, Taylor polynomial of degree 13 (truncation < 5e-18 relative), and 2^n applied as
// 2^h 2^(n-h), h = round(n/2), so that both factors are normal numbers.
inline Reg vexp(Reg x) {
  constexpr double kLog2e = 1.4426950408889634074, kLn2Hi = 0.69314718055994528623, kLn2Lo = 2.3190468138462996154e-17;
  x = vmin(set1(709.9), vmax(set1(-745.2), x));
  const Reg n = round_int(mul(x, set1(kLog2e)));
  Reg r = fnmadd(n, set1(kLn2Hi), x);
  r = fnmadd(n, set1(kLn2Lo), r);
  constexpr double c[14] = {1.0,
                            1.0,
                            1.0 / 2,
                            1.0 / 6,
                            1.0 / 24,
                            1.0 / 120,
                            1.0 / 720,
                            1.0 / 5040,
                            1.0 / 40320,
                            1.0 / 362880,
                            1.0 / 3628800,
                            1.0 / 39916800,
                            1.0 / 479001600,
                            1.0 / 6227020800.0};
  Reg p = set1(c[13]);
  for (int i = 12; i >= 0; --i) p = fmadd(p, r, set1(c[i]));
  const Reg h = round_int(mul(n, set1(0.5)));
  return mul(mul(p, pow2(h)), pow2(sub(n, h)));
}

inline Reg activate(int act, Reg z) {
  switch (act) {
    case kSwish: return div(z, add(set1(1.0), vexp(sub(set1(0.0), z))));
    case kLeakyRelu: return select_positive(z, z, mul(set1(0.01), z));
    case kTanh: return sub(set1(1.0), div(set1(2.0), add(set1(1.0), vexp(add(z, z)))));
    default: return z;
  }
}

// One register tile: R vectors of output features from j0 (the last one partial, lanes by `tail`, when
// Partial) for M members; A and Z point at the tile's first member.
template <int R, int M, bool Partial>
inline void tile(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, double* Z, std::ptrdiff_t ldz, int j0,
                 Mask tail) {
  Reg acc[R][M];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const double* b = L.b + j0 + r * kLanes;
    const Reg bias = (Partial && r == R - 1) ? load(b, tail) : load(b);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) acc[r][m] = bias;
  }
  const double* w = L.W + j0;
  for (int k = 0; k < L.n_in; ++k, w += L.n_out) {
    Reg wr[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wr[r] = (Partial && r == R - 1) ? load(w + r * kLanes, tail) : load(w + r * kLanes);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      const Reg a = set1(A[m * lda + k]);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][m] = fmadd(wr[r], a, acc[r][m]);
    }
  }
#pragma GCC unroll 8
  for (int m = 0; m < M; ++m)
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      double* z = Z + m * ldz + j0 + r * kLanes;
      const Reg v = activate(act, acc[r][m]);
      if (Partial && r == R - 1) store(z, v, tail);
      else store(z, v);
    }
}

// All output features of M members: full tiles of kRows vectors, then the remainder.
template <int M>
inline void member_tiles(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, double* Z,
                         std::ptrdiff_t ldz) {
  constexpr int kTile = kRows * kLanes;
  int j0 = 0;
  for (; j0 + kTile <= L.n_out; j0 += kTile) tile<kRows, M, false>(L, act, A, lda, Z, ldz, j0, mask_first(0));
  const int rem = L.n_out - j0, vecs = rem / kLanes, lanes = rem % kLanes;
  const Mask tail = mask_first(lanes);
  if (lanes == 0) {
    if (vecs == 1) tile<1, M, false>(L, act, A, lda, Z, ldz, j0, tail);
    if constexpr (kRows > 2)
      if (vecs == 2) tile<2, M, false>(L, act, A, lda, Z, ldz, j0, tail);
  } else {
    if (vecs == 0) tile<1, M, true>(L, act, A, lda, Z, ldz, j0, tail);
    if (vecs == 1) tile<2, M, true>(L, act, A, lda, Z, ldz, j0, tail);
    if constexpr (kRows > 2)
      if (vecs == 2) tile<3, M, true>(L, act, A, lda, Z, ldz, j0, tail);
  }
}

inline void layer(const LayerRef& L, int act, const double* A, std::ptrdiff_t lda, std::ptrdiff_t B, double* Z,
                  std::ptrdiff_t ldz) {
  std::ptrdiff_t m0 = 0;
  for (; m0 + kMembers <= B; m0 += kMembers) member_tiles<kMembers>(L, act, A + m0 * lda, lda, Z + m0 * ldz, ldz);
  for (; m0 < B; ++m0) member_tiles<1>(L, act, A + m0 * lda, lda, Z + m0 * ldz, ldz);
}

inline void exp_impl(const double* x, double* y, std::ptrdiff_t n) {
  std::ptrdiff_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(y + i, vexp(load(x + i)));
  if (i < n) {
    const Mask m = mask_first(static_cast<int>(n - i));
    store(y + i, vexp(load(x + i, m)), m);
  }
}

}  // namespace
}  // namespace msrom::nn::detail
