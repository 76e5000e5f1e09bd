#pragma once
// Helpers of the layer tests (tests/unit/test_vi_layers.cpp, test_nn2d.cpp): seeded Gaussian matrices and
// 4th-order central finite differences, (8 (f(h) - f(-h)) - (f(2h) - f(-2h))) / 12h.
#include <Eigen/Core>

#include <cstdint>
#include <functional>

#include "msrom/core/random.hpp"

namespace msrom::test {

// Standard normals, Philox(seed, 0, perturbation) at counter `step`, column-major.
inline Eigen::MatrixXd gaussian(std::uint64_t seed, Eigen::Index rows, Eigen::Index cols, std::uint64_t step) {
  Eigen::MatrixXd m(rows, cols);
  Philox(seed, 0, Purpose::perturbation).normals(step, m.data(), static_cast<std::size_t>(m.size()));
  return m;
}

// d f / d x[k] for all k; f reads x.
inline Eigen::VectorXd fd_gradient(Eigen::Ref<Eigen::VectorXd> x, const std::function<double()>& f, double h) {
  Eigen::VectorXd g(x.size());
  for (Eigen::Index k = 0; k < x.size(); ++k) {
    const double x0 = x[k];
    auto at = [&](double d) {
      x[k] = x0 + d;
      return f();
    };
    g[k] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
    x[k] = x0;
  }
  return g;
}

// max_k |a_k - b_k| / max(|b_k|, floor)
inline double rel_err(const Eigen::Ref<const Eigen::VectorXd>& a, const Eigen::Ref<const Eigen::VectorXd>& b,
                      double floor) {
  return ((a - b).array().abs() / b.array().abs().max(floor)).maxCoeff();
}

}  // namespace msrom::test
