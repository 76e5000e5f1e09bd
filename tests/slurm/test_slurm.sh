#!/usr/bin/env bash
# The Slurm tests (ctest label slurm): the job scripts on a real single-node Slurm, which this test starts
# itself (tools/slurm/start.sh; reused if it is running).
#
#   tests/slurm/test_slurm.sh build/msrom                 # what ctest runs
#   MSROM_SLURM_TIMELIMIT=1 tests/slurm/test_slurm.sh build/msrom   # also a real time limit (+ ~1 minute)
#
# 1. The pipeline of inputs/bistable_ci.yaml as a chain of jobs (job_scripts/submit_pipeline.sh), with the
#    ensemble as a job array of 2 parts merged by msrom merge: every stage completes, the metrics are those
#    of the case, and the merged rollouts equal one run of the ensemble stage bit for bit.
# 2. An array job (job_scripts/ensemble.sbatch --array=0-2) and its merge job against one single-run job.
# 3. Preemption: the time-limit warning (USR1 to the batch shell, as --signal=B:USR1@N sends it) makes msrom
#    checkpoint and the script requeue the job; `scontrol requeue` (what preemption does) sends TERM and
#    Slurm requeues. Both restarted jobs finish with output bitwise equal to an uninterrupted run.
#    With MSROM_SLURM_TIMELIMIT=1, also a job with --time=1 --signal=B:USR1@30 (Slurm's own warning).
# "Bitwise equal" is h5diff over /ensemble and /time (every dataset and dataset attribute); the root
# attributes name the process that wrote the file (command, created, nranks) and differ (docs/slurm.md).
set -uo pipefail
MSROM=$(realpath "${1:?usage: tests/slurm/test_slurm.sh path/to/msrom}")
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T0=$(date +%s)
envfile=$("$SRC/tools/slurm/start.sh" -q) || { echo "FAILED: tools/slurm/start.sh could not start Slurm"; exit 1; }
# shellcheck disable=SC1090
source "$envfile"
export MSROM MSROM_JOB_SCRIPTS=$SRC/job_scripts
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
W=$(mktemp -d /tmp/msrom_slurm_test.XXXXXX)
cd "$W" || exit 1
echo "slurm test: work directory $W, SLURM_CONF=$SLURM_CONF"

passed=0 failed=0
check() {  # check DESCRIPTION COMMAND...: one assertion
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
    passed=$((passed + 1))
  else
    echo "FAILED: $what"
    failed=$((failed + 1))
  fi
}
state() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//'; }
restarts() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' | head -1; }
# Waits until every job is in a final state (at most $2 seconds). squeue alone is not enough: between a
# requeued job's exit and its return to PENDING it is REQUEUED, a state squeue does not list, so the
# states come from scontrol (an array's tasks all count). A requeued job waits for its BeginTime (Slurm
# delays a requeued job by two minutes); the test moves that, once per requeue, to 2 s from now. Not to now:
# slurmd revokes the job's credential at the requeue with a time in whole seconds and refuses a restart
# whose credential is from the same second ("Job credential revoked"; the job then ends FAILED).
final_state() {  # final_state JOBID: true when every task of the job has ended
  local st
  st=$(state "$1")
  [[ -n "$st" ]] || return 1
  for s in $st; do
    case $s in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED) ;;
      *) return 1 ;;
    esac
  done
}
wait_jobs() {
  local ids=$1 limit=${2:-180} t=0 moved=" "
  while ((t < limit * 2)); do
    local active id st reason done=1
    for id in ${ids//,/ }; do final_state "$id" || done=0; done
    ((done)) && return 0
    active=$(squeue -h -j "$ids" -o '%i %T %r' 2> /dev/null)
    while read -r id st reason; do
      [[ "$st" == PENDING && "$reason" == BeginTime ]] || continue
      local key="$id:$(restarts "$id")"  # once per requeue: a job may be requeued again
      if [[ "$moved" != *" $key "* ]]; then
        scontrol update JobId="$id" StartTime=now+2 > /dev/null 2>&1 && moved+="$key "
      fi
    done <<< "$active"
    sleep 0.5
    t=$((t + 1))
  done
  echo "timeout waiting for jobs $ids:"
  squeue -j "$ids"
  return 1
}
wait_file() { local t=0; while [[ ! -e "$1" ]] && ((t < 600)); do sleep 0.1; t=$((t + 1)); done; [[ -e "$1" ]]; }
same() { h5diff -q "$1" "$2" /ensemble && h5diff -q "$1" "$2" /time; }
differs() { ! h5diff -q "$1" "$2" /ensemble > /dev/null 2>&1; }
dump_logs() { for f in "$@"; do [[ -e "$f" ]] && { echo "---- $f"; tail -20 "$f"; }; done; }

# ---- 1. The pipeline as chained jobs, the ensemble as an array merged by msrom merge ----
CHAIN=$W/chain
PARTS=2 RANKS=2 "$SRC/job_scripts/submit_pipeline.sh" "$SRC/inputs/bistable_ci.yaml" "$CHAIN" > /dev/null
ids=$(cut -d' ' -f2 "$CHAIN/jobs.txt" | paste -sd,)
wait_jobs "$ids" 240
for line in $(tr ' ' ':' < "$CHAIN/jobs.txt"); do
  check "pipeline job ${line%%:*} (${line#*:}) completed" test "$(state "${line#*:}")" = COMPLETED
done
[[ $failed -eq 0 ]] || dump_logs "$CHAIN"/slurm-*.out
for f in data.h5 stats.h5 model.h5 rollouts.h5 rollouts.parts/part_0000/rollouts.h5 rollouts.parts/part_0001/rollouts.h5 \
         evaluate.h5 figures/pdf.png figures/pdf_overlay.png metrics.json; do
  check "pipeline wrote $f" test -s "$CHAIN/$f"
done
check "pipeline metrics: the case's statistics, a Lyapunov exponent, a Langevin model that stays close" \
  /usr/bin/python3 - "$CHAIN/metrics.json" << 'PY'
import json, sys
m = json.load(open(sys.argv[1]))
# The reference figures of tests/integration's pipeline case (std 0.93, Lyapunov 3.62, KL < 0.15).
ok = abs(m["std.data"] / 0.93 - 1) < 0.03 and abs(m["lyapunov_exponent.bistable"] / 3.62 - 1) < 0.08 \
     and m["kl.langevin"] < 0.15 and m["diverged.langevin"] == 0 and m["kgmm_clusters"] > 150
print({k: m[k] for k in ("std.data", "lyapunov_exponent.bistable", "kl.langevin", "kgmm_clusters")})
sys.exit(0 if ok else 1)
PY
# The reference: the case's ensemble stage in one run (1 rank, outside the array; the parts ran on 2).
mkdir -p "$W/single"
ln -sf "$CHAIN/model.h5" "$W/single/model.h5"
srun --mpi=pmix -n 1 "$MSROM" pipeline -options_file_yaml "$SRC/inputs/bistable_ci.yaml" -output "$W/single" -pipeline_stages ensemble \
  -pipeline_figures false -progress never > "$W/single.log" 2>&1
check "merged array rollouts == one run of the ensemble stage, bit for bit" same "$W/single/rollouts.h5" "$CHAIN/rollouts.h5"
check "(and a part alone differs: the comparison can fail)" differs "$W/single/rollouts.h5" "$CHAIN/rollouts.parts/part_0000/rollouts.h5"

# ---- 2. An ensemble job array and its merge job, against one single-run job ----
ENS=(-model double_well -ensemble_phi 0.7 -members 30 -ts_dt 0.01 -ts_max_time 1000 -ensemble_save_every 20 -seed 3)
arr=$(sbatch --parsable -n 1 --array=0-2 --output="$W/array-%A_%a.out" "$SRC/job_scripts/ensemble.sbatch" "$W/arr/rollouts.h5" "${ENS[@]}")
mrg=$(sbatch --parsable -n 1 --dependency="afterok:$arr" --output="$W/merge-%j.out" "$SRC/job_scripts/msrom.sbatch" \
      merge -inputs "$W/arr/rollouts.h5.parts/part_*.h5" -output "$W/arr/rollouts.h5")
one=$(sbatch --parsable -n 2 --output="$W/one-%j.out" "$SRC/job_scripts/ensemble.sbatch" "$W/arr/single.h5" "${ENS[@]}")
wait_jobs "$arr,$mrg,$one" 120
check "array job: 3 tasks completed" test "$(state "$arr")" = COMPLETED
check "array job: merge and single-run jobs completed" test "$(state "$mrg") $(state "$one")" = "COMPLETED COMPLETED"
check "array job: 3 part files" test "$(ls "$W"/arr/rollouts.h5.parts/part_*.h5 2> /dev/null | wc -l)" = 3
check "array job: merged == single run, bit for bit" same "$W/arr/single.h5" "$W/arr/rollouts.h5"
[[ $failed -eq 0 ]] || dump_logs "$W"/array-*.out "$W"/merge-*.out "$W"/one-*.out

# ---- 3. Preemption: checkpoint, requeue, restart; output identical to an uninterrupted run ----
PRE=(-model double_well -ensemble_phi 0.7 -members 200 -ts_dt 0.01 -ts_max_time 4000 -ensemble_save_every 500
     -ensemble_stats_every 10 -ensemble_max_lag 1 -seed 5)
"$MSROM" ensemble "${PRE[@]}" -progress never -output "$W/pre_ref.h5" > /dev/null
# 3a. The time-limit warning: USR1 to the batch shell only (scancel --batch, as --signal=B:USR1 does).
warn=$(sbatch --parsable -n 1 --output="$W/warn.out" "$SRC/job_scripts/ensemble.sbatch" "$W/warn.h5" "${PRE[@]}")
# 3b. Preemption by the scheduler: scontrol requeue (TERM to the job, Slurm requeues it).
preempt=$(sbatch --parsable -n 1 --output="$W/preempt.out" "$SRC/job_scripts/ensemble.sbatch" "$W/preempt.h5" "${PRE[@]}")
wait_file "$W/warn.h5.part" && sleep 1 && scancel --batch --signal=USR1 "$warn"
wait_file "$W/preempt.h5.part" && sleep 1 && scontrol requeue "$preempt"
wait_jobs "$warn,$preempt" 120
check "time-limit warning: msrom checkpointed" grep -q "signal 10: checkpoint" "$W/warn.out"
check "time-limit warning: the script requeued the job" grep -q "requeueing" "$W/warn.out"
check "time-limit warning: restarted once, completed" test "$(restarts "$warn") $(state "$warn")" = "1 COMPLETED"
check "time-limit warning: output == uninterrupted run, bit for bit" same "$W/pre_ref.h5" "$W/warn.h5"
check "time-limit warning: no checkpoint or .part left" test ! -e "$W/warn.h5.ckpt" -a ! -e "$W/warn.h5.part"
check "scontrol requeue: msrom checkpointed on TERM" grep -q "signal 15: checkpoint" "$W/preempt.out"
check "scontrol requeue: restarted with -restart, completed" test "$(restarts "$preempt") $(state "$preempt")" = "1 COMPLETED"
check "scontrol requeue: output == uninterrupted run, bit for bit" same "$W/pre_ref.h5" "$W/preempt.h5"
[[ $failed -eq 0 ]] || dump_logs "$W/warn.out" "$W/preempt.out"

# 3c (opt-in, ~2 minutes more). Slurm's own warning before a real time limit. Slurm checks time limits
# about every 30 s (the warning may come up to a minute early), so the ensemble is long enough to be running
# when it comes; a restarted run may be warned again and requeue again, and still ends identical.
if [[ "${MSROM_SLURM_TIMELIMIT:-0}" == 1 ]]; then
  LONG=("${PRE[@]}")
  [[ "${LONG[8]}" == -ts_max_time ]] && LONG[9]=60000  # ~75 s on one rank: longer than the warning's delay
  "$MSROM" ensemble "${LONG[@]}" -progress never -output "$W/long_ref.h5" > /dev/null &
  ref_pid=$!
  tl=$(sbatch --parsable -n 1 --time=1 --signal=B:USR1@30 --output="$W/timelimit.out" "$SRC/job_scripts/ensemble.sbatch" \
       "$W/timelimit.h5" "${LONG[@]}")
  wait_jobs "$tl" 300
  wait "$ref_pid"
  check "time limit: Slurm's warning stopped msrom, which checkpointed" grep -q "signal 10: checkpoint" "$W/timelimit.out"
  check "time limit: requeued and completed" test "$(state "$tl")" = COMPLETED
  check "time limit: output == uninterrupted run, bit for bit" same "$W/long_ref.h5" "$W/timelimit.h5"
  [[ $failed -eq 0 ]] || dump_logs "$W/timelimit.out"
fi

echo "slurm test: $(($(date +%s) - T0)) s"
echo "slurm: $passed passed, $failed failed"
if ((failed == 0)); then rm -rf "$W"; else echo "kept $W"; fi
((failed == 0))
