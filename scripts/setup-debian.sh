#!/usr/bin/env bash
# Installs the build and test dependencies of sam2-amg from Debian 12 packages.
# Usage: bash scripts/setup-debian.sh      (as root, or with sudo available)
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build ccache pkg-config \
  libtorch-dev libopencv-dev libcli11-dev nlohmann-json3-dev libspdlog-dev catch2 libyaml-cpp-dev \
  > /dev/null
echo "sam2-amg build dependencies installed"
