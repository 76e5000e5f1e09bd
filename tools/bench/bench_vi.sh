#!/bin/sh
# Benchmark (not a test): training iterations per second of `msrom learn-msde` at the paper's size (KdV,
# n_y 1000, n_zeta 20, B = 64, one window per step), per stage n_eta, on NP ranks.
#   tools/bench/bench_vi.sh MSROM DATA [ITERATIONS] [NP] [ETA...]
#   e.g.  tools/bench/bench_vi.sh build-vi/msrom runs/kdv/data.h5 20 1 0 5
# DATA: msrom simulate -options_file_yaml inputs/kdv.yaml -output runs/kdv/data.h5
# Prints one line per n_eta and kernel: "n_eta K [kernel]: N steps in S s = R it/s" (the stage time of
# metrics.json, which excludes reading the data and the validation at the stage end is included).
# KERNELS (default "generic auto"): the -nn_kernel values compared side by side; generic is Eigen's GEMM for
# the convolutions, auto the SIMD GEMM of nn/gemm.hpp.
set -eu
MSROM=${1:?usage: bench_vi.sh MSROM DATA [ITERATIONS] [NP] [ETA...]}
DATA=${2:?usage: bench_vi.sh MSROM DATA [ITERATIONS] [NP] [ETA...]}
IT=${3:-20}
NP=${4:-1}
shift 2; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && shift
ETAS=${*:-0 5}
DIR=$(mktemp -d /tmp/bench_vi.XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
for K in $ETAS; do
  for KERNEL in ${KERNELS:-generic auto}; do
    mpiexec -n "$NP" "$MSROM" learn-msde -data "$DATA" -output "$DIR/model.h5" -msde_eta_schedule "$K" \
      -msde_iterations "$IT" -msde_val_every 0 -msde_val_windows 1 -nn_kernel "$KERNEL" -progress never > /dev/null
    /usr/bin/python3 - "$DIR/metrics.json" "$K" "$IT" "$NP" "$KERNEL" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
k, it, np_, kernel = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
s = m[f"seconds.eta_{k}"]
print(f"n_eta {k} [{kernel}]: {it} steps on {np_} rank(s) in {s:.2f} s = {it / s:.3f} it/s")
PY
  done
done
