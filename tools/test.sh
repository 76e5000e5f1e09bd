#!/usr/bin/env bash
# Runs the whole test suite (unit, MPI at 1/2/4 ranks, integration, Slurm) after setting up and building.
#   tools/test.sh               # everything, Release build in build/
#   tools/test.sh -L unit       # extra arguments go to ctest
#   tools/test.sh --asan        # the same suite on the AddressSanitizer + UBSan build (preset asan, build-asan/)
#   tools/test.sh -L fault      # fault injection only (5 kills per command); 20 kills: tools/fault_inject.py
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
if [[ "${1:-}" == "--asan" ]]; then
  shift
  cmake --preset asan > /dev/null
  cmake --build build-asan -j "$(nproc)"
  # UB aborts (the build has -fno-sanitize-recover); leaks inside MPI/PETSc/HDF5 are suppressed.
  # fast_unwind_on_malloc=0: whole stacks through the libraries (no frame pointers), so the suppressions match.
  export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:fast_unwind_on_malloc=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp:print_suppressions=0"
  # The Slurm tests (label slurm) exercise job scripts, not memory: the Release pass runs them. So does fault
  # injection (label fault): its kill times are drawn against the Release run times.
  ctest --test-dir build-asan --output-on-failure --timeout 1800 -LE 'slurm|fault' "$@"
  exit
fi
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 "$@"
