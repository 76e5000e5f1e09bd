#pragma once
// Domain-decomposed rollouts of the LOCAL multiscale model (MsdeModel::local, docs/vi.md section 3; issue 8).
//
// A member's coarse state, S samples of the 1 + n_eta channels (zeta, eta_1..eta_{n_eta}) on N periodic cells,
// lives on a PETSc DMDA over the ranks of one communicator (dof = S C, stencil width r = the stencil radius):
// cell j holds sample s's channel c at (j S + s) C + c, so each sample's cell is the layers' channel-fastest
// layout. One Euler-Maruyama step (additive noise, strong order 1, as vi::sde_em):
//
//   ghost exchange (DMGlobalToLocal), then for every owned cell j, sample s and channel c
//   x_{j,s,c} <- x_{j,s,c} + h f_c(x_{j-r..j+r, s}) + sqrt(h) g_c xi,
//   xi = Philox(seed, member, dynamics_noise).normal(step, (j S + s) C + c)
//
// f_0 is the macro stencil MLP, f_1..f_{n_eta} the micro one, both by nn::Mlp's inference kernels over all
// owned (cell, sample) pairs at once, whose per-column results do not depend on the batch; the noise is
// keyed by the GLOBAL cell index. So the state after any number of steps is bitwise the same for every
// number of ranks and every split of the cells (tests/mpi). N need not be the n_zeta the model was trained
// on: every parameter the step uses is per channel (the local model is translation invariant), so a trained
// model runs on a periodic tiling of its domain, or any larger mesh (the scaling study, docs/performance.md).
//
// Full states (set_state, gather): one column per sample in the model's latent layout, channel-slowest
// (channel c of cell j at c N + j).
#include <mpi.h>
#include <petscdm.h>

#include <Eigen/Core>

#include <cstdint>
#include <functional>

#include "msrom/nn/mlp.hpp"
#include "msrom/vi/msde_model.hpp"

namespace msrom::vi {

class DistributedRollout {
 public:
  // model.local; cells >= 2 r + 1 and at least r cells per rank; samples >= 1 (InputError otherwise).
  // Collective on comm.
  DistributedRollout(const MsdeModel& model, long cells, int samples, MPI_Comm comm);
  ~DistributedRollout();
  DistributedRollout(const DistributedRollout&) = delete;
  DistributedRollout& operator=(const DistributedRollout&) = delete;

  long cells() const { return cells_; }
  int samples() const { return samples_; }
  int channels() const { return channels_; }
  long first_cell() const { return xs_; }  // this rank's cells: [first_cell, first_cell + owned_cells)
  long owned_cells() const { return xm_; }

  // The state from its values, value(cell, sample, channel), for this rank's cells only.
  void fill_state(const std::function<double(long cell, int sample, int channel)>& value);
  // The state from full columns ((C N) x S, the same on every rank).
  void set_state(const Eigen::Ref<const Eigen::MatrixXd>& full);
  // `steps` Euler-Maruyama steps of size h; step n (0-based) draws its noise at counter counter0 + n.
  void advance(double h, long steps, std::uint64_t seed, std::uint64_t member, std::uint64_t counter0);
  // The full state ((C N) x S) on every rank of the communicator.
  Eigen::MatrixXd gather() const;
  // The drift at the current state on this rank's cells: (C owned_cells) x S, cell j's channels at
  // (j - first_cell) C + c. advance() adds h times it.
  Eigen::MatrixXd drift();

 private:
  void compute_drift();  // into fmacro_, fmicro_, from the current global vector (ghost exchange first)

  const MsdeModel& model_;
  MPI_Comm comm_;
  long cells_ = 0, xs_ = 0, xm_ = 0, gxs_ = 0;
  int samples_ = 1, channels_ = 1, radius_ = 0;
  DM da_ = nullptr;
  Vec x_ = nullptr, local_ = nullptr;
  Eigen::VectorXd g_;                     // diffusion per channel
  Eigen::MatrixXd in_;              // stencils of one block of columns, (2r+1) C x 128
  Eigen::MatrixXd fmacro_, fmicro_;  // outputs, columns j S + s (owned cell j, sample s)
  nn::Workspace ws_;
};

}  // namespace msrom::vi
