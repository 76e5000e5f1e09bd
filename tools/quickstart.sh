#!/usr/bin/env bash
# The main job on the embedded default cases: sets up and builds msrom, then runs
#   Method A, the bistable pipeline (simulate -> stats -> lyapunov -> learn-score -> learn-drift -> ensemble
#   -> evaluate -> learn-forcing -> forecast, figures) into runs/quickstart, and
#   Method B, a KdV trajectory set on the paper's mesh (ci size: 3/1/1 trajectories x 101 snapshots), the
#   multiscale model learned on it (n_eta 0 -> 1, 300 steps per stage: seconds, far from converged) and the
#   paper's eps table against coarse DNS, DMD and POD-SINDy (evaluate-msde) into runs/quickstart/kdv,
# and prints the metrics and figure paths.
#   tools/quickstart.sh                  # ci-size case (seconds)
#   CASE=inputs/bistable.yaml tools/quickstart.sh   # paper size (T = 1e5, about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
CASE=${CASE:-inputs/bistable_ci.yaml}
OUT=${OUT:-runs/quickstart}
NP=${NP:-2}
STAGES=${STAGES:-simulate,stats,lyapunov,learn-score,learn-drift,ensemble,evaluate,learn-forcing,forecast}
mpiexec -n "$NP" build/msrom pipeline -options_file_yaml "$CASE" -output "$OUT" -pipeline_stages "$STAGES"
echo
echo "== Method B: KdV trajectories (n = 1000, inputs/kdv_ci.yaml), the multiscale model on 20 cells, the eps table"
mkdir -p "$OUT/kdv"
mpiexec -n "$NP" build/msrom simulate -options_file_yaml inputs/kdv_ci.yaml -output "$OUT/kdv/data.h5"
mpiexec -n "$NP" build/msrom learn-msde -options_file_yaml inputs/kdv_ci.yaml -msde_iterations 300 -msde_val_every 100 \
  -data "$OUT/kdv/data.h5" -output "$OUT/kdv/model.h5" -progress never
mpiexec -n "$NP" build/msrom evaluate-msde -data "$OUT/kdv/data.h5" -model "$OUT/kdv/model.h5" -predict_samples 8 \
  -output "$OUT/kdv/eval" -progress never
echo
echo "quickstart: outputs in $OUT/ (data.h5, stats.h5, model.h5, rollouts.h5, forecast.h5, metrics.json; kdv/)"
ls "$OUT"/figures/*.png "$OUT"/kdv/eval/figures/*.png 2>/dev/null | sed 's/^/  figure: /' || true
