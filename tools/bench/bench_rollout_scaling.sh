#!/usr/bin/env bash
# Benchmark of domain-decomposed rollouts of the local multiscale model (not a test; issue 8): the paper's
# network sizes with n_eta = 5 local channels (bench_rollout), one member's coarse state on a PETSc DMDA.
# CELLS is N (1-D) or NXxNY (2-D, 5 x 5 stencils; weak scaling doubles NY).
#   strong scaling  N cells on 1 rank  vs  the same member on 2 ranks
#   weak scaling    N cells on 1 rank  vs  2N cells on 2 ranks (the same cells per rank)
#   ensemble        1 member on 1 rank vs  2 members on 2 ranks (one each: no communication)
# Best of REPEATS; the time is the slowest rank's between two barriers. NN_KERNEL (generic|avx2|avx512)
# picks the MLP kernel (default: the best available); INTEGRATOR=heun times stochastic Heun steps (default em).
#   tools/bench/bench_rollout_scaling.sh [CELLS] [STEPS] [REPEATS]     # default 131072 cells, 10 steps, best of 5
#   tools/bench/bench_rollout_scaling.sh 2048x2048 2 3                  # the issue's 2-D mesh
# Prints a markdown table for docs/performance.md. With CSV=FILE it also appends the four rows
# (cells,config,ranks,seconds,efficiency) to FILE, the input of tools/bench/plot_rollout_scaling.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
CELLS=${1:-131072}
STEPS=${2:-10}
REPEATS=${3:-5}
EXE=${EXE:-build/bench_rollout}
if [[ "$CELLS" == *x* ]]; then
  NX=${CELLS%x*} NY=${CELLS#*x}
  WEAK="${NX}x$((2 * NY))" NCELLS=$((NX * NY))
else
  WEAK=$((2 * CELLS)) NCELLS=$CELLS
fi
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
  wait_idle; weak=$(best "$weak" "$(seconds 2 "$WEAK" 1 2)")
  wait_idle; ens=$(best "$ens" "$(seconds 2 "$CELLS" 2 1)")
done

awk -v n="$NCELLS" -v shape="$CELLS" -v wshape="$WEAK" -v s="$STEPS" -v busy="$busy_runs" -v runs="$((4 * REPEATS))" -v o="$one" -v st="$strong" -v w="$weak" -v e="$ens" -v host="$(hostname)" -v cpu="$(nproc)" -v kern="${NN_KERNEL:-auto}" -v scheme="$([ "${INTEGRATOR:-em}" = heun ] && echo "stochastic Heun" || echo Euler-Maruyama)" 'BEGIN {
  printf "| local model (n_eta 5, paper widths), %s, %d steps, best of runs (%s, %d cores, kernel %s) | seconds | efficiency |\n|---|---|---|\n", scheme, s, host, cpu, kern
  printf "| %s cells, 1 rank | %.3f | (%.3g cell-steps/s) |\n", shape, o, n * s / o
  printf "| strong: %s cells, 2 ranks (t1 / (2 t2)) | %.3f | %.1f%% |\n", shape, st, 100 * o / (2 * st)
  printf "| weak: %s cells, 2 ranks (t1 / t2) | %.3f | %.1f%% |\n", wshape, w, 100 * o / w
  printf "| ensemble: 2 members of %s cells, 2 ranks (t1 / t2) | %.3f | %.1f%% |\n", shape, e, 100 * o / e
  printf "\n%d of %d runs started while another process kept the CPUs >= 10%% busy.\n", busy, runs
}'

if [ -n "${CSV:-}" ]; then
  [ -s "$CSV" ] || echo "cells,config,ranks,seconds,efficiency" > "$CSV"
  awk -v c="$CELLS" -v o="$one" -v st="$strong" -v w="$weak" -v e="$ens" 'BEGIN {
    printf "%s,one,1,%.3f,1\n%s,strong,2,%.3f,%.4f\n", c, o, c, st, o / (2 * st)
    printf "%s,weak,2,%.3f,%.4f\n%s,ensemble,2,%.3f,%.4f\n", c, w, o / w, c, e, o / e
  }' >> "$CSV"
fi
