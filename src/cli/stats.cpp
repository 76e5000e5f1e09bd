// msrom stats: statistics of a data set (analysis/data_stats.hpp) -> DIR/metrics.json, DIR/stats.h5.
//
// Sample runs:
//   msrom stats data.h5 -output stats/
//   msrom stats -data rollouts.h5 -dataset /ensemble/state -stats_model langevin -output eval/
#include <cstdio>

#include "commands.hpp"
#include "msrom/analysis/data_stats.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/options.hpp"

namespace msrom::cli {

void print_metrics(const Metrics& m) {
  if (rank() != 0) return;
  for (const auto& [k, v] : m.values()) std::printf("  %-36s %.6g\n", k.c_str(), v);
  std::fflush(stdout);
}

int stats(Session& session) {
  Options opts("stats");
  auto cfg = analysis::read_stats_options(opts);
  if (cfg.data.empty() && !session.positionals().empty()) cfg.data = session.positionals().front();
  if (session.positionals().size() > 1) throw InputError("unexpected argument '" + session.positionals()[1] + "'");
  if (finish_options("usage: msrom stats [-data] FILE [-dataset /state] [-output DIR]")) return 0;
  if (cfg.data.empty()) throw InputError("-data: no input file given");
  const auto m = analysis::data_stats(cfg);
  if (rank() == 0) std::printf("stats of %s:%s -> %s/metrics.json\n", cfg.data.c_str(), cfg.dataset.c_str(),
                               cfg.output_dir.c_str());
  print_metrics(m);
  return 0;
}

}  // namespace msrom::cli
