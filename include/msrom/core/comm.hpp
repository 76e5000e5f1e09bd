#pragma once
// MPI helpers: rank/size of a communicator and the block distribution of items (ensemble members,
// samples) over ranks. Block, not cyclic: a rank's members are contiguous, so its slab of an output
// dataset is one hyperslab.
#include <mpi.h>

#include <cstdint>
#include <string>

namespace msrom {

int rank(MPI_Comm comm = MPI_COMM_WORLD);
int size(MPI_Comm comm = MPI_COMM_WORLD);

// Items [begin, end) of `n` owned by `rank` of `nranks`: the first n % nranks ranks get one more.
struct Range {
  std::int64_t begin = 0, end = 0;
  std::int64_t count() const { return end - begin; }
};
Range block_range(std::int64_t n, int nranks, int rank);

// Makes `s` on every rank equal to `root`'s.
void broadcast(std::string& s, MPI_Comm comm = MPI_COMM_WORLD, int root = 0);

}  // namespace msrom
