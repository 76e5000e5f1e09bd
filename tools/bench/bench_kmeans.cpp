// Benchmark driver (not a test): Lloyd k-means of msrom on the samples and initial centroids of an HDF5
// file written by tools/bench/bench_kmeans.py, timed, centroids written back for comparison.
//   mpiexec -n 2 build/bench_kmeans IN.h5 OUT.h5 ITERATIONS
#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "msrom/core/comm.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/session.hpp"
#include "msrom/score/kmeans.hpp"

int main(int argc, char** argv) {
  msrom::Session session(argc, argv, false);
  if (argc < 4) {
    std::fprintf(stderr, "usage: bench_kmeans IN.h5 OUT.h5 ITERATIONS\n");
    return 2;
  }
  const auto in = msrom::h5::File::open(argv[1]);
  const auto shape = in.shape("/x");  // [n, d], C order: memory is the d x n column-major matrix
  const auto n = static_cast<std::int64_t>(shape[0]), d = static_cast<std::int64_t>(shape[1]);
  const auto mine = msrom::block_range(n, msrom::size(), msrom::rank());
  const auto xs = in.read_slab("/x", {static_cast<hsize_t>(mine.begin), 0}, {static_cast<hsize_t>(mine.count()), shape[1]});
  const Eigen::Map<const Eigen::MatrixXd> x(xs.data(), d, mine.count());
  const auto cs = in.read("/init");
  const Eigen::Map<const Eigen::MatrixXd> init(cs.data(), d, static_cast<Eigen::Index>(cs.size() / d));

  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  const auto r = msrom::score::lloyd(x, init, std::atoi(argv[3]), 0.0, MPI_COMM_WORLD);
  const double t = MPI_Wtime() - t0;
  if (msrom::rank() == 0) {
    msrom::h5::OutputFile out(argv[2], MPI_COMM_SELF);
    out.write("/centroids", {static_cast<hsize_t>(r.centroids.cols()), static_cast<hsize_t>(d)}, r.centroids.data());
    out.commit();
    std::printf("%.6f\n", t);
  }
  return 0;
}
