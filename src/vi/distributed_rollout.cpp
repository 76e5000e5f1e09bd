// Domain-decomposed rollouts of the local multiscale model (include/msrom/vi/distributed_rollout.hpp).
#include "msrom/vi/distributed_rollout.hpp"

#include <petscdmda.h>

#include <cmath>
#include <string>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

DistributedRollout::DistributedRollout(const MsdeModel& model, long cells, MPI_Comm comm)
    : model_(model), comm_(comm), cells_(cells), channels_(1 + model.n_eta), radius_(model.macro_drift.radius()) {
  if (!model.local)
    throw InputError("vi::DistributedRollout: the model has a global eta (n_eta = " + std::to_string(model.n_eta) +
                     "); only a local one (-msde_eta_field local) can be split over ranks");
  int nranks = 1;
  MPI_Comm_size(comm, &nranks);
  if (cells < 2L * radius_ + 1 || cells / nranks < std::max(radius_, 1))
    throw InputError("vi::DistributedRollout: " + std::to_string(cells) + " cells on " + std::to_string(nranks) +
                     " ranks: every rank needs at least the stencil radius " + std::to_string(radius_) + " cells");
  MSROM_PETSC(DMDACreate1d(comm, DM_BOUNDARY_PERIODIC, static_cast<PetscInt>(cells), channels_,
                           static_cast<PetscInt>(radius_), nullptr, &da_));
  MSROM_PETSC(DMSetUp(da_));
  MSROM_PETSC(DMCreateGlobalVector(da_, &x_));
  MSROM_PETSC(DMCreateLocalVector(da_, &local_));
  PetscInt xs, xm, gxs, gxm;
  MSROM_PETSC(DMDAGetCorners(da_, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  MSROM_PETSC(DMDAGetGhostCorners(da_, &gxs, nullptr, nullptr, &gxm, nullptr, nullptr));
  xs_ = xs, xm_ = xm, gxs_ = gxs;
  g_ = model.diffusion_rho.unaryExpr([](double r) { return softplus(r); });
  in_.resize((2 * radius_ + 1) * channels_, xm_);
  fmacro_.resize(1, xm_);
  fmicro_.resize(model.n_eta, xm_);
}

DistributedRollout::~DistributedRollout() {
  VecDestroy(&local_);
  VecDestroy(&x_);
  DMDestroy(&da_);
}

void DistributedRollout::fill_state(const std::function<double(long, int)>& value) {
  PetscScalar* x;
  MSROM_PETSC(VecGetArray(x_, &x));
  for (long j = 0; j < xm_; ++j)
    for (int c = 0; c < channels_; ++c) x[j * channels_ + c] = value(xs_ + j, c);
  MSROM_PETSC(VecRestoreArray(x_, &x));
}

void DistributedRollout::set_state(const Eigen::Ref<const VectorXd>& full) {
  if (full.size() != cells_ * channels_)
    throw std::invalid_argument("vi::DistributedRollout::set_state: " + std::to_string(full.size()) +
                                " values for " + std::to_string(cells_) + " cells x " + std::to_string(channels_) +
                                " channels");
  fill_state([&](long j, int c) { return full[c * cells_ + j]; });
}

void DistributedRollout::compute_drift() {
  MSROM_PETSC(DMGlobalToLocalBegin(da_, x_, INSERT_VALUES, local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, x_, INSERT_VALUES, local_));
  const PetscScalar* l;
  MSROM_PETSC(VecGetArrayRead(local_, &l));
  // Owned cell j's stencil x_{j-r..j+r} is one contiguous block of the ghosted array.
  const Index width = in_.rows();
  for (long j = 0; j < xm_; ++j)
    in_.col(j) = Eigen::Map<const VectorXd>(l + (xs_ + j - radius_ - gxs_) * channels_, width);
  MSROM_PETSC(VecRestoreArrayRead(local_, &l));
  model_.macro_drift.mlp().forward(in_, fmacro_, ws_);
  if (model_.n_eta > 0) model_.micro_local.mlp().forward(in_, fmicro_, ws_);
}

VectorXd DistributedRollout::drift() {
  compute_drift();
  VectorXd f(xm_ * channels_);
  for (long j = 0; j < xm_; ++j) {
    f[j * channels_] = fmacro_(0, j);
    for (int c = 1; c < channels_; ++c) f[j * channels_ + c] = fmicro_(c - 1, j);
  }
  return f;
}

void DistributedRollout::advance(double h, long steps, std::uint64_t seed, std::uint64_t member,
                                 std::uint64_t counter0) {
  const Philox rng(seed, member, Purpose::dynamics_noise);
  const VectorXd gs = g_ * std::sqrt(h);
  for (long n = 0; n < steps; ++n) {
    compute_drift();
    const std::uint64_t step = counter0 + static_cast<std::uint64_t>(n);
    PetscScalar* x;
    MSROM_PETSC(VecGetArray(x_, &x));
    for (long j = 0; j < xm_; ++j) {
      const std::uint64_t cell = static_cast<std::uint64_t>(xs_ + j) * static_cast<std::uint64_t>(channels_);
      for (int c = 0; c < channels_; ++c) {
        const double f = c == 0 ? fmacro_(0, j) : fmicro_(c - 1, j);
        const double xi = rng.normal(step, cell + static_cast<std::uint64_t>(c));
        double& v = x[j * channels_ + c];
        v = v + h * f + gs[c] * xi;
      }
    }
    MSROM_PETSC(VecRestoreArray(x_, &x));
  }
}

VectorXd DistributedRollout::gather() const {
  // Every rank's owned block (channel-fastest) to every rank, then the channel-slowest full state.
  int nranks = 1;
  MPI_Comm_size(comm_, &nranks);
  std::vector<int> counts(static_cast<std::size_t>(nranks)), displs(static_cast<std::size_t>(nranks));
  const int mine = static_cast<int>(xm_ * channels_);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_);
  for (int r = 1; r < nranks; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  VectorXd fast(cells_ * channels_);
  const PetscScalar* x;
  MSROM_PETSC(VecGetArrayRead(x_, &x));
  MPI_Allgatherv(x, mine, MPI_DOUBLE, fast.data(), counts.data(), displs.data(), MPI_DOUBLE, comm_);
  MSROM_PETSC(VecRestoreArrayRead(x_, &x));
  // DMDA 1-D ranks own consecutive cells in rank order, so `fast` is the cells in order.
  VectorXd full(cells_ * channels_);
  for (long j = 0; j < cells_; ++j)
    for (int c = 0; c < channels_; ++c) full[c * cells_ + j] = fast[j * channels_ + c];
  return full;
}

}  // namespace msrom::vi
