// msrom evaluate: long-run statistics of models against the data (analysis/evaluate.hpp) -> DIR/metrics.json,
// DIR/evaluate.h5, a table on stdout and DIR/figures/*.png (tools/plot_evaluate.py).
//
// Sample runs:
//   msrom evaluate -data data.h5 -rollouts rollouts.h5 -output eval/
//   msrom evaluate -data data.h5 -rollouts langevin.h5 -rollouts_baselines gauss=gauss.h5,node=node.h5 -output eval/
//   msrom evaluate -data tri.h5 -rollouts rollouts.h5 -evaluate_wells -0.8,0.8 -evaluate_all_data -output eval/
#include <sys/wait.h>

#include <cstdio>
#include <cmath>
#include <cstdlib>

#include "commands.hpp"
#include "msrom/analysis/evaluate.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/options.hpp"

namespace msrom::cli {

int evaluate(Session& session) {
  Options opts("evaluate");
  const auto cfg = analysis::read_evaluate_options(opts);
  const bool figures = opts.flag("evaluate_figures", true, "draw PNG figures with tools/plot_evaluate.py");
  if (!session.positionals().empty()) throw InputError("unexpected argument '" + session.positionals()[0] + "'");
  if (finish_options("usage: msrom evaluate -data data.h5 -rollouts rollouts.h5 "
                     "[-rollouts_baselines name=file,...] -output DIR"))
    return 0;
  if (cfg.data.empty()) throw InputError("-data: no input file given");
  if (cfg.rollouts.empty()) throw InputError("-rollouts: no rollouts file given");
  const auto m = analysis::evaluate(cfg);
  if (rank() == 0) {
    std::printf("evaluate %s (%s) vs %s -> %s\n", cfg.data.c_str(),
                cfg.all_data ? "all data" : ("last " + std::to_string(static_cast<int>(std::lround(
                                                          100 * (1 - cfg.train_fraction)))) + "% of each member")
                                                .c_str(),
                cfg.rollouts.c_str(), join_path(cfg.output_dir, "metrics.json").c_str());
    std::fputs(analysis::evaluate_table(m).c_str(), stdout);
    std::fflush(stdout);
    if (figures) run_figures("plot_evaluate.py", "'" + cfg.output_dir + "'");
  }
  return 0;
}

}  // namespace msrom::cli
