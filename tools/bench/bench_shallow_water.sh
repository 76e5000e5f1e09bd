#!/usr/bin/env bash
# Benchmark of the shallow-water solver's domain decomposition (not a test): one paper-size trajectory of
# the radial dam break (inputs/shallow_water.yaml: 128 x 128 cells, SSP RK3 with 4 stages, dt = 2.5e-3,
# 400 steps, 101 snapshots written) on 1 rank, and the same trajectory on 2 ranks (-pde_ranks_per_member 2),
# side by side; strong-scaling efficiency t1 / (2 t2). For reference, the ceiling of any 2-rank run on this
# machine: 2 trajectories on 2 ranks, one each (no communication), t1 / t_ens. msrom's own "in S s"
# (integration and writing, max over ranks), best of REPEATS. The 1- and 2-rank files are compared bit for bit.
#   tools/bench/bench_shallow_water.sh [REPEATS]          # default best of 3; EXE=build-sw/msrom to pick a build
# The machine must be otherwise idle: a 2-rank run next to another busy process time-shares a core. Before
# every run the script waits (up to WAIT_IDLE seconds, default 300) until the CPUs are < 10% busy over 2 s,
# and the table says how many runs started on a busy machine.
# Prints a markdown table for docs/pde.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS=${1:-3}
EXE=${EXE:-build/msrom}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. tools/bench/idle.sh  # busy, wait_idle, busy_runs, run_best

# seconds NP RANKS_PER_MEMBER OUTPUT [MEMBERS]
seconds() {
  mpiexec -n "$1" "$EXE" simulate -options_file_yaml inputs/shallow_water.yaml -simulate_train "${4:-1}" \
    -simulate_validation 0 -simulate_test 0 -pde_ranks_per_member "$2" -progress never -output "$3" |
    sed -n 's/.* in \([0-9.]*\) s -> .*/\1/p'
}
run_best 1 1 "$tmp/one.h5"; one=$result
run_best 2 2 "$tmp/two.h5"; two=$result
run_best 2 1 "$tmp/ens.h5" 2; ens=$result
same=$(/usr/bin/python3 -c "import h5py, numpy as np, sys
a, b = (h5py.File(f, 'r')['/fields/u'][...] for f in sys.argv[1:])
print('yes' if np.array_equal(a, b) else 'NO')" "$tmp/one.h5" "$tmp/two.h5")

awk -v busy="$busy_runs" -v runs="$((3 * REPEATS))" -v o="$one" -v t="$two" -v e="$ens" -v same="$same" -v host="$(hostname)" -v cpu="$(nproc)" 'BEGIN {
  printf "| shallow water 128 x 128, 400 SSP-RK3 steps, 101 snapshots, best of runs (%s, %d cores) | seconds | efficiency |\n|---|---|---|\n", host, cpu
  printf "| 1 rank | %.3f | (%.2e cell-steps/s) |\n", o, 128 * 128 * 400 / o
  printf "| 2 ranks, -pde_ranks_per_member 2 (t1 / (2 t2)) | %.3f | %.1f%% |\n", t, 100 * o / (2 * t)
  printf "| ceiling: 2 trajectories on 2 ranks, one each (t1 / t_ens) | %.3f | %.1f%% |\n", e, 100 * o / e
  printf "\nFiles bitwise identical: %s. %d of %d runs started while another process kept the CPUs >= 10%% busy.\n", same, busy, runs
}'
