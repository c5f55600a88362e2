#!/usr/bin/env bash
# Installs the build dependencies of sam2-amg from Debian 12 packages; with --tests also what the
# tests start (a throw-away single-node Slurm: slurmctld, slurmd, munge).
# Usage: bash scripts/setup-debian.sh [--tests]      (as root, or with sudo available)
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
if [ "${1:-}" = "--tests" ]; then
  # python3-torch runs the exporter's tests (it shares Debian's libtorch with the build).
  $SUDO apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge python3-torch > /dev/null
fi
echo "sam2-amg dependencies installed"
