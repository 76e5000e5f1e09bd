#include "msrom/core/random.hpp"

#include <cmath>

namespace msrom {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
// Top 53 bits to (0, 1): (k + 0.5) 2^-53, never 0 (log-safe) and never 1.
inline double to_open01(std::uint64_t w) { return (static_cast<double>(w >> 11) + 0.5) * 0x1.0p-53; }
}  // namespace

Philox::Philox(std::uint64_t seed, std::uint64_t member, Purpose purpose) {
  key_ = {{seed, (static_cast<std::uint64_t>(purpose) << 48) | (member & 0xFFFFFFFFFFFFull)}};
}

void Philox::uniform4(std::uint64_t step, std::uint64_t block, double out[4]) const {
  r123::Philox4x64::ctr_type c = {{step, block, 0, 0}};
  auto r = gen_(c, key_);
  for (int i = 0; i < 4; ++i) out[i] = to_open01(r.v[i]);
}

void Philox::normal4(std::uint64_t step, std::uint64_t block, double out[4]) const {
  double u[4];
  uniform4(step, block, u);
  for (int i = 0; i < 4; i += 2) {
    const double rad = std::sqrt(-2.0 * std::log(u[i]));
    const double ang = kTwoPi * u[i + 1];
    out[i] = rad * std::cos(ang);
    out[i + 1] = rad * std::sin(ang);
  }
}

void Philox::normals(std::uint64_t step, double* out, std::size_t n) const {
  double b[4];
  for (std::size_t j = 0; j < n; j += 4) {
    normal4(step, j / 4, b);
    for (std::size_t i = 0; i < 4 && j + i < n; ++i) out[j + i] = b[i];
  }
}

void Philox::uniforms(std::uint64_t step, double* out, std::size_t n) const {
  double b[4];
  for (std::size_t j = 0; j < n; j += 4) {
    uniform4(step, j / 4, b);
    for (std::size_t i = 0; i < 4 && j + i < n; ++i) out[j + i] = b[i];
  }
}

double Philox::normal(std::uint64_t step, std::uint64_t component) const {
  double b[4];
  normal4(step, component / 4, b);
  return b[component % 4];
}

double Philox::uniform(std::uint64_t step, std::uint64_t component) const {
  double b[4];
  uniform4(step, component / 4, b);
  return b[component % 4];
}

}  // namespace msrom
