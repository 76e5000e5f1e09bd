// nn::gemm: the dispatch to the SIMD kernels of gemm_impl.hpp (or Eigen for the generic kernel).
#include "msrom/nn/gemm.hpp"

#include <stdexcept>
#include <vector>

#include "kernel_detail.hpp"
#include "msrom/nn/kernel.hpp"

namespace msrom::nn {

void gemm(const Eigen::Ref<const Eigen::MatrixXd>& A, Op op_a, const Eigen::Ref<const Eigen::MatrixXd>& B, Op op_b,
          Eigen::Ref<Eigen::MatrixXd> C, bool accumulate) {
  const bool ta = op_a == Op::transpose, tb = op_b == Op::transpose;
  const Eigen::Index M = ta ? A.cols() : A.rows(), K = ta ? A.rows() : A.cols();
  const Eigen::Index KB = tb ? B.cols() : B.rows(), N = tb ? B.rows() : B.cols();
  if (K != KB || C.rows() != M || C.cols() != N) throw std::invalid_argument("nn::gemm: shapes do not match");
#if defined(MSROM_NN_SIMD_KERNELS)
  const Kernel k = kernel();
  if (k != Kernel::generic) {
    // op(A)(i, k) is A(i, k) at i + k lda, or A(k, i) at k + i lda; the same for B (Eigen::Ref: unit inner stride).
    const std::ptrdiff_t lda = A.outerStride(), ldb = B.outerStride();
    detail::GemmRef g{A.data(), ta ? lda : 1, ta ? 1 : lda, B.data(), tb ? ldb : 1, tb ? 1 : ldb,
                      C.data(), C.outerStride(), M, N, K, accumulate, nullptr};
    const std::ptrdiff_t need = k == Kernel::avx512 ? detail::gemm_work_avx512(M, K) : detail::gemm_work_avx2(M, K);
    thread_local std::vector<double> work;
    if (static_cast<std::ptrdiff_t>(work.size()) < need) work.resize(static_cast<std::size_t>(need));
    g.work = work.data();
    if (k == Kernel::avx512) detail::gemm_avx512(g);
    else detail::gemm_avx2(g);
    return;
  }
#endif
  const auto assign = [&](const auto& product) {
    if (accumulate) C.noalias() += product;
    else C.noalias() = product;
  };
  if (ta && tb) assign(A.transpose() * B.transpose());
  else if (ta) assign(A.transpose() * B);
  else if (tb) assign(A * B.transpose());
  else assign(A * B);
}

}  // namespace msrom::nn
