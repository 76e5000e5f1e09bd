#pragma once
// Counter-based random numbers (Random123 Philox4x64-10), so a member's randomness never depends on which
// rank runs it, in which order, or how often it was restarted.
//
//   key     = (seed, purpose << 48 | member)     one independent stream per member and purpose
//   counter = (step, component / 4, 0, 0)          one Philox block = 4 variates at a time step
//
// Uniforms take the top 53 bits of each 64-bit word, mapped to the open interval (0, 1); Gaussians come
// from the Box-Muller transform of two uniforms of one block (4 Gaussians per block). Any (step, component)
// can be drawn directly, in any order: rerunning a member from a checkpoint at step n redraws exactly the
// numbers of the uninterrupted run.
#include <Random123/philox.h>

#include <cstddef>
#include <cstdint>

namespace msrom {

// What a stream is for; each purpose is an independent stream of every member.
enum class Purpose : std::uint64_t {
  initial_condition = 1,
  dynamics_noise = 2,
  observation_noise = 3,
  perturbation = 4,
  training = 5,
  clustering = 6,
  score_noise = 7,
};

class Philox {
 public:
  Philox(std::uint64_t seed, std::uint64_t member, Purpose purpose);

  // The 4 uniforms in (0,1) of block (step, block).
  void uniform4(std::uint64_t step, std::uint64_t block, double out[4]) const;
  // The 4 standard Gaussians of block (step, block).
  void normal4(std::uint64_t step, std::uint64_t block, double out[4]) const;
  // out[j] = Gaussian (step, component j), j = 0..n-1.
  void normals(std::uint64_t step, double* out, std::size_t n) const;
  // out[j] = uniform (step, component j), j = 0..n-1.
  void uniforms(std::uint64_t step, double* out, std::size_t n) const;
  double normal(std::uint64_t step, std::uint64_t component) const;
  double uniform(std::uint64_t step, std::uint64_t component) const;

 private:
  r123::Philox4x64 gen_;
  r123::Philox4x64::key_type key_;
};

}  // namespace msrom
