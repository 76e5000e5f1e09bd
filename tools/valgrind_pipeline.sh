#!/usr/bin/env bash
# valgrind memcheck over every stage of the ci pipeline (inputs/bistable_ci.yaml, as tools/quickstart.sh runs it,
# plus learn-forcing at its ci size), and of quickstart's Method B on inputs/kdv_ci.yaml (simulate of the KdV ci
# case, learn-msde, msrom ensemble -model of the learned multiscale model, evaluate-msde): no memory errors, and
# no definitely/indirectly lost memory outside the libraries' own init/finalize (tools/valgrind.supp). Too slow
# for CI (minutes); results in docs/hardening.md.
#   tools/valgrind_pipeline.sh                 # both pipelines, 1 rank, build-hard/msrom (or MSROM=path)
#   NP=2 tools/valgrind_pipeline.sh            # mpiexec -n 2, valgrind on every rank
#   STAGES="simulate stats" tools/valgrind_pipeline.sh
#   STAGES="simulate-kdv learn-msde ensemble-msde evaluate-msde" tools/valgrind_pipeline.sh   # Method B only
# Each stage reads the files of the stages before it (OUT is emptied first), so STAGES keeps the pipeline's order.
# Logs: $OUT/<stage>.<pid>.log (default OUT=build-hard/valgrind). Exit 1 if any stage has an error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MSROM=${MSROM:-$ROOT/build-hard/msrom}
NP=${NP:-1}
OUT=${OUT:-$ROOT/build-hard/valgrind}
STAGES=${STAGES:-"simulate stats lyapunov learn-score learn-drift ensemble evaluate learn-forcing
                  simulate-kdv learn-msde ensemble-msde evaluate-msde"}
CI=$ROOT/inputs/bistable_ci.yaml
KDV=$ROOT/inputs/kdv_ci.yaml
command -v valgrind > /dev/null || EXTRA_PACKAGES=valgrind SETUP_BUILD=0 tools/setup.sh
[ -x "$MSROM" ] || { echo "valgrind: no $MSROM (build it, or set MSROM)"; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# OpenMPI's shared-memory single-copy (CMA) and hwloc's CPUID probing confuse valgrind; neither matters here.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
rm -rf "$OUT" && mkdir -p "$OUT/run"
cd "$OUT/run"

VG=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 --track-origins=no
    --suppressions="$ROOT/tools/valgrind.supp" --suppressions=/usr/share/openmpi/openmpi-valgrind.supp
    --gen-suppressions=all)

# The stages' command lines: the pipeline's options of the ci case on the single commands. The Langevin stages
# run shorter (tau ensemble and ensemble: 8 members, 100 time units instead of 32 and 500; the MLP on every
# member-step is what valgrind makes ~100x slower): the same code paths, minutes instead of an hour.
args_of() {
  case $1 in
    simulate) echo "simulate -options_file_yaml $CI -progress never -output data.h5" ;;
    stats) echo "stats -options_file_yaml $CI -data data.h5 -output stats" ;;
    # The case file's ts: section is not lyapunov's (it reads -ts_dt itself, so -ts_max_time would be unread).
    lyapunov) echo "lyapunov -system_type bistable -lyapunov_norm fast -lyapunov_time 100 -seed 7" ;;
    learn-score) echo "learn-score -options_file_yaml $CI -data data.h5 -output model.h5" ;;
    learn-drift) echo "learn-drift -data data.h5 -model model.h5 -seed 7 -langevin_generator_lag 1.0 -langevin_phi acf
                      -langevin_fit_members 8 -langevin_fit_time 100 -langevin_fit_dt 5e-3" ;;
    ensemble) echo "ensemble -model model.h5 -members 8 -ts_dt 5e-3 -ts_max_time 100 -ensemble_save_every 2
                   -ensemble_stats_every 20 -ensemble_max_lag 20 -seed 7 -ensemble_checkpoint_every 5000
                   -progress never -output rollouts.h5" ;;
    evaluate) echo "evaluate -data data.h5 -rollouts rollouts.h5 -evaluate_threshold 0.7 -evaluate_figures false
                   -output eval" ;;
    learn-forcing) echo "learn-forcing -data data.h5 -model model.h5 -forcing_hidden 16,16 -forcing_members 3
                        -forcing_iterations 20 -forcing_window 20 -forcing_check_trajectories 4 -forcing_check_time 4
                        -progress never" ;;
    # Method B (tools/quickstart.sh's commands on inputs/kdv_ci.yaml; its files are kdv_*). learn-msde runs 100
    # steps per stage, validating every 50, instead of quickstart's 300 and 100 (valgrind makes a step ~130x
    # slower: 9 minutes instead of 4 s): the same schedule n_eta 0 -> 1, networks, windows and validation passes.
    # quickstart does not run `ensemble -model` of the msde model: it runs here as the integration test does
    # (the case's predict.samples, 8), on the test split evaluate-msde scores. Everything else is unshortened.
    simulate-kdv) echo "simulate -options_file_yaml $KDV -progress never -output kdv_data.h5" ;;
    learn-msde) echo "learn-msde -options_file_yaml $KDV -msde_iterations 100 -msde_val_every 50 -data kdv_data.h5
                     -output kdv_model.h5 -progress never" ;;
    ensemble-msde) echo "ensemble -model kdv_model.h5 -data kdv_data.h5 -predict_samples 8 -output kdv_rollouts.h5" ;;
    evaluate-msde) echo "evaluate-msde -data kdv_data.h5 -model kdv_model.h5 -predict_samples 8 -output kdv_eval
                        -progress never" ;;
    *) echo "valgrind: unknown stage $1" >&2; exit 2 ;;
  esac
}

status=0
rows=()
for s in $STAGES; do
  read -r -a args <<< "$(args_of "$s" | tr '\n' ' ')"
  launcher=()
  ((NP > 1)) && launcher=(mpiexec -n "$NP" --oversubscribe)
  t0=$(date +%s)
  set +e
  "${launcher[@]}" "${VG[@]}" --log-file="$OUT/$s.%p.log" "$MSROM" "${args[@]}" > "$OUT/$s.out" 2>&1
  rc=$?
  set -e
  dt=$(( $(date +%s) - t0 ))
  errors=0 definite=0 indirect=0 suppressed=0
  for log in "$OUT/$s".*.log; do
    e=$(grep -oE 'ERROR SUMMARY: [0-9,]+ errors' "$log" | grep -oE '[0-9,]+' | tr -d , || echo 0)
    su=$(grep -oE 'suppressed: [0-9,]+ from' "$log" | tail -1 | grep -oE '[0-9,]+' | tr -d , || echo 0)
    d=$(grep -oE 'definitely lost: [0-9,]+ bytes' "$log" | grep -oE '[0-9,]+' | tr -d , || echo 0)
    i=$(grep -oE 'indirectly lost: [0-9,]+ bytes' "$log" | grep -oE '[0-9,]+' | tr -d , || echo 0)
    errors=$((errors + ${e:-0})) suppressed=$((suppressed + ${su:-0}))
    definite=$((definite + ${d:-0})) indirect=$((indirect + ${i:-0}))
  done
  verdict=ok
  if ((rc != 0 || errors > 0)); then verdict=FAILED status=1; fi
  row=$(printf '%-14s %-6s exit %3d  %4ds  errors %3d  suppressed %5d  unsuppressed lost: definite %7d B, indirect %7d B' \
        "$s" "$verdict" "$rc" "$dt" "$errors" "$suppressed" "$definite" "$indirect")
  echo "valgrind: $row"
  rows+=("$row")
  if [ "$verdict" != ok ]; then
    tail -5 "$OUT/$s.out"
    grep -hE '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|[0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in)' "$OUT/$s".*.log | head -20
  fi
done
echo
echo "valgrind: memcheck of the ci pipeline, $NP rank(s), $MSROM (logs in $OUT):"
printf '  %s\n' "${rows[@]}"
exit $status
