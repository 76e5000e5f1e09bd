#pragma once
// Helpers shared by the MPI tests (tests/mpi, run at 1, 2 and 4 ranks).
#include <mpi.h>

#include <Eigen/Core>

// Every rank holds rank 0's value: bitwise equality across ranks.
inline bool same_on_all_ranks(const Eigen::VectorXd& v) {
  Eigen::VectorXd root = v;
  MPI_Bcast(root.data(), static_cast<int>(root.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int same = root == v, all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}
