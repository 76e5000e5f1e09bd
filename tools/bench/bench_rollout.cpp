// Benchmark driver (not a test): Euler-Maruyama steps of the LOCAL multiscale model with each member's coarse
// state split over a group of ranks (vi::DistributedRollout, PETSc DMDA, ghost exchange), for the strong and
// weak scaling of tools/bench/bench_rollout_scaling.sh.
//   mpiexec -n P bench_rollout CELLS STEPS MEMBERS RANKS_PER_MEMBER [SAMPLES] [MODEL.h5]
// CELLS: N (a 1-D mesh) or NXxNY (a 2-D mesh, e.g. 2048x2048). Without MODEL.h5 the model is the paper's sizes
// with a local eta (n_eta 5, stencil radius 2: 5 or 5 x 5 cells, macro drift 128-128, micro drift
// 128-512-128, LeakyReLU; 2-D: the Burgers 2-D model, 128^2 -> 8^2, CNN kernel 5) at its seeded initial
// weights: a step costs the same flops whatever the weights. With MODEL.h5, its final stage (it must be local
// and have the mesh's dimension). A member carries SAMPLES
// (default 1) latent samples; the state starts from standard normals, h = 1e-3.
// Prints: "rollout: CELLS cells x C channels, MEMBERS members, P ranks (K per member): STEPS em|heun steps in
// T s = R cell-sample-steps/s" with T the slowest rank's time between two barriers. NN_KERNEL=generic|avx2|avx512
// picks the MLP inference kernel (default: the best available, as msrom's -nn_kernel auto). INTEGRATOR=heun
// takes stochastic Heun steps (two drift evaluations and two ghost exchanges each) instead of Euler-Maruyama.
#include <mpi.h>
#include <petscsys.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "msrom/core/random.hpp"
#include "msrom/nn/kernel.hpp"
#include "msrom/vi/distributed_rollout.hpp"
#include "msrom/vi/msde_io.hpp"

using namespace msrom;

int main(int argc, char** argv) {
  PetscInitialize(&argc, &argv, nullptr, nullptr);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  if (argc < 5) {
    if (rank == 0) std::fprintf(stderr, "usage: bench_rollout CELLS STEPS MEMBERS RANKS_PER_MEMBER [SAMPLES] [MODEL.h5]\n");
    PetscFinalize();
    return 2;
  }
  long nx = std::atol(argv[1]), ny = 1;
  const std::string shape = argv[1];
  const bool two_d = shape.find('x') != std::string::npos;
  if (two_d) ny = std::atol(shape.substr(shape.find('x') + 1).c_str());
  const long cells = nx * ny, steps = std::atol(argv[2]);
  const int members = std::atoi(argv[3]), per = std::atoi(argv[4]), samples = argc > 5 ? std::atoi(argv[5]) : 1;
  if (nx < 5 || ny < (two_d ? 5 : 1) || steps < 1 || members < 1 || per < 1 || samples < 1 || nranks % per != 0) {
    if (rank == 0) std::fprintf(stderr, "bench_rollout: bad sizes (RANKS_PER_MEMBER must divide the ranks)\n");
    PetscFinalize();
    return 2;
  }
  int code = 0;
  try {
    if (const char* k = std::getenv("NN_KERNEL")) nn::use_kernel(nn::select_kernel(k, MPI_COMM_WORLD));
    const char* scheme_name = std::getenv("INTEGRATOR");
    const vi::Integrator scheme = vi::integrator_from_string(scheme_name ? scheme_name : "em", "INTEGRATOR");
    vi::MsdeModel model = [&] {
      if (argc > 6) return vi::load_msde(argv[6]).model;
      vi::MsdeConfig c;
      c.n_y = two_d ? 128 * 128 : 1000;
      c.fine_ny = two_d ? 128 : 1;
      c.n_zeta = two_d ? 64 : 20;
      if (two_d) c.cnn_kernel = 5;
      c.n_eta = 5;
      c.local_eta = true;
      return vi::MsdeModel(c);
    }();
    MPI_Comm group;
    const int color = rank / per, groups = nranks / per;
    MPI_Comm_split(MPI_COMM_WORLD, color, rank, &group);
    double seconds = 0;
    {
      vi::DistributedRollout d(model, nn::Grid{two_d ? 2 : 1, nx, ny}, samples, group);
      MPI_Barrier(MPI_COMM_WORLD);
      const double t0 = MPI_Wtime();
      for (int m = color; m < members; m += groups) {
        const Philox init(1, static_cast<std::uint64_t>(m), Purpose::initial_condition);
        d.fill_state([&](long j, int s, int c) {
          return init.normal(0, static_cast<std::uint64_t>((j * samples + s) * d.channels() + c));
        });
        d.advance(0.0, 1e-3, steps, 1, static_cast<std::uint64_t>(m), 1, scheme);
      }
      MPI_Barrier(MPI_COMM_WORLD);
      seconds = MPI_Wtime() - t0;
      if (rank == 0)
        std::printf("rollout: %ld cells (%s) x %d channels x %d samples, %d members, %d ranks (%d per member, %d x %d): "
                    "%ld %s steps in %.4f s = %.4g cell-sample-steps/s\n",
                    cells, shape.c_str(), d.channels(), samples, members, nranks, per, d.ranks_x(), d.ranks_y(), steps,
                    vi::to_string(scheme), seconds,
                    double(cells) * double(steps) * samples * members / seconds);
    }
    MPI_Comm_free(&group);
  } catch (const std::exception& e) {
    if (rank == 0) std::fprintf(stderr, "bench_rollout: %s\n", e.what());
    code = 2;
  }
  PetscFinalize();
  return code;
}
