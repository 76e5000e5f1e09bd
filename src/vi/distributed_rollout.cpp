// Domain-decomposed rollouts of the local multiscale model (include/msrom/vi/distributed_rollout.hpp).
#include "msrom/vi/distributed_rollout.hpp"

#include <petscdmda.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "msrom/core/errors.hpp"
#include "msrom/core/random.hpp"

namespace msrom::vi {

using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {
constexpr long kColumnBlock = 128;  // (cell, sample) columns per MLP call
}  // namespace

namespace {
// The px x py split of an nx x ny mesh over `ranks` with the shortest subdomain perimeter among those that
// leave every rank at least `least` cells along each axis; {0, 0} if none does.
std::pair<int, int> split_mesh(long nx, long ny, int ranks, long least) {
  std::pair<int, int> best{0, 0};
  long cost = 0;
  for (int px = 1; px <= ranks; ++px) {
    if (ranks % px != 0) continue;
    const int py = ranks / px;
    if (nx / px < least || ny / py < least) continue;
    const long c = nx / px + ny / py;
    if (best.first == 0 || c < cost) best = {px, py}, cost = c;
  }
  return best;
}
}  // namespace

DistributedRollout::DistributedRollout(const MsdeModel& model, const nn::Grid& mesh, int samples, MPI_Comm comm)
    : model_(model),
      comm_(comm),
      mesh_(mesh),
      cells_(mesh.size()),
      samples_(samples),
      channels_(model.fields + model.n_eta),
      radius_(model.macro_drift.radius()) {
  if (!model.local)
    throw InputError("vi::DistributedRollout: the model has a global eta (n_eta = " + std::to_string(model.n_eta) +
                     "); only a local one (-msde_eta_field local) can be split over ranks");
  if (mesh.dims != model.dims() || (mesh.dims == 1 && mesh.ny != 1))
    throw InputError("vi::DistributedRollout: a " + std::to_string(model.dims()) + "-D model on a " +
                     std::to_string(mesh.dims) + "-D mesh");
  int nranks = 1;
  MPI_Comm_size(comm, &nranks);
  if (samples < 1) throw InputError("vi::DistributedRollout: samples must be >= 1");
  const std::string shape = mesh.dims == 1 ? std::to_string(mesh.nx) + " cells"
                                           : std::to_string(mesh.nx) + " x " + std::to_string(mesh.ny) + " cells";
  const long least = std::max(radius_, 1);
  // A periodic stencil wraps around the mesh (the DMDA's periodic ghosts). The others read ghost cells beyond
  // its edges, which DMGlobalToLocal never writes (DM_BOUNDARY_GHOSTED): zero leaves them the local vector's
  // zeros, replicate reads the edge cell instead (compute_drift clamps the index).
  const DMBoundaryType boundary =
      model.macro_drift.boundary() == nn::StencilBoundary::periodic ? DM_BOUNDARY_PERIODIC : DM_BOUNDARY_GHOSTED;
  if (mesh.nx < 2L * radius_ + 1 || (mesh.dims == 2 && mesh.ny < 2L * radius_ + 1))
    throw InputError("vi::DistributedRollout: " + shape + ": every axis needs at least 2 r + 1 = " +
                     std::to_string(2 * radius_ + 1) + " cells");
  if (mesh.dims == 1) {
    if (mesh.nx / nranks < least)
      throw InputError("vi::DistributedRollout: " + shape + " on " + std::to_string(nranks) +
                       " ranks: every rank needs at least the stencil radius " + std::to_string(radius_) + " cells");
    px_ = nranks;
    MSROM_PETSC(DMDACreate1d(comm, boundary, static_cast<PetscInt>(mesh.nx), samples_ * channels_,
                             static_cast<PetscInt>(radius_), nullptr, &da_));
  } else {
    const auto [px, py] = split_mesh(mesh.nx, mesh.ny, nranks, least);
    if (px == 0)
      throw InputError("vi::DistributedRollout: " + shape + " on " + std::to_string(nranks) +
                       " ranks: no split leaves every rank the stencil radius " + std::to_string(radius_) +
                       " cells along each axis");
    px_ = px, py_ = py;
    MSROM_PETSC(DMDACreate2d(comm, boundary, boundary, DMDA_STENCIL_BOX,
                             static_cast<PetscInt>(mesh.nx), static_cast<PetscInt>(mesh.ny), px, py,
                             samples_ * channels_, static_cast<PetscInt>(radius_), nullptr, nullptr, &da_));
  }
  MSROM_PETSC(DMSetUp(da_));
  MSROM_PETSC(DMCreateGlobalVector(da_, &x_));
  MSROM_PETSC(DMCreateLocalVector(da_, &local_));
  MSROM_PETSC(VecSet(local_, 0.0));
  PetscInt xs, xm, gxs, gxm, ys, ym, gys;
  MSROM_PETSC(DMDAGetCorners(da_, &xs, &ys, nullptr, &xm, &ym, nullptr));
  MSROM_PETSC(DMDAGetGhostCorners(da_, &gxs, &gys, nullptr, &gxm, nullptr, nullptr));
  xs_ = xs, xm_ = xm, gxs_ = gxs, gxm_ = gxm;
  if (mesh.dims == 2) ys_ = ys, ym_ = ym, gys_ = gys;
  scale_noise(1.0);
  const long taps = mesh.dims == 1 ? 2L * radius_ + 1 : (2L * radius_ + 1) * (2L * radius_ + 1);
  // A drift of time: one more row, the time, which only the micro drift reads (its one global input).
  in_.resize(taps * channels_ + (model.config.drift_time ? 1 : 0), std::min<long>(kColumnBlock, owned_cells() * samples_));
  fmacro_.resize(model.fields, owned_cells() * samples_);
  fmicro_.resize(model.n_eta, owned_cells() * samples_);
}

DistributedRollout::~DistributedRollout() {
  VecDestroy(&local_);
  VecDestroy(&x_);
  DMDestroy(&da_);
}

void DistributedRollout::fill_state(const std::function<double(long, int, int)>& value) {
  PetscScalar* x;
  MSROM_PETSC(VecGetArray(x_, &x));
  for (long k = 0; k < owned_cells(); ++k)
    for (int s = 0; s < samples_; ++s)
      for (int c = 0; c < channels_; ++c) x[(k * samples_ + s) * channels_ + c] = value(cell(k), s, c);
  MSROM_PETSC(VecRestoreArray(x_, &x));
}

void DistributedRollout::set_state(const Eigen::Ref<const MatrixXd>& full) {
  if (full.rows() != cells_ * channels_ || full.cols() != samples_)
    throw std::invalid_argument("vi::DistributedRollout::set_state: " + std::to_string(full.rows()) + " x " +
                                std::to_string(full.cols()) + " for " + std::to_string(cells_) + " cells x " +
                                std::to_string(channels_) + " channels and " + std::to_string(samples_) + " samples");
  fill_state([&](long j, int s, int c) { return full(c * cells_ + j, s); });
}

void DistributedRollout::compute_drift(double time) {
  MSROM_PETSC(DMGlobalToLocalBegin(da_, x_, INSERT_VALUES, local_));
  MSROM_PETSC(DMGlobalToLocalEnd(da_, x_, INSERT_VALUES, local_));
  const PetscScalar* l;
  MSROM_PETSC(VecGetArrayRead(local_, &l));
  // Stencil of (owned cell k, sample s), column k S + s: the sample's C values in each of the (2r + 1)^dims
  // ghosted cells, row (qy (2r+1) + qx) C + c for the cell at offset (qx - r, qy - r). The MLPs run a layer at a time over their batch, so the columns go in blocks whose widest hidden
  // layer stays in cache (on 10^5 cells one batch would stream 0.3 GB per layer); each column's result does
  // not depend on its batch, so the blocking changes no bit.
  const long S = samples_, C = channels_, cols = owned_cells() * S, w = 2L * radius_ + 1;
  const long ry = mesh_.dims == 2 ? radius_ : 0;
  // The ghosted array's index of the global cell index g along x or y (replicate: g clamped onto the mesh).
  const bool replicate = model_.macro_drift.boundary() == nn::StencilBoundary::replicate;
  const auto lx = [&](long g) { return (replicate ? std::clamp(g, 0L, mesh_.nx - 1) : g) - gxs_; };
  const auto ly = [&](long g) { return (replicate ? std::clamp(g, 0L, mesh_.ny - 1) : g) - gys_; };
  for (long b0 = 0; b0 < cols; b0 += kColumnBlock) {
    const long nb = std::min(kColumnBlock, cols - b0);
    for (long b = 0; b < nb; ++b) {
      const long k = (b0 + b) / S, s = (b0 + b) % S;
      const long i = xs_ + k % xm_ - radius_, j = ys_ + k / xm_ - ry;  // stencil corner, global
      double* col = in_.col(b).data();
      for (long qy = 0; qy <= 2 * ry; ++qy)
        for (long qx = 0; qx < w; ++qx) {
          const double* src = l + ((ly(j + qy) * gxm_ + lx(i + qx)) * S + s) * C;
          for (long c = 0; c < C; ++c) col[(qy * w + qx) * C + c] = src[c];
        }
    }
    const long stencil = w * (2 * ry + 1) * C;
    model_.macro_drift.mlp().forward(in_.topLeftCorner(stencil, nb), fmacro_.middleCols(b0, nb), ws_);
    if (model_.config.drift_time) in_.row(stencil).head(nb).setConstant(time);
    if (model_.n_eta > 0) model_.micro_local.mlp().forward(in_.leftCols(nb), fmicro_.middleCols(b0, nb), ws_);
  }
  MSROM_PETSC(VecRestoreArrayRead(local_, &l));
}

MatrixXd DistributedRollout::drift(double time) {
  compute_drift(time);
  MatrixXd f(owned_cells() * channels_, samples_);
  for (long k = 0; k < owned_cells(); ++k)
    for (int s = 0; s < samples_; ++s) {
      for (int c = 0; c < channels_; ++c) {
        const long col = k * samples_ + s;
        f(k * channels_ + c, s) = c < model_.fields ? fmacro_(c, col) : fmicro_(c - model_.fields, col);
      }
    }
  return f;
}

void DistributedRollout::scale_noise(double s) {
  g_ = s * model_.diffusion_rho.unaryExpr([](double r) { return softplus(r); });
}

void DistributedRollout::advance(double t0, double h, long steps, std::uint64_t seed, std::uint64_t member,
                                 std::uint64_t counter0, Integrator scheme) {
  const Philox rng(seed, member, Purpose::dynamics_noise);
  const VectorXd gs = g_ * std::sqrt(h);
  const auto S = static_cast<std::uint64_t>(samples_), C = static_cast<std::uint64_t>(channels_);
  const bool heun = scheme == Integrator::heun;
  const auto n_owned = static_cast<std::size_t>(owned_cells() * samples_ * channels_);
  if (heun) x0_.resize(n_owned), f0_.resize(n_owned), xi_.resize(n_owned);
  auto drift_of = [&](long col, int c) { return c < model_.fields ? fmacro_(c, col) : fmicro_(c - model_.fields, col); };
  for (long n = 0; n < steps; ++n) {
    const double tn = t0 + double(n) * h;
    compute_drift(tn);
    const std::uint64_t step = counter0 + static_cast<std::uint64_t>(n);
    PetscScalar* x;
    MSROM_PETSC(VecGetArray(x_, &x));
    for (long k = 0; k < owned_cells(); ++k)
      for (long s = 0; s < samples_; ++s) {
        const long col = k * samples_ + s;
        const std::uint64_t base = (static_cast<std::uint64_t>(cell(k)) * S + static_cast<std::uint64_t>(s)) * C;
        double* v = x + col * channels_;
        for (int c = 0; c < channels_; ++c) {
          const double f = drift_of(col, c);
          if (heun) {  // predictor; keep x, f(x) and the noise for the corrector
            const std::size_t i = static_cast<std::size_t>(col * channels_ + c);
            const double xi = gs[c] * rng.normal(step, base + static_cast<std::uint64_t>(c));
            x0_[i] = v[c];
            f0_[i] = f;
            xi_[i] = xi;
            v[c] = v[c] + h * f + xi;
          } else {
            v[c] = v[c] + h * f + gs[c] * rng.normal(step, base + static_cast<std::uint64_t>(c));
          }
        }
      }
    MSROM_PETSC(VecRestoreArray(x_, &x));
    if (!heun) continue;
    compute_drift(tn + h);  // at the predictor (a second ghost exchange)
    MSROM_PETSC(VecGetArray(x_, &x));
    for (long col = 0; col < owned_cells() * samples_; ++col)
      for (int c = 0; c < channels_; ++c) {
        const std::size_t i = static_cast<std::size_t>(col * channels_ + c);
        x[i] = x0_[i] + 0.5 * h * (f0_[i] + drift_of(col, c)) + xi_[i];
      }
    MSROM_PETSC(VecRestoreArray(x_, &x));
  }
}

MatrixXd DistributedRollout::gather() const {
  // Every rank's owned block and its corners to every rank, then the model layout.
  int nranks = 1;
  MPI_Comm_size(comm_, &nranks);
  const long corner[4] = {xs_, ys_, xm_, ym_};
  std::vector<long> corners(4 * static_cast<std::size_t>(nranks));
  MPI_Allgather(corner, 4, MPI_LONG, corners.data(), 4, MPI_LONG, comm_);
  const long SC = static_cast<long>(samples_) * channels_;
  std::vector<int> counts(static_cast<std::size_t>(nranks)), displs(static_cast<std::size_t>(nranks));
  for (int r = 0; r < nranks; ++r) {
    counts[r] = static_cast<int>(corners[4 * r + 2] * corners[4 * r + 3] * SC);
    if (r > 0) displs[r] = displs[r - 1] + counts[r - 1];
  }
  VectorXd all(cells_ * SC);
  const PetscScalar* x;
  MSROM_PETSC(VecGetArrayRead(x_, &x));
  MPI_Allgatherv(x, static_cast<int>(owned_cells() * SC), MPI_DOUBLE, all.data(), counts.data(), displs.data(),
                 MPI_DOUBLE, comm_);
  MSROM_PETSC(VecRestoreArrayRead(x_, &x));
  MatrixXd full(cells_ * channels_, samples_);
  for (int r = 0; r < nranks; ++r) {
    const long rxs = corners[4 * r], rys = corners[4 * r + 1], rxm = corners[4 * r + 2], rym = corners[4 * r + 3];
    const double* block = all.data() + displs[r];
    for (long k = 0; k < rxm * rym; ++k) {
      const long cell = (rys + k / rxm) * mesh_.nx + rxs + k % rxm;
      for (int s = 0; s < samples_; ++s)
        for (int c = 0; c < channels_; ++c) full(c * cells_ + cell, s) = block[(k * samples_ + s) * channels_ + c];
    }
  }
  return full;
}

}  // namespace msrom::vi
