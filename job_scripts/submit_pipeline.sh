#!/bin/bash
# Submits the whole pipeline of a case as a chain of Slurm jobs, each starting when the one it needs has
# succeeded (--dependency=afterok), the ensemble as a job array merged into one rollouts file:
#
#   simulate -> stats -> lyapunov -> learn-score -> learn-drift -> ensemble [array of PARTS] -> merge -> evaluate
#
#   job_scripts/submit_pipeline.sh inputs/bistable.yaml runs/bistable
#   PARTS=8 RANKS=4 SBATCH_ARGS="--partition=short --account=abc" job_scripts/submit_pipeline.sh inputs/x.yaml runs/x
#
# Environment: RANKS (tasks per job, default 2), PARTS (ensemble array tasks, default 2; 1 = no array),
# SBATCH_ARGS (extra sbatch options for every job), MSROM (the executable, default build/msrom).
# Prints one line per job (stage and job id) and writes them to DIR/jobs.txt; the last line is the final job.
# The stages are strictly chained (one directory, one metrics.json rebuilt after each stage).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CASE=${1:?usage: job_scripts/submit_pipeline.sh CASE.yaml DIR}
DIR=${2:?usage: job_scripts/submit_pipeline.sh CASE.yaml DIR}
RANKS=${RANKS:-2}
PARTS=${PARTS:-2}
CASE=$(realpath "$CASE")
mkdir -p "$DIR"
DIR=$(realpath "$DIR")
export MSROM=${MSROM:-$(realpath "$here/../build/msrom")}
export MSROM_JOB_SCRIPTS=$here
read -r -a extra <<< "${SBATCH_ARGS:-}"
: > "$DIR/jobs.txt"

prev=""
submit() {  # submit NAME [sbatch options] SCRIPT ARGS...: chained after the previous job
  local name=$1
  shift
  local dep=()
  [[ -n "$prev" ]] && dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
  prev=$(sbatch --parsable "${extra[@]}" "${dep[@]}" --job-name="msrom-$name" --output="$DIR/slurm-%x-%j.out" "$@")
  prev=${prev%%;*}
  echo "$name $prev" | tee -a "$DIR/jobs.txt"
}

for stage in simulate stats lyapunov learn-score learn-drift; do
  submit "$stage" -n "$RANKS" "$here/pipeline_stage.sbatch" "$CASE" "$DIR" "$stage"
done
if ((PARTS > 1)); then
  submit ensemble -n "$RANKS" --array="0-$((PARTS - 1))" "$here/pipeline_stage.sbatch" "$CASE" "$DIR" ensemble
  submit merge -n 1 "$here/msrom.sbatch" merge -inputs "$DIR/rollouts.parts/part_*/rollouts.h5" -output "$DIR/rollouts.h5"
else
  submit ensemble -n "$RANKS" "$here/pipeline_stage.sbatch" "$CASE" "$DIR" ensemble
fi
submit evaluate -n "$RANKS" "$here/pipeline_stage.sbatch" "$CASE" "$DIR" evaluate
