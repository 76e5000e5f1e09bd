#!/usr/bin/env bash
# The main job on the embedded default cases: sets up and builds msrom, then runs
#   Method A, the bistable pipeline (simulate -> stats -> lyapunov -> learn-score -> learn-drift -> ensemble
#   -> evaluate -> learn-forcing -> forecast, figures) into runs/quickstart, and
#   Method B so far, a KdV trajectory set on the paper's mesh and its coarse-DNS baseline (eps) into
#   runs/quickstart/kdv,
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
echo "== Method B: KdV trajectories (n = 1000, inputs/kdv_ci.yaml) and the coarse DNS on 20 cells"
mkdir -p "$OUT/kdv"
mpiexec -n "$NP" build/msrom simulate -options_file_yaml inputs/kdv_ci.yaml -output "$OUT/kdv/data.h5"
mpiexec -n "$NP" build/msrom coarse-dns -data "$OUT/kdv/data.h5" -coarse_nx 20 -output "$OUT/kdv/coarse_dns"
echo
echo "quickstart: outputs in $OUT/ (data.h5, stats.h5, model.h5, rollouts.h5, forecast.h5, metrics.json; kdv/)"
ls "$OUT"/figures/*.png "$OUT"/kdv/coarse_dns/figures/*.png 2>/dev/null | sed 's/^/  figure: /' || true
