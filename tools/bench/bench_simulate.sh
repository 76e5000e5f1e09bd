#!/usr/bin/env bash
# Benchmark of `msrom simulate` (not a test): RK4 steps per second per core for one bistable member, side
# by side with a plain C loop of the same system (tools/bench/rk4_plain.c, same -O3), and the ensemble's
# weak scaling 1 -> 2 ranks (1 member on 1 rank vs 2 members on 2 ranks, same steps per member).
#   tools/bench/bench_simulate.sh [STEPS] [REPEATS]      # default 5e7 steps, best of 3
# Prints a markdown table for docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
STEPS=${1:-50000000}
REPEATS=${2:-3}
EXE=${EXE:-build/msrom}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
[ -x "$EXE" ] || tools/setup.sh >/dev/null
cc -O3 -o "$tmp/rk4_plain" tools/bench/rk4_plain.c

# msrom prints "... in S s: R RK4 steps/s per rank"; take the seconds (max over ranks).
msrom_seconds() { # np members
  mpiexec -n "$1" "$EXE" simulate -system_type bistable -members "$2" -ts_max_steps "$STEPS" \
    -simulate_save_every 100 -simulate_burn_in 0 -progress never -output "$tmp/b.h5" |
    sed -n 's/.* in \([0-9.]*\) s:.*/\1/p'
}
best() { sort -g | head -1; }

plain=$(for _ in $(seq "$REPEATS"); do "$tmp/rk4_plain" "$STEPS" 100 | awk '{print $1}'; done | best)
one=$(for _ in $(seq "$REPEATS"); do msrom_seconds 1 1; done | best)
two=$(for _ in $(seq "$REPEATS"); do msrom_seconds 2 2; done | best)

awk -v s="$STEPS" -v p="$plain" -v o="$one" -v t="$two" -v host="$(hostname)" -v cpu="$(nproc)" 'BEGIN {
  printf "| measure (%g RK4 steps per member, best of runs, %s, %d cores) | value |\n|---|---|\n", s, host, cpu
  printf "| plain C loop, steps/s | %.3g |\n", s / p
  printf "| msrom simulate, 1 rank, 1 member, steps/s per core | %.3g |\n", s / o
  printf "| msrom / plain C | %.2f |\n", p / o
  printf "| msrom simulate, 2 ranks, 2 members, seconds (1 rank 1 member: %.3f) | %.3f |\n", o, t
  printf "| weak scaling efficiency 1 -> 2 ranks (t1/t2) | %.1f%% |\n", 100 * o / t
}'
