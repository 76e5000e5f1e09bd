// msrom ensemble: ensembles of a reduced-order model on MPI ranks (rom/ensemble.hpp) -> rollouts.h5.
//
// Sample runs:
//   msrom ensemble -model model.h5 -members 100 -ts_dt 0.01 -ts_max_time 1e4 -output rollouts.h5
//   mpiexec -n 4 msrom ensemble -model model.h5 -members 10000 -ensemble_save_every 0 -ts_max_time 1e5
//   msrom ensemble -model ou -ensemble_phi 2 -members 1000 -output ou.h5          (analytic check)
//   msrom ensemble ... -ensemble_checkpoint_every 100000; after a SIGTERM: msrom ensemble ... -restart
//   msrom ensemble ... -members 1000 -ensemble_member_begin 500 -ensemble_member_count 250 -output part2.h5
//     (members 500..749 of the 1000-member ensemble; msrom merge joins the parts bit for bit)
//   msrom ensemble ... -ensemble_part $SLURM_ARRAY_TASK_ID -ensemble_parts $SLURM_ARRAY_TASK_COUNT -output p_$ID.h5
#include <cstdio>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/options.hpp"
#include "msrom/rom/roms.hpp"

namespace msrom::cli {

int ensemble(Session& session) {
  if (msde_model_given()) return ensemble_msde(session);  // issue 7: a multiscale model (/msde), evaluate_msde.cpp
  Options opts("ensemble");
  const auto cfg = rom::read_ensemble_options(opts);
  // With -help the model is not loaded (there may be none yet): its options are listed all the same.
  auto model = rom::make_rom(help_requested() ? "ou" : cfg.model, opts);
  read_nn_kernel_option();
  if (finish_options("usage: msrom ensemble -model model.h5|ou|double_well [-members M] [-ts_dt DT] "
                     "[-ts_max_time T] [-restart] [-ensemble_part I -ensemble_parts N | -ensemble_member_begin B "
                     "-ensemble_member_count C] -output rollouts.h5"))
    return 0;
  rom::install_signal_handlers();
  const auto r = rom::run_ensemble(*model, cfg, MPI_COMM_WORLD);
  if (r.interrupted) return rom::kExitCheckpointed;
  if (rank() == 0)
    std::printf("ensemble: %s, %lld members x %lld steps on %d ranks in %.2f s: %.3g member-steps/s (%lld diverged) -> %s\n",
                model->name().c_str(), static_cast<long long>(cfg.member_count), static_cast<long long>(cfg.steps), size(),
                r.seconds, r.member_steps_per_second, static_cast<long long>(r.diverged), cfg.output.c_str());
  print_metrics(r.metrics);
  return 0;
}

}  // namespace msrom::cli
