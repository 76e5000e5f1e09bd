// Philox streams: known answer (Random123's published vector), determinism, independence of members and
// purposes, and the moments of the Gaussian and uniform variates.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "msrom/core/random.hpp"

using msrom::Philox;
using msrom::Purpose;

TEST_CASE("Philox4x64-10 matches Random123's known-answer vector", "[random]") {
  // kat_vectors: philox4x64 10, counter 0, key 0 -> 16554d9eca36314c db20fe9d672d0fdc d7e772cee186176b 7e68b68aec7ba23b
  const std::uint64_t expect[4] = {0x16554d9eca36314cull, 0xdb20fe9d672d0fdcull, 0xd7e772cee186176bull,
                                   0x7e68b68aec7ba23bull};
  Philox rng(0, 0, static_cast<Purpose>(0));
  double u[4];
  rng.uniform4(0, 0, u);
  for (int i = 0; i < 4; ++i) {
    const double want = (static_cast<double>(expect[i] >> 11) + 0.5) * 0x1.0p-53;
    CAPTURE(i);
    CHECK(u[i] == want);
  }
}

TEST_CASE("Philox draws depend only on (seed, member, purpose, step, component)", "[random]") {
  Philox a(42, 7, Purpose::dynamics_noise), b(42, 7, Purpose::dynamics_noise);
  std::vector<double> x(11), y(11);
  a.normals(1000, x.data(), x.size());
  // Drawn in another order and one at a time: the same numbers.
  for (int j = 10; j >= 0; --j) y[j] = b.normal(1000, static_cast<std::uint64_t>(j));
  CHECK(x == y);
  CHECK(Philox(42, 8, Purpose::dynamics_noise).normal(1000, 0) != x[0]);
  CHECK(Philox(42, 7, Purpose::initial_condition).normal(1000, 0) != x[0]);
  CHECK(Philox(43, 7, Purpose::dynamics_noise).normal(1000, 0) != x[0]);
  CHECK(a.normal(1001, 0) != x[0]);
}

TEST_CASE("Gaussian and uniform variates have the right moments", "[random]") {
  // n = 1e6: standard errors of the mean, variance, 4th moment are 1e-3, 1.4e-3, 1e-2 (Gaussian);
  // tolerances are 5 standard errors.
  const std::size_t n = 1000000;
  Philox rng(2024, 3, Purpose::dynamics_noise);
  std::vector<double> z(16);
  double s1 = 0, s2 = 0, s4 = 0, u1 = 0, u2 = 0, umin = 1, umax = 0;
  for (std::size_t step = 0; step < n / 16; ++step) {
    rng.normals(step, z.data(), z.size());
    for (double v : z) s1 += v, s2 += v * v, s4 += v * v * v * v;
    rng.uniforms(step, z.data(), z.size());
    for (double v : z) u1 += v, u2 += v * v, umin = std::min(umin, v), umax = std::max(umax, v);
  }
  const double dn = static_cast<double>(n);
  CHECK(std::abs(s1 / dn) < 5e-3);
  CHECK(std::abs(s2 / dn - 1) < 7e-3);
  CHECK(std::abs(s4 / dn - 3) < 5e-2);
  CHECK(std::abs(u1 / dn - 0.5) < 5 * std::sqrt(1.0 / 12 / dn));
  CHECK(std::abs(u2 / dn - 1.0 / 3) < 5 * std::sqrt(4.0 / 45 / dn));
  CHECK(umin > 0);
  CHECK(umax < 1);
}

TEST_CASE("Neighbouring members' streams are uncorrelated", "[random]") {
  const std::size_t n = 200000;
  double sxy = 0;
  for (std::size_t step = 0; step < n; ++step)
    sxy += Philox(5, 0, Purpose::dynamics_noise).normal(step, 0) * Philox(5, 1, Purpose::dynamics_noise).normal(step, 0);
  // Correlation standard error 1/sqrt(n) = 2.2e-3.
  CHECK(std::abs(sxy / static_cast<double>(n)) < 5 / std::sqrt(static_cast<double>(n)));
}
