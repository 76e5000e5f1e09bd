#!/usr/bin/env bash
# Installs what msrom needs (Debian 12 packages) and configures + builds it in build/.
# Idempotent: packages already present are not reinstalled; apt-get update runs once per machine.
#   tools/setup.sh            # packages + Release build in build/
#   BUILD_DIR=b tools/setup.sh
#   EXTRA_PACKAGES="clang valgrind" SETUP_BUILD=0 tools/setup.sh   # more packages (tools/fuzz.sh ...), no build
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(g++ cmake make pkg-config git
          petsc-dev libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libeigen3-dev catch2 librandom123-dev
          python3-h5py python3-matplotlib python3-numpy
          slurm-wlm munge ${EXTRA_PACKAGES:-})  # slurm-wlm, munge: the test cluster (tools/slurm/start.sh)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  stamp=/var/lib/apt/periodic/msrom-update-stamp
  if [ ! -f "$stamp" ]; then
    $SUDO apt-get update -qq
    $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "${SETUP_BUILD:-1}" = 0 ] && exit 0
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"
echo "setup: built $BUILD_DIR/msrom"
