#!/usr/bin/env bash
# Installs the build dependencies of sam2-amg from Debian 12 packages; with --tests also what the
# tests need (a throw-away single-node Slurm: slurmctld, slurmd, munge; strace; PyTorch for the
# exporter's tests), so that none of them skips; with --fuzz clang for
# scripts/fuzz.sh (libFuzzer).
# Usage: bash scripts/setup-debian.sh [--tests] [--fuzz]      (as root, or with sudo available)
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build ccache pkg-config \
  libtorch-dev libopencv-dev libcli11-dev nlohmann-json3-dev libspdlog-dev catch2 libyaml-cpp-dev \
  libpng-dev libjpeg62-turbo-dev \
  libopenblas0-pthread \
  > /dev/null
for arg in "$@"; do
  case "$arg" in
    --tests)
      # python3-torch runs the exporter's tests (it shares Debian's libtorch with the build).
      # strace: the atomic-commit test traces fsync and rename; git: the --version test.
      $SUDO apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge python3-torch strace git \
        > /dev/null ;;
    --fuzz)
      # libFuzzer and clang's sanitizer runtimes are in libclang-rt-14-dev, only recommended by clang.
      $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-14-dev > /dev/null ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done
echo "sam2-amg dependencies installed"
