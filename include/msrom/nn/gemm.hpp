#pragma once
// Dense matrix products with a fixed order of operations: the convolutions' im2col GEMMs (nn/conv.hpp) and the
// products of network training (nn::Mlp forward, dW, W^T delta).
//
//   C = [C] + op(A) op(B),  op = none | transpose
//
// With the avx2 or avx512 kernel (nn/kernel.hpp: the process-wide choice, -nn_kernel) each C(i, j) is
//   c = accumulate ? C(i, j) : 0;  c = fma(op(A)(i, k), op(B)(k, j), c) for k = 0, 1, ..., K - 1,
// so the two agree bit for bit, and a result does not depend on where in a batch a column sits. The kernels
// are packed, register-blocked SIMD code (src/nn/gemm_impl.hpp); they use the CPU's vector width where the
// default build's Eigen is limited to the baseline ISA (SSE2). With the generic kernel the product is Eigen's
// (the same values up to rounding).
#include <Eigen/Core>

namespace msrom::nn {

enum class Op { none, transpose };

// C must not overlap A or B. std::invalid_argument if the shapes do not match.
void gemm(const Eigen::Ref<const Eigen::MatrixXd>& A, Op op_a, const Eigen::Ref<const Eigen::MatrixXd>& B, Op op_b,
          Eigen::Ref<Eigen::MatrixXd> C, bool accumulate);

}  // namespace msrom::nn
