#pragma once
// Domain-decomposed rollouts of the LOCAL multiscale model (MsdeModel::local, docs/vi.md section 3; issue 8).
//
// A member's coarse state, S samples of the C + n_eta channels (zeta_1..zeta_C, eta_1..eta_{n_eta}) on a
// periodic mesh of cells (1-D: N cells; 2-D: nx x ny, x fastest, the model's coarse grid layout), lives on a
// PETSc DMDA over the ranks of one communicator (dof = S C, stencil width r = the stencil radius, box
// stencil in 2-D): cell k (flat index, 2-D: k = j nx + i) holds sample s's channel c at (k S + s) C + c, so
// each sample's cell is the layers' channel-fastest layout. One Euler-Maruyama step (additive noise, strong
// order 1, as vi::sde_solve):
//
//   ghost exchange (DMGlobalToLocal), then for every owned cell k, sample s and channel c
//   x_{k,s,c} <- x_{k,s,c} + h f_c(stencil of k, sample s) + sqrt(h) g_c xi,
//   xi = Philox(seed, member, dynamics_noise).normal(step, (k S + s) C + c)
//
// The stochastic Heun step (Integrator::heun, vi/predict.hpp) is that step as a predictor x~, a second ghost
// exchange and drift at x~, then x + h/2 (f(x) + f(x~)) + sqrt(h) g_c xi with the same xi.
//
// The mesh is periodic, or (the model's stencil_boundary zero or replicate) has zeros or copies of the edge
// cells beyond its edges: the DMDA's DM_BOUNDARY_GHOSTED ghost cells, never written (zero), or the edge cell
// read in their place (replicate).
//
// The stencil is the (2r+1)^dims neighbourhood in the stencil MLPs' input order (nn/grid_layers.hpp). f_0 is
// the macro stencil MLP, f_1..f_{n_eta} the micro one, both by nn::Mlp's inference kernels over the owned
// (cell, sample) pairs in blocks, whose per-column results do not depend on the batch; the noise is keyed by
// the GLOBAL cell index. So the state after any number of steps is bitwise the same for every number of
// ranks and every split of the cells (tests/mpi). The mesh need not be the coarse grid the model was trained
// on: every parameter the step uses is per channel (the local model is translation invariant), so a trained
// model runs on a periodic tiling of its domain, or any larger mesh (the scaling study, docs/performance.md).
//
// The 2-D split: px x py ranks (px py = ranks), chosen as the factorisation with the shortest subdomain
// perimeter among those that leave every rank at least r cells along each axis (InputError if none does).
//
// Full states (set_state, gather): one column per sample in the model's latent layout, channel-slowest
// (channel c of cell k at c N + k, N = all cells).
#include <mpi.h>
#include <petscdm.h>

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <vector>

#include "msrom/nn/grid_layers.hpp"
#include "msrom/nn/mlp.hpp"
#include "msrom/vi/msde_model.hpp"
#include "msrom/vi/predict.hpp"  // Integrator

namespace msrom::vi {

class DistributedRollout {
 public:
  // model.local on `mesh` (dims = the model's; every axis >= 2 r + 1 cells, and at least r cells per rank along
  // each axis); samples >= 1 (InputError otherwise). Collective on comm.
  DistributedRollout(const MsdeModel& model, const nn::Grid& mesh, int samples, MPI_Comm comm);
  // A 1-D model on N periodic cells.
  DistributedRollout(const MsdeModel& model, long cells, int samples, MPI_Comm comm)
      : DistributedRollout(model, nn::Grid{1, cells, 1}, samples, comm) {}
  ~DistributedRollout();
  DistributedRollout(const DistributedRollout&) = delete;
  DistributedRollout& operator=(const DistributedRollout&) = delete;

  long cells() const { return cells_; }  // all cells of the mesh
  // The diffusion of advance() becomes s * g (s >= 0; 1 at construction).
  void scale_noise(double s);
  const nn::Grid& mesh() const { return mesh_; }
  int samples() const { return samples_; }
  int channels() const { return channels_; }
  // This rank's cells: an xm x ym block from (xs, ys), x fastest; owned cell k is global cell cell(k).
  long owned_cells() const { return xm_ * ym_; }
  long cell(long k) const { return (ys_ + k / xm_) * mesh_.nx + xs_ + k % xm_; }
  int ranks_x() const { return px_; }  // the split of the mesh: ranks_x() x ranks_y() ranks
  int ranks_y() const { return py_; }

  // The state from its values, value(cell, sample, channel), for this rank's cells only.
  void fill_state(const std::function<double(long cell, int sample, int channel)>& value);
  // The state from full columns ((C N) x S, the same on every rank).
  void set_state(const Eigen::Ref<const Eigen::MatrixXd>& full);
  // `steps` steps of size h from time t0 by `scheme`; step n (0-based) draws its noise at counter counter0 + n
  // and evaluates the drift at t0 + n h (Heun's corrector at t0 + (n + 1) h; only a drift of time reads it).
  void advance(double t0, double h, long steps, std::uint64_t seed, std::uint64_t member, std::uint64_t counter0,
               Integrator scheme = Integrator::euler_maruyama);
  // The full state ((C N) x S) on every rank of the communicator.
  Eigen::MatrixXd gather() const;
  // The drift at the current state and `time` on this rank's cells: (C owned_cells) x S, owned cell k's
  // channels at k C + c. advance() adds h times it.
  Eigen::MatrixXd drift(double time);

 private:
  // Into fmacro_, fmicro_, from the current global vector (ghost exchange first), at `time`.
  void compute_drift(double time);

  const MsdeModel& model_;
  MPI_Comm comm_;
  nn::Grid mesh_;
  long cells_ = 0, xs_ = 0, xm_ = 0, gxs_ = 0, gxm_ = 0, ys_ = 0, ym_ = 1, gys_ = 0;
  int samples_ = 1, channels_ = 1, radius_ = 0, px_ = 1, py_ = 1;
  DM da_ = nullptr;
  Vec x_ = nullptr, local_ = nullptr;
  Eigen::VectorXd g_;                // diffusion per channel
  Eigen::MatrixXd in_;               // stencils of one block of columns, (2r+1)^dims C (+ 1: the time) x 128
  Eigen::MatrixXd fmacro_, fmicro_;  // outputs, columns k S + s (owned cell k, sample s)
  std::vector<double> x0_, f0_, xi_;  // Heun: the owned state, its drift and the scaled noise of the step
  nn::Workspace ws_;
};

}  // namespace msrom::vi
