#!/usr/bin/env bash
# Stops the test cluster that tools/slurm/start.sh started (by the pids in its state directory).
#   tools/slurm/stop.sh            # MSROM_SLURM_STATE as for start.sh (default /tmp/msrom-slurm)
set -uo pipefail
STATE=${MSROM_SLURM_STATE:-/tmp/msrom-slurm}
for d in slurmd slurmctld munged; do
  f=$STATE/$d.pid
  pid=$(cat "$f" 2> /dev/null)
  # Only the daemon itself: a stale pid file may name an unrelated process by now.
  if [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2> /dev/null)" == "$d" ]]; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    echo "slurm: stopped $d"
  fi
  rm -f "$f"
done
