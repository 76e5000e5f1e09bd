#!/usr/bin/env bash
# The main job on the embedded default case: sets up and builds msrom, then runs the bistable pipeline
# (simulate -> stats -> lyapunov, figures) into runs/quickstart and prints the metrics and figure paths.
#   tools/quickstart.sh                  # ci-size case (seconds)
#   CASE=inputs/bistable.yaml tools/quickstart.sh   # paper size (T = 1e5, about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
CASE=${CASE:-inputs/bistable_ci.yaml}
OUT=${OUT:-runs/quickstart}
NP=${NP:-2}
mpiexec -n "$NP" build/msrom pipeline -options_file_yaml "$CASE" -output "$OUT"
echo
echo "quickstart: outputs in $OUT/ (data.h5, stats.h5, model.h5, rollouts.h5, metrics.json)"
ls "$OUT"/figures/*.png 2>/dev/null | sed 's/^/  figure: /' || true
