// msrom forecast: transition forecasts of the hybrid ROM against the Langevin ROM and a NODE on delay-embedded
// x (rom/forecast.hpp) -> forecast.h5, metrics.json beside it, a skill table and figures/forecast_*.png.
//
// Sample runs:
//   msrom forecast -data data.h5 -model model.h5 -output forecast/forecast.h5
//   mpiexec -n 2 msrom forecast -data data.h5 -model model.h5 -forecast_leads 0.5,1,2 -forecast_leads_time 5
//       -forecast_lyapunov_time 0.28 -output forecast/forecast.h5
#include <cmath>
#include <cstdio>
#include <map>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/files.hpp"
#include "msrom/core/options.hpp"
#include "msrom/rom/forecast.hpp"

namespace msrom::cli {

int forecast(Session& session) {
  Options opts("forecast");
  const auto cfg = rom::read_forecast_options(opts);
  const bool figures = opts.flag("forecast_figures", true, "draw PNG figures with tools/plot_forecast.py");
  read_nn_kernel_option();
  if (!session.positionals().empty()) throw InputError("unexpected argument '" + session.positionals()[0] + "'");
  if (finish_options("usage: msrom forecast -data data.h5 -model model.h5 [-forecast_leads 0.5,1,2] "
                     "[-forecast_lyapunov_time T] -output forecast.h5"))
    return 0;
  if (cfg.data.empty()) throw InputError("-data: no data file given");
  if (cfg.model.empty()) throw InputError("-model: no model file given");
  const auto m = rom::forecast(cfg, MPI_COMM_WORLD);
  const auto slash = cfg.output.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : cfg.output.substr(0, slash);
  if (rank() == 0) {
    m.write(join_path(dir, "metrics.json"));
    std::printf("forecast: %s with %s -> %s (%g transitions, Lyapunov time %.4g)\n", cfg.data.c_str(),
                cfg.model.c_str(), cfg.output.c_str(), m.get("forecast_transitions"), m.get("lyapunov_time.forecast"));
    // The skill table: one row per lead, hit rate (member average) and RMSE per model.
    std::map<double, std::string> order;
    for (const auto& [k, v] : m.values())
      if (k.rfind("hit_rate.hybrid.", 0) == 0) {
        const std::string label = k.substr(16);
        const double value = std::stod(label) * (label.back() == 'L' ? m.get("lyapunov_time.forecast") : 1.0);
        order[value] = label;
      }
    std::printf("  %-8s | %-26s | %-26s\n", "lead", "hit rate: hybrid langevin node_x", "RMSE: hybrid langevin node_x");
    for (const auto& [t, label] : order)
      std::printf("  %-8s | %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f\n", label.c_str(), m.get("hit_rate.hybrid." + label),
                  m.get("hit_rate.langevin." + label), m.get("hit_rate.node_x." + label), m.get("rmse.hybrid." + label),
                  m.get("rmse.langevin." + label), m.get("rmse.node_x." + label));
    std::printf("  validation residual ACF against the NODEs' free runs (to the first zero): max error %.3f\n",
                m.get("acf_error.node_validation"));
    std::fflush(stdout);
    if (figures) run_figures("plot_forecast.py", "'" + cfg.output + "'");
  }
  return 0;
}

}  // namespace msrom::cli
