#!/usr/bin/env bash
# Benchmark of the cylinder-wake solver's domain decomposition (not a test): the full-size grid of
# inputs/cylinder_wake.yaml (640 x 160 MAC cells, GAMG-preconditioned CG for the pressure) for a fixed number
# of steps (default 500 steps of dt = 2e-3, no burn-in, 101 snapshots of the 320 x 80 window written) on
# 1 rank, and the same on 2 ranks (-pde_ranks_per_member 2); strong-scaling efficiency t1 / (2 t2). msrom's own
# "in S s" (integration and writing, max over ranks), best of REPEATS. The 1- and 2-rank fields agree to the
# Poisson tolerance, not bitwise (GAMG's aggregates follow the decomposition): the table gives max |diff|.
#   tools/bench/bench_cylinder.sh [REPEATS] [STEPS]     # default best of 3, 500 steps; EXE=build-cyl/msrom
# The machine must be otherwise idle: before every run the script waits (up to WAIT_IDLE seconds, default 300)
# until the CPUs are < 10% busy over 2 s, and the table says how many runs started on a busy machine.
# Prints a markdown table for docs/pde.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-3}
STEPS=${2:-500}
EXE=${EXE:-build/msrom}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. tools/bench/idle.sh  # busy, wait_idle, busy_runs, run_best

# seconds NP OUTPUT
seconds() {
  mpiexec -n "$1" "$EXE" simulate -options_file_yaml inputs/cylinder_wake.yaml -simulate_burn_in 0 \
    -ts_max_steps "$STEPS" -pde_ranks_per_member "$1" -progress never -output "$2" |
    sed -n 's/.* in \([0-9.]*\) s -> .*/\1/p'
}
run_best 1 "$tmp/one.h5"; one=$result
run_best 2 "$tmp/two.h5"; two=$result
diff=$(/usr/bin/python3 -c "import h5py, numpy as np, sys
a, b = (h5py.File(f, 'r') for f in sys.argv[1:])
print('%.1e' % max(np.abs(a[k][...] - b[k][...]).max() for k in ('/fields/u', '/fields/v')))" "$tmp/one.h5" "$tmp/two.h5")

awk -v busy="$busy_runs" -v runs="$((2 * REPEATS))" -v o="$one" -v t="$two" -v n="$STEPS" -v diff="$diff" \
  -v host="$(hostname)" -v cpu="$(nproc)" 'BEGIN {
  printf "| cylinder wake 640 x 160 cells, %d steps, best of runs (%s, %d cores) | seconds | efficiency |\n|---|---|---|\n", n, host, cpu
  printf "| 1 rank | %.3f | (%.1f ms/step, %.2e cell-steps/s) |\n", o, 1000 * o / n, 640 * 160 * n / o
  printf "| 2 ranks, -pde_ranks_per_member 2 (t1 / (2 t2)) | %.3f | %.1f%% |\n", t, 100 * o / (2 * t)
  printf "\nmax |u, v (1 rank) - u, v (2 ranks)| = %s. %d of %d runs started while another process kept the CPUs >= 10%% busy.\n", diff, busy, runs
}'
