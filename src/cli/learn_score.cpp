// msrom learn-score: the score of the slow variables' invariant density (score/score_model.hpp) -> model.h5.
//
// Sample runs:
//   msrom learn-score -data data.h5 -output model.h5
//   mpiexec -n 2 msrom learn-score -data data.h5 -score_method dsm -output model_dsm.h5
//   msrom learn-score -data mine.h5 -dataset /samples -score_clusters 400 -output model.h5   (your own data)
#include <cstdio>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"
#include "msrom/score/score_model.hpp"

namespace msrom::cli {

int learn_score(Session& session) {
  Options opts("learn-score");
  auto cfg = score::read_learn_score_options(opts);
  if (cfg.data.empty() && !session.positionals().empty()) cfg.data = session.positionals().front();
  read_nn_kernel_option();
  if (finish_options("usage: msrom learn-score -data FILE [-dataset /state] [-score_method kgmm|dsm] -output model.h5"))
    return 0;
  if (cfg.data.empty()) throw InputError("-data: no input file given");
  const auto m = score::learn_score(cfg, MPI_COMM_WORLD);
  if (rank() == 0) std::printf("learn-score (%s) %s -> %s\n", cfg.method.c_str(), cfg.data.c_str(), cfg.output.c_str());
  print_metrics(m);
  return 0;
}

}  // namespace msrom::cli
