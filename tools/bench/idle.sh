# Sourced by the scaling benchmarks (tools/bench/*_scaling.sh): a 2-rank run next to another busy process
# time-shares a core, so every run first waits (up to WAIT_IDLE seconds, default 300) until the CPUs are
# < 10% busy over 2 s; busy_runs counts the runs that started on a busy machine anyway. run_best runs the
# sourcing script's `seconds ARGS...` (which prints one run's time) REPEATS times and sets result to the best.
WAIT_IDLE=${WAIT_IDLE:-300}
busy_runs=0
# Busy fraction of all CPUs over 2 s, in percent (from /proc/stat).
busy() {
  read -r _ u1 n1 s1 i1 w1 q1 r1 _ < /proc/stat
  sleep 2
  read -r _ u2 n2 s2 i2 w2 q2 r2 _ < /proc/stat
  local b=$(((u2 + n2 + s2 + q2 + r2) - (u1 + n1 + s1 + q1 + r1))) t=$(((u2 + n2 + s2 + q2 + r2 + i2 + w2) - (u1 + n1 + s1 + q1 + r1 + i1 + w1)))
  echo $((100 * b / (t > 0 ? t : 1)))
}
wait_idle() {
  local waited=0
  while [ "$(busy)" -ge 10 ]; do
    waited=$((waited + 2))
    if [ "$waited" -ge "$WAIT_IDLE" ]; then busy_runs=$((busy_runs + 1)); return; fi
  done
}
# run_best ARGS...: the best of REPEATS calls of `seconds ARGS...`, each after wait_idle, in $result.
# (Runs in this shell, not in a $(...) subshell, so that busy_runs counts.)
run_best() {
  local b="" t
  for _ in $(seq "$REPEATS"); do
    wait_idle
    t=$(seconds "$@")
    if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
  done
  result=$b
}
