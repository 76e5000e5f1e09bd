# Shared by msrom's batch scripts (sourced, not run): where msrom is, how ranks are launched, and the
# preemption protocol.
#
#   MSROM         the msrom executable (default $SLURM_SUBMIT_DIR/build/msrom)
#   MSROM_LAUNCH  the launcher of the ranks (default "srun --mpi=pmix": Debian's OpenMPI starts under Slurm
#                 through PMIx; "mpirun" also works inside an allocation)
#
# Preemption and time limits. The scripts ask Slurm for a warning signal before the time limit
# (#SBATCH --signal=B:USR1@N: USR1 to this batch shell, N seconds before the end) and are requeueable
# (#SBATCH --requeue). msrom_run starts msrom in the background, so that the shell can take the signal,
# and forwards USR1 and TERM to it; msrom ensemble (and a pipeline's ensemble stage) then writes its
# checkpoint and exits 3. msrom_finish requeues the job after USR1 (`scontrol requeue`): the job starts
# again from the top and continues from the checkpoint (-restart), with output identical to an
# uninterrupted run. TERM comes from Slurm itself (preemption, scontrol requeue, scancel), which requeues
# or cancels the job on its own. A command without checkpoints simply runs again: outputs are written under
# .part and renamed, so nothing half-written is left.
MSROM=${MSROM:-${SLURM_SUBMIT_DIR:-$PWD}/build/msrom}
MSROM_LAUNCH=${MSROM_LAUNCH:-srun --mpi=pmix}
MSROM_SIGNAL=
# A warning that comes before msrom has started is remembered (msrom_run then does not start it).
trap 'MSROM_SIGNAL=USR1' USR1

msrom_log() { echo "[$(date +%T)] job ${SLURM_JOB_ID:-local}${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID}: $*"; }

# msrom_run ARGS...: runs `$MSROM_LAUNCH $MSROM ARGS`, forwarding USR1/TERM; returns msrom's exit code and
# leaves the signal that came in MSROM_SIGNAL.
msrom_run() {
  if [[ "$MSROM_SIGNAL" == USR1 ]]; then
    msrom_log "USR1 before msrom started"
    return 3
  fi
  msrom_log "${MSROM_LAUNCH} msrom $*${SLURM_RESTART_COUNT:+ (restart $SLURM_RESTART_COUNT)}"
  $MSROM_LAUNCH "$MSROM" "$@" &
  local pid=$! rc=0
  # shellcheck disable=SC2064
  trap "MSROM_SIGNAL=USR1; msrom_log 'USR1: forwarding to msrom'; kill -USR1 $pid 2> /dev/null" USR1
  # shellcheck disable=SC2064
  trap "MSROM_SIGNAL=TERM; msrom_log 'TERM: forwarding to msrom'; kill -TERM $pid 2> /dev/null" TERM
  # wait returns early (status > 128) when a trapped signal arrives: wait again until msrom has exited.
  while kill -0 "$pid" 2> /dev/null; do wait "$pid" || true; done
  wait "$pid" || rc=$?
  trap 'MSROM_SIGNAL=USR1' USR1
  trap - TERM
  return $rc
}

# msrom_finish RC: the job's end after msrom_run. After the time-limit warning the job requeues itself.
msrom_finish() {
  local rc=$1
  if [[ "$MSROM_SIGNAL" == USR1 ]]; then
    msrom_log "stopped by the time-limit warning (exit $rc): requeueing"
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
  fi
  msrom_log "exit $rc${MSROM_SIGNAL:+ after $MSROM_SIGNAL}"
  exit "$rc"
}
