#!/usr/bin/env bash
# Benchmark of domain-decomposed rollouts of the local multiscale model (not a test; issue 8): the paper's
# 1-D network sizes with n_eta = 5 local channels (bench_rollout), one member's coarse state on a PETSc DMDA.
#   strong scaling  N cells on 1 rank  vs  the same member on 2 ranks
#   weak scaling    N cells on 1 rank  vs  2N cells on 2 ranks (the same cells per rank)
#   ensemble        1 member on 1 rank vs  2 members on 2 ranks (one each: no communication)
# Best of REPEATS; the time is the slowest rank's between two barriers. NN_KERNEL (generic|avx2|avx512)
# picks the MLP kernel (default: the best available).
#   tools/bench/bench_rollout_scaling.sh [CELLS] [STEPS] [REPEATS]     # default 131072 cells, 10 steps, best of 5
# Prints a markdown table for docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CELLS=${1:-131072}
STEPS=${2:-10}
REPEATS=${3:-5}
EXE=${EXE:-build/bench_rollout}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
. tools/bench/idle.sh  # busy, wait_idle, busy_runs

# seconds NP CELLS MEMBERS RANKS_PER_MEMBER
seconds() {
  mpiexec -n "$1" "$EXE" "$2" "$STEPS" "$3" "$4" | sed -n 's/.* steps in \([0-9.]*\) s = .*/\1/p'
}
# The four configurations are interleaved in every repeat (the machine's speed drifts by ~10% over minutes:
# interleaving lets every configuration see the same drift), best of REPEATS each.
one="" strong="" weak="" ens=""
best() { # CURRENT NEW -> the smaller
  if [ -z "$1" ] || awk -v t="$2" -v b="$1" 'BEGIN { exit !(t < b) }'; then echo "$2"; else echo "$1"; fi
}
for _ in $(seq "$REPEATS"); do
  wait_idle; one=$(best "$one" "$(seconds 1 "$CELLS" 1 1)")
  wait_idle; strong=$(best "$strong" "$(seconds 2 "$CELLS" 1 2)")
  wait_idle; weak=$(best "$weak" "$(seconds 2 "$((2 * CELLS))" 1 2)")
  wait_idle; ens=$(best "$ens" "$(seconds 2 "$CELLS" 2 1)")
done

awk -v n="$CELLS" -v s="$STEPS" -v busy="$busy_runs" -v runs="$((4 * REPEATS))" -v o="$one" -v st="$strong" -v w="$weak" -v e="$ens" -v host="$(hostname)" -v cpu="$(nproc)" -v kern="${NN_KERNEL:-auto}" 'BEGIN {
  printf "| local model (n_eta 5, paper widths), Euler-Maruyama, %d steps, best of runs (%s, %d cores, kernel %s) | seconds | efficiency |\n|---|---|---|\n", s, host, cpu, kern
  printf "| %d cells, 1 rank | %.3f | (%.3g cell-steps/s) |\n", n, o, n * s / o
  printf "| strong: %d cells, 2 ranks (t1 / (2 t2)) | %.3f | %.1f%% |\n", n, st, 100 * o / (2 * st)
  printf "| weak: %d cells, 2 ranks (t1 / t2) | %.3f | %.1f%% |\n", 2 * n, w, 100 * o / w
  printf "| ensemble: 2 members of %d cells, 2 ranks (t1 / t2) | %.3f | %.1f%% |\n", n, e, 100 * o / e
  printf "\n%d of %d runs started while another process kept the CPUs >= 10%% busy.\n", busy, runs
}'
