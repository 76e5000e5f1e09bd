// Domain-decomposed rollouts of the local multiscale model (include/msrom/vi/distributed_rollout.hpp).
#include "msrom/vi/distributed_rollout.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
constexpr long kColumnBlock = 128;  // (cell, sample) columns per MLP call
}  // namespace

DistributedRollout::DistributedRollout(const MsdeModel& model, long cells, int samples, MPI_Comm comm)
    : model_(model),
      comm_(comm),
      cells_(cells),
      samples_(samples),
      channels_(1 + model.n_eta),
      radius_(model.macro_drift.radius()) {
  if (!model.local)
    throw InputError("vi::DistributedRollout: the model has a global eta (n_eta = " + std::to_string(model.n_eta) +
                     "); only a local one (-msde_eta_field local) can be split over ranks");
  if (model.dims() != 1)
    throw InputError("vi::DistributedRollout: the rollouts of a 2-D local-eta model are not built yet (a 2-D "
                     "model's eta must be global: -msde_eta_field global)");
  int nranks = 1;
  MPI_Comm_size(comm, &nranks);
  if (samples < 1) throw InputError("vi::DistributedRollout: samples must be >= 1");
  if (cells < 2L * radius_ + 1 || cells / nranks < std::max(radius_, 1))
    throw InputError("vi::DistributedRollout: " + std::to_string(cells) + " cells on " + std::to_string(nranks) +
                     " ranks: every rank needs at least the stencil radius " + std::to_string(radius_) + " cells");
  MSROM_PETSC(DMDACreate1d(comm, DM_BOUNDARY_PERIODIC, static_cast<PetscInt>(cells), samples_ * channels_,
                           static_cast<PetscInt>(radius_), nullptr, &da_));
  MSROM_PETSC(DMSetUp(da_));
  MSROM_PETSC(DMCreateGlobalVector(da_, &x_));
  MSROM_PETSC(DMCreateLocalVector(da_, &local_));
  PetscInt xs, xm, gxs;
  MSROM_PETSC(DMDAGetCorners(da_, &xs, nullptr, nullptr, &xm, nullptr, nullptr));
  MSROM_PETSC(DMDAGetGhostCorners(da_, &gxs, nullptr, nullptr, nullptr, nullptr, nullptr));
  xs_ = xs, xm_ = xm, gxs_ = gxs;
  g_ = model.diffusion_rho.unaryExpr([](double r) { return softplus(r); });
  in_.resize((2 * radius_ + 1) * channels_, std::min<long>(kColumnBlock, xm_ * samples_));
  fmacro_.resize(1, xm_ * samples_);
  fmicro_.resize(model.n_eta, xm_ * samples_);
}

DistributedRollout::~DistributedRollout() {
  VecDestroy(&local_);
  VecDestroy(&x_);
  DMDestroy(&da_);
}

void DistributedRollout::fill_state(const std::function<double(long, int, int)>& value) {
  PetscScalar* x;
  MSROM_PETSC(VecGetArray(x_, &x));
  for (long j = 0; j < xm_; ++j)
    for (int s = 0; s < samples_; ++s)
      for (int c = 0; c < channels_; ++c) x[(j * samples_ + s) * channels_ + c] = value(xs_ + j, s, c);
  MSROM_PETSC(VecRestoreArray(x_, &x));
}

void DistributedRollout::set_state(const Eigen::Ref<const MatrixXd>& full) {
  if (full.rows() != cells_ * channels_ || full.cols() != samples_)
    throw std::invalid_argument("vi::DistributedRollout::set_state: " + std::to_string(full.rows()) + " x " +
                                std::to_string(full.cols()) + " for " + std::to_string(cells_) + " cells x " +
                                std::to_string(channels_) + " channels and " + std::to_string(samples_) + " samples");
  fill_state([&](long j, int s, int c) { return full(c * cells_ + j, s); });
}

void DistributedRollout::compute_drift() {
  MSROM_PETSC(DMGlobalToLocalBegin(da_, x_, INSERT_VALUES, local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, x_, INSERT_VALUES, local_));
  const PetscScalar* l;
  MSROM_PETSC(VecGetArrayRead(local_, &l));
  // Stencil of (owned cell j, sample s), column j S + s: the sample's C values in each of the 2r + 1 ghosted
  // cells. The MLPs run a layer at a time over their batch, so the columns go in blocks whose widest hidden
  // layer stays in cache (on 10^5 cells one batch would stream 0.3 GB per layer); each column's result does
  // not depend on its batch, so the blocking changes no bit.
  const long S = samples_, C = channels_, cols = xm_ * S;
  for (long b0 = 0; b0 < cols; b0 += kColumnBlock) {
    const long nb = std::min(kColumnBlock, cols - b0);
    for (long k = 0; k < nb; ++k) {
      const long j = (b0 + k) / S, s = (b0 + k) % S;
      double* col = in_.col(k).data();
      for (long q = 0; q <= 2L * radius_; ++q) {
        const double* src = l + ((xs_ + j - radius_ + q - gxs_) * S + s) * C;
        for (long c = 0; c < C; ++c) col[q * C + c] = src[c];
      }
    }
    const auto in = in_.leftCols(nb);
    model_.macro_drift.mlp().forward(in, fmacro_.middleCols(b0, nb), ws_);
    if (model_.n_eta > 0) model_.micro_local.mlp().forward(in, fmicro_.middleCols(b0, nb), ws_);
  }
  MSROM_PETSC(VecRestoreArrayRead(local_, &l));
}

MatrixXd DistributedRollout::drift() {
  compute_drift();
  MatrixXd f(xm_ * channels_, samples_);
  for (long j = 0; j < xm_; ++j)
    for (int s = 0; s < samples_; ++s) {
      f(j * channels_, s) = fmacro_(0, j * samples_ + s);
      for (int c = 1; c < channels_; ++c) f(j * channels_ + c, s) = fmicro_(c - 1, j * samples_ + s);
    }
  return f;
}

void DistributedRollout::advance(double h, long steps, std::uint64_t seed, std::uint64_t member,
                                 std::uint64_t counter0) {
  const Philox rng(seed, member, Purpose::dynamics_noise);
  const VectorXd gs = g_ * std::sqrt(h);
  const auto S = static_cast<std::uint64_t>(samples_), C = static_cast<std::uint64_t>(channels_);
  for (long n = 0; n < steps; ++n) {
    compute_drift();
    const std::uint64_t step = counter0 + static_cast<std::uint64_t>(n);
    PetscScalar* x;
    MSROM_PETSC(VecGetArray(x_, &x));
    for (long j = 0; j < xm_; ++j)
      for (long s = 0; s < samples_; ++s) {
        const long col = j * samples_ + s;
        const std::uint64_t base = (static_cast<std::uint64_t>(xs_ + j) * S + static_cast<std::uint64_t>(s)) * C;
        double* v = x + col * channels_;
        for (int c = 0; c < channels_; ++c) {
          const double f = c == 0 ? fmacro_(0, col) : fmicro_(c - 1, col);
          v[c] = v[c] + h * f + gs[c] * rng.normal(step, base + static_cast<std::uint64_t>(c));
        }
      }
    MSROM_PETSC(VecRestoreArray(x_, &x));
  }
}

MatrixXd DistributedRollout::gather() const {
  // Every rank's owned block to every rank (1-D DMDA ranks own consecutive cells in rank order), then the
  // model layout.
  int nranks = 1;
  MPI_Comm_size(comm_, &nranks);
  std::vector<int> counts(static_cast<std::size_t>(nranks)), displs(static_cast<std::size_t>(nranks));
  const int mine = static_cast<int>(xm_ * samples_ * channels_);
  MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_);
  for (int r = 1; r < nranks; ++r) displs[r] = displs[r - 1] + counts[r - 1];
  VectorXd all(cells_ * samples_ * channels_);
  const PetscScalar* x;
  MSROM_PETSC(VecGetArrayRead(x_, &x));
  MPI_Allgatherv(x, mine, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, comm_);
  MSROM_PETSC(VecRestoreArrayRead(x_, &x));
  MatrixXd full(cells_ * channels_, samples_);
  for (long j = 0; j < cells_; ++j)
    for (int s = 0; s < samples_; ++s)
      for (int c = 0; c < channels_; ++c) full(c * cells_ + j, s) = all[(j * samples_ + s) * channels_ + c];
  return full;
}

}  // namespace msrom::vi
