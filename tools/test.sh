#!/usr/bin/env bash
# Runs the whole test suite (unit, MPI at 1/2/4 ranks, integration) after setting up and building.
#   tools/test.sh               # everything
#   tools/test.sh -L unit       # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --timeout 900 "$@"
