#!/usr/bin/env bash
# Benchmark of the field solver's domain decomposition (not a test): Burgers 2-D (Heun, 5-point Laplacian,
# DMDA ghost exchange) on a 1024^2 mesh, a few hundred steps, one trajectory.
#   strong scaling  1024 x 1024 on 1 rank  vs  the same mesh on 2 ranks (-pde_ranks_per_member 2)
#   weak scaling    1024 x 1024 on 1 rank  vs  1024 x 2048 on 2 ranks (the same 1024^2 nodes per rank)
#   ensemble        1 trajectory on 1 rank vs 2 trajectories on 2 ranks (one each: no communication)
# dt = 1e-5 (Heun's limit on 1024 x 2048 is ~1.2e-5); snapshots only at the start and the end, so the time
# is the stepping (plus writing 2 snapshots). msrom's own "in S s" (max over ranks), best of REPEATS.
#   tools/bench/bench_burgers2d_scaling.sh [STEPS] [REPEATS]      # default 300 steps, best of 3
# The machine must be otherwise idle: a 2-rank run next to another busy process time-shares a core. Before
# every run the script waits (up to WAIT_IDLE seconds, default 300) until the CPUs are < 10% busy over 2 s,
# and the table says how many runs started on a busy machine.
# Prints a markdown table for docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-300}
REPEATS=${2:-3}
EXE=${EXE:-build/msrom}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. tools/bench/idle.sh  # busy, wait_idle, busy_runs, run_best

# seconds NP MEMBERS RANKS_PER_MEMBER NY
seconds() {
  mpiexec -n "$1" "$EXE" simulate -system_type burgers2d -system_n 1024 -system_ny "$4" -simulate_train "$2" \
    -simulate_validation 0 -simulate_test 0 -simulate_noise 0 -pde_ranks_per_member "$3" -ts_dt 1e-5 \
    -ts_max_steps "$STEPS" -simulate_save_every "$STEPS" -progress never -output "$tmp/b.h5" |
    sed -n 's/.* in \([0-9.]*\) s -> .*/\1/p'
}
run_best 1 1 1 1024; one=$result
run_best 2 1 2 1024; strong=$result
run_best 2 1 2 2048; weak=$result
run_best 2 2 1 1024; ens=$result

awk -v s="$STEPS" -v busy="$busy_runs" -v runs="$((4 * REPEATS))" -v o="$one" -v st="$strong" -v w="$weak" -v e="$ens" -v host="$(hostname)" -v cpu="$(nproc)" 'BEGIN {
  printf "| Burgers 2-D, Heun, %d steps, best of runs (%s, %d cores) | seconds | efficiency |\n|---|---|---|\n", s, host, cpu
  printf "| 1024 x 1024, 1 rank | %.3f | (%.2e node-steps/s) |\n", o, 1024 * 1024 * s / o
  printf "| strong: 1024 x 1024, 2 ranks (t1 / (2 t2)) | %.3f | %.1f%% |\n", st, 100 * o / (2 * st)
  printf "| weak: 1024 x 2048, 2 ranks (t1 / t2) | %.3f | %.1f%% |\n", w, 100 * o / w
  printf "| ensemble: 2 trajectories of 1024 x 1024, 2 ranks (t1 / t2) | %.3f | %.1f%% |\n", e, 100 * o / e
  printf "\n%d of %d runs started while another process kept the CPUs >= 10%% busy.\n", busy, runs
}'
