#include "msrom/core/comm.hpp"

namespace msrom {

int rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

int size(MPI_Comm comm) {
  int s = 1;
  MPI_Comm_size(comm, &s);
  return s;
}

Range block_range(std::int64_t n, int nranks, int r) {
  const std::int64_t base = n / nranks, extra = n % nranks;
  Range out;
  out.begin = r * base + (r < extra ? r : extra);
  out.end = out.begin + base + (r < extra ? 1 : 0);
  return out;
}

void broadcast(std::string& s, MPI_Comm comm, int root) {
  long long len = static_cast<long long>(s.size());
  MPI_Bcast(&len, 1, MPI_LONG_LONG, root, comm);
  s.resize(static_cast<std::size_t>(len));
  MPI_Bcast(s.data(), static_cast<int>(len), MPI_CHAR, root, comm);
}

}  // namespace msrom
