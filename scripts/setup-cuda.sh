#!/usr/bin/env bash
# Builds sam2-amg against a CUDA LibTorch: the one inside the active Python's PyTorch (pip or
# conda), or a LibTorch folder or zip given with --libtorch.
#
#   bash scripts/setup-cuda.sh [--tests] [--libtorch DIR|ZIP] [--python PY] [--cuda-home DIR]
#                              [--prebuilt DIR|TARBALL] [--no-install] [--build-dir DIR]
#                              [--dry-run] [-- CMAKE_ARGS...]
#
# In order, each step stopping with a message that says what to do (exit 2; a failed build: 1):
#  1. LibTorch: --libtorch, else the active Python's torch (torch.utils.cmake_prefix_path), else
#     the system's LibTorch (Debian's libtorch-dev, CPU only). Without a CUDA LibTorch it says so
#     and builds the same way for the CPU (--device cuda then exits 3, naming the reason).
#  2. The C++ ABI: LibTorch's _GLIBCXX_USE_CXX11_ABI (torch._C._GLIBCXX_USE_CXX11_ABI) must be the
#     system libraries' (OpenCV, yaml-cpp: the new ABI, 1, on every supported distribution).
#  3. The CUDA toolkit that a CUDA LibTorch's CMake config needs (nvcc, headers): --cuda-home,
#     $CUDA_HOME, $CUDA_PATH, nvcc on PATH, /usr/local/cuda, /usr/local/cuda-*; the first whose
#     major version is LibTorch's CUDA's. The NVIDIA driver (nvidia-smi): only a warning, the
#     build needs none.
#  4. System packages with apt on Debian 12, Ubuntu 22.04 and Ubuntu 24.04 (as root, or with
#     sudo): compiler, CMake, Ninja, OpenCV, libpng, libjpeg, CLI11, nlohmann/json, spdlog,
#     yaml-cpp, Catch2; with --tests also what the tests start (a local Slurm). --no-install
#     skips this step.
#  5. Configure and build (Ninja, Release, ccache when installed) into build-gpu (--build-dir).
#     The binary is <build-dir>/apps/sam2-amg/sam2-amg; its --version line ends the run.
#
# Without a package registry: --prebuilt takes a prefix of prebuilt dependencies (a folder with
# lib/cmake/opencv4, or the tarball of one, or a folder holding that tarball): a static OpenCV
# (core, imgproc, imgcodecs) with the static libjpeg, libpng and zlib it links in lib/deps and
# their headers in include/codecs. It installs nothing; CLI11, nlohmann/json, spdlog, yaml-cpp
# (and Catch2 with --tests) must then be on the system or in the prefix's include/ and lib/.
#
# --dry-run runs the checks and prints the packages and the CMake command; it changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

libtorch="" python_bin="${PYTHON:-python3}" cuda_home="" prebuilt="" install=1 build_dir=build-gpu tests=0 dry=0
cmake_extra=()
usage() { sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --libtorch) libtorch=$2; shift 2 ;;
    --python) python_bin=$2; shift 2 ;;
    --cuda-home) cuda_home=$2; shift 2 ;;
    --prebuilt) prebuilt=$2; install=0; shift 2 ;;
    --no-install) install=0; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --tests) tests=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; cmake_extra=("$@"); break ;;
    *) echo "setup-cuda: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup-cuda: $*"; }
warn() { echo "setup-cuda: warning: $*" >&2; }
die() { echo "setup-cuda: error: $*" >&2; exit 2; }
abspath() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }

# --- 1. LibTorch ---------------------------------------------------------------------------------
# Sets torch_dir (the folder of TorchConfig.cmake), torch_from, torch_version, torch_cuda
# (LibTorch's CUDA version, "" for a CPU build) and torch_abi (0, 1, or "" when unknown).
torch_dir="" torch_from="" torch_version="" torch_cuda="" torch_abi=""
# A LibTorch folder (the official zip's libtorch/): version and CUDA from build-version
# ("2.5.1+cu124") and the libraries, the ABI from its CMake config.
read_libtorch_folder() {
  local root=$1
  torch_dir=$root/share/cmake/Torch
  [ -f "$torch_dir/TorchConfig.cmake" ] || die "$root is not a LibTorch folder (no share/cmake/Torch/TorchConfig.cmake)"
  torch_version=$(cat "$root/build-version" 2> /dev/null || true)
  torch_cuda=""
  if ls "$root"/lib/libtorch_cuda.so* > /dev/null 2>&1; then
    case "$torch_version" in
      *+cu[0-9]*) local v=${torch_version##*+cu}; torch_cuda=${v:0:$((${#v} - 1))}.${v: -1} ;;
      *) torch_cuda=unknown ;;
    esac
  fi
  torch_abi=$(sed -n 's/.*_GLIBCXX_USE_CXX11_ABI=\([01]\).*/\1/p' "$torch_dir/TorchConfig.cmake" | head -1)
}
if [ -n "$libtorch" ]; then
  [ -e "$libtorch" ] || die "--libtorch $libtorch: no such file or folder"
  if [ -f "$libtorch" ]; then
    case "$libtorch" in *.zip) ;; *) die "--libtorch $libtorch: expected a LibTorch folder or its .zip" ;; esac
    command -v unzip > /dev/null || die "unzip is needed to unpack $libtorch (apt-get install unzip), or unpack it and pass the folder"
    unpacked=$build_dir/libtorch-unpacked
    if [ $dry = 0 ] && [ ! -f "$unpacked/libtorch/share/cmake/Torch/TorchConfig.cmake" ]; then
      say "unpacking $libtorch into $unpacked"
      rm -rf "$unpacked" && mkdir -p "$unpacked" && unzip -q "$libtorch" -d "$unpacked"
    fi
    libtorch=$unpacked/libtorch
    [ $dry = 1 ] && [ ! -d "$libtorch" ] && die "--dry-run does not unpack $libtorch; unpack it and pass the folder"
  fi
  read_libtorch_folder "$(cd "$libtorch" && pwd)"
  torch_from="LibTorch folder $(cd "$libtorch" && pwd)"
elif command -v "$python_bin" > /dev/null && "$python_bin" -c 'import torch' 2> /dev/null; then
  # The wheel's (or conda's) own LibTorch, with the interpreter's answers for version, CUDA, ABI.
  py_cmake=""
  IFS='|' read -r py_cmake torch_version torch_cuda torch_abi < <("$python_bin" -c '
import torch
print("|".join([torch.utils.cmake_prefix_path, torch.__version__, torch.version.cuda or "",
                str(int(torch._C._GLIBCXX_USE_CXX11_ABI))]))') || true
  torch_from="PyTorch $torch_version of $(command -v "$python_bin")"
  if [ -f "$py_cmake/Torch/TorchConfig.cmake" ]; then
    torch_dir=$py_cmake/Torch
  else
    # Debian's python3-torch keeps its CMake config in libtorch-dev, not beside the module.
    say "$torch_from has no CMake config ($py_cmake/Torch); looking for the system's LibTorch"
    torch_from="" torch_version="" torch_cuda="" torch_abi=""
  fi
fi
if [ -z "$torch_dir" ]; then
  for d in /usr/lib/*-linux-gnu/cmake/Torch /usr/lib/cmake/Torch /usr/local/share/cmake/Torch; do
    [ -f "$d/TorchConfig.cmake" ] && { torch_dir=$d; break; }
  done
  if [ -n "$torch_dir" ]; then
    torch_from="the system's LibTorch ($torch_dir)"
    torch_version=$(sed -n 's/.*PACKAGE_VERSION "\([^"]*\)".*/\1/p' "$torch_dir/TorchConfigVersion.cmake" 2> /dev/null | head -1)
    torch_abi=$(sed -n 's/.*_GLIBCXX_USE_CXX11_ABI=\([01]\).*/\1/p' "$torch_dir/TorchConfig.cmake" | head -1)
    ls "$(dirname "$(dirname "$torch_dir")")"/libtorch_cuda.so* > /dev/null 2>&1 && torch_cuda=unknown
  elif [ $install = 1 ]; then
    torch_from="the system's LibTorch (libtorch-dev, to be installed)"
  else
    die "no LibTorch found: the active Python ($python_bin) has no torch with a CMake config, there is no
  system LibTorch, and --libtorch was not given. Install a CUDA PyTorch (pip install torch) into the active
  Python, or download LibTorch from https://pytorch.org (C++ / LibTorch, cxx11 ABI) and pass --libtorch ZIP"
  fi
fi
say "LibTorch: $torch_from${torch_version:+, version $torch_version}"
if [ -z "$torch_cuda" ]; then
  say "no CUDA LibTorch found: building against a CPU-only LibTorch, the same way. --device cuda will exit 3
  (\"built against a CPU-only LibTorch\"). For a GPU build install a CUDA PyTorch into the active Python
  (https://pytorch.org/get-started/locally/) or pass --libtorch with the CUDA LibTorch zip."
else
  say "LibTorch CUDA: $torch_cuda"
fi

# --- prebuilt prefix -----------------------------------------------------------------------------
prefix=""
if [ -n "$prebuilt" ]; then
  [ -e "$prebuilt" ] || die "--prebuilt $prebuilt: no such file or folder"
  tarball=""
  if [ -f "$prebuilt" ]; then tarball=$prebuilt
  elif [ -f "$prebuilt/lib/cmake/opencv4/OpenCVConfig.cmake" ]; then prefix=$(cd "$prebuilt" && pwd)
  else tarball=$(find "$prebuilt" -maxdepth 1 -name 'opencv-*.tar.*' | sort | tail -1)
  fi
  if [ -z "$prefix" ]; then
    [ -n "$tarball" ] || die "--prebuilt $prebuilt: neither a prefix (lib/cmake/opencv4/OpenCVConfig.cmake) nor an opencv-*.tar.* in it"
    unpack=$(abspath "$build_dir")/prebuilt
    top=$(tar -tf "$tarball" | head -1 || true); top=${top%%/*}
    prefix=$unpack/$top
    if [ $dry = 0 ] && [ ! -f "$prefix/lib/cmake/opencv4/OpenCVConfig.cmake" ]; then
      say "unpacking $tarball into $unpack"
      rm -rf "$unpack" && mkdir -p "$unpack" && tar -C "$unpack" -xf "$tarball"
    fi
  fi
  say "prebuilt dependencies: $prefix (installing nothing)"
fi

# --- 2. the C++ ABI ------------------------------------------------------------------------------
# The system side: the new ABI shows as std::__cxx11 in the symbols of a library taking strings.
abi_of() { if [ "$(nm -C "$@" 2> /dev/null | grep -c '__cxx11')" -gt 0 ]; then echo 1; else echo 0; fi; }
sys_abi="" sys_lib=""
if [ -n "$prefix" ] && [ -f "$prefix/lib/libopencv_core.a" ]; then sys_lib=$prefix/lib/libopencv_core.a
else
  for f in /usr/lib/*-linux-gnu/libyaml-cpp.so.* /usr/lib/*-linux-gnu/libopencv_core.so.*; do
    [ -f "$f" ] && { sys_lib=$f; break; }
  done
fi
if [ -n "$sys_lib" ] && command -v nm > /dev/null; then
  if [[ $sys_lib == *.a ]]; then sys_abi=$(abi_of "$sys_lib"); else sys_abi=$(abi_of -D "$sys_lib"); fi
fi
: "${sys_abi:=1}"  # GCC's default since version 5, and every supported distribution's
if [ -n "$torch_abi" ]; then
  if [ "$torch_abi" != "$sys_abi" ]; then
    die "LibTorch ($torch_from) uses _GLIBCXX_USE_CXX11_ABI=$torch_abi, the system libraries ${sys_lib:+($sys_lib) }$sys_abi:
  they cannot be linked together. PyTorch's pip wheels before 2.7 use the old ABI (0); install torch 2.7 or
  later, or the cxx11-ABI LibTorch zip from https://pytorch.org (libtorch-cxx11-abi-shared-with-deps-*.zip)
  and pass it with --libtorch"
  fi
  say "C++ ABI: _GLIBCXX_USE_CXX11_ABI=$torch_abi, as the system libraries"
else
  warn "LibTorch's C++ ABI is unknown; assuming the system's ($sys_abi)"
fi

# --- 3. CUDA toolkit and driver ------------------------------------------------------------------
nvcc_version() { "$1" --version 2> /dev/null | sed -n 's/.*release \([0-9][0-9.]*\).*/\1/p' | head -1; }
cuda_root=""
if [ -n "$torch_cuda" ]; then
  candidates=()
  [ -n "$cuda_home" ] && candidates+=("$cuda_home")
  [ -n "${CUDA_HOME:-}" ] && candidates+=("$CUDA_HOME")
  [ -n "${CUDA_PATH:-}" ] && candidates+=("$CUDA_PATH")
  if command -v nvcc > /dev/null; then candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")"); fi
  candidates+=(/usr/local/cuda)
  while IFS= read -r d; do candidates+=("$d"); done < <(for d in /usr/local/cuda-*; do [ -d "$d" ] && echo "$d"; done | sort -rV)
  found=()
  for d in "${candidates[@]}"; do
    [ -x "$d/bin/nvcc" ] || continue
    v=$(nvcc_version "$d/bin/nvcc")
    found+=("$d (nvcc $v)")
    if [ "$torch_cuda" = unknown ] || [ "${v%%.*}" = "${torch_cuda%%.*}" ]; then cuda_root=$d; cuda_found=$v; break; fi
  done
  if [ -z "$cuda_root" ]; then
    if [ ${#found[@]} -eq 0 ]; then
      die "LibTorch was built with CUDA $torch_cuda, and its CMake config needs a CUDA toolkit (nvcc and headers):
  none found (--cuda-home, \$CUDA_HOME, \$CUDA_PATH, nvcc on PATH, /usr/local/cuda*). Install CUDA $torch_cuda's
  toolkit (https://developer.nvidia.com/cuda-toolkit-archive, or NVIDIA's apt repository: cuda-toolkit-${torch_cuda/./-})
  and rerun, with --cuda-home DIR if it is not in /usr/local/cuda"
    fi
    die "LibTorch was built with CUDA $torch_cuda; the CUDA toolkits found are another major version:
  $(printf '%s; ' "${found[@]}")install CUDA $torch_cuda's toolkit and pass it with --cuda-home DIR"
  fi
  [ "$torch_cuda" != unknown ] && [ "$cuda_found" != "$torch_cuda" ] &&
    warn "CUDA toolkit $cuda_found at $cuda_root, LibTorch's is $torch_cuda (same major version: fine for this C++ build)"
  say "CUDA toolkit: $cuda_root (nvcc $cuda_found)"
fi
if command -v nvidia-smi > /dev/null && gpu=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2> /dev/null | head -1) && [ -n "$gpu" ]; then
  say "GPU: $gpu"
  driver_cuda=$(nvidia-smi 2> /dev/null | sed -n 's/.*CUDA Version: *\([0-9.]*\).*/\1/p' | head -1)
  if [ -n "$torch_cuda" ] && [ "$torch_cuda" != unknown ] && [ -n "$driver_cuda" ] &&
     [ "$(printf '%s\n%s\n' "$torch_cuda" "$driver_cuda" | sort -V | tail -1)" != "$driver_cuda" ]; then
    warn "the driver supports CUDA up to $driver_cuda, LibTorch needs $torch_cuda: update the NVIDIA driver, or --device cuda will exit 3"
  fi
else
  warn "no NVIDIA driver found (nvidia-smi): the build works, but --device cuda exits 3 until a driver is installed"
fi

# --- 4. system packages --------------------------------------------------------------------------
if [ $install = 1 ]; then
  # shellcheck source=/dev/null
  distro=$( . /etc/os-release 2> /dev/null && echo "${ID:-}-${VERSION_ID:-}")
  pkgs=(build-essential cmake ninja-build ccache pkg-config binutils libopencv-dev libpng-dev zlib1g-dev
        libcli11-dev nlohmann-json3-dev libspdlog-dev libyaml-cpp-dev catch2)
  case "$distro" in
    debian-12) pkgs+=(libjpeg62-turbo-dev) ;;
    ubuntu-22.04|ubuntu-24.04) pkgs+=(libjpeg-turbo8-dev) ;;
    *) die "apt packages are known for Debian 12 and Ubuntu 22.04/24.04, not '$distro': install the equivalents of
  ${pkgs[*]} libjpeg-dev, then rerun with --no-install (or use --prebuilt)" ;;
  esac
  [ "$torch_from" = "the system's LibTorch (libtorch-dev, to be installed)" ] && pkgs+=(libtorch-dev)
  [ $tests = 1 ] && pkgs+=(slurmctld slurmd slurm-client munge)
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  say "apt packages ($distro): ${pkgs[*]}"
  if [ $dry = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq || die "apt-get update failed (no package registry? use --prebuilt)"
    $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" > /dev/null || die "apt-get install failed"
  fi
  if [ "$torch_from" = "the system's LibTorch (libtorch-dev, to be installed)" ]; then
    for d in /usr/lib/*-linux-gnu/cmake/Torch; do [ -f "$d/TorchConfig.cmake" ] && torch_dir=$d; done
    [ -n "$torch_dir" ] || [ $dry = 1 ] || die "libtorch-dev installed, but no TorchConfig.cmake found"
  fi
elif [ -n "$prefix" ]; then
  # Installing nothing: what the build needs besides the prefix must already be there.
  missing=()
  for h in CLI/CLI.hpp nlohmann/json.hpp spdlog/spdlog.h yaml-cpp/yaml.h; do
    [ -f "/usr/include/$h" ] || [ -f "/usr/local/include/$h" ] || [ -f "$prefix/include/$h" ] || missing+=("$h")
  done
  if [ $tests = 1 ] && [ ! -d /usr/include/catch2 ] && [ ! -d /usr/local/include/catch2 ] && [ ! -d "$prefix/include/catch2" ]; then
    missing+=(catch2/)
  fi
  [ ${#missing[@]} -eq 0 ] || die "--prebuilt installs nothing, and these headers are on neither the system nor $prefix/include: ${missing[*]}"
fi

# --- 5. configure and build ----------------------------------------------------------------------
prefix_path=$(dirname "$torch_dir")
[ -n "$prefix" ] && prefix_path="$prefix_path;$prefix"
args=(-S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$prefix_path" "-DTorch_DIR=$torch_dir")
[ $tests = 1 ] && args+=(-DSAM2AMG_BUILD_TESTS=ON)
# The toolkit CMake finds by itself: nvcc on PATH, else /usr/local/cuda. Another one is named.
default_cuda=/usr/local/cuda
command -v nvcc > /dev/null && default_cuda=$(dirname "$(dirname "$(readlink -f "$(command -v nvcc)")")")
if [ -n "$cuda_root" ] && [ "$(readlink -f "$cuda_root")" != "$(readlink -f "$default_cuda")" ]; then
  # For Torch's CMake config: CUDAToolkit (2.x), FindCUDA (1.x) and its enable_language(CUDA).
  args+=("-DCUDAToolkit_ROOT=$cuda_root" "-DCUDA_TOOLKIT_ROOT_DIR=$cuda_root" "-DCMAKE_CUDA_COMPILER=$cuda_root/bin/nvcc")
fi
if [ -n "$prefix" ]; then
  # The static OpenCV's own libjpeg, libpng and zlib, so that the project links the same copies.
  args+=("-DOpenCV_DIR=$prefix/lib/cmake/opencv4"
         "-DJPEG_INCLUDE_DIR=$prefix/include/codecs" "-DJPEG_LIBRARY=$prefix/lib/deps/libjpeg.a"
         "-DPNG_PNG_INCLUDE_DIR=$prefix/include/codecs" "-DPNG_LIBRARY=$prefix/lib/deps/libpng16.a"
         "-DZLIB_INCLUDE_DIR=$prefix/include/codecs" "-DZLIB_LIBRARY=$prefix/lib/deps/libz.a")
fi
args+=("${cmake_extra[@]}")
say "cmake ${args[*]}"
if [ $dry = 1 ]; then say "dry run: nothing installed, configured or built"; exit 0; fi
if ! command -v cmake > /dev/null || ! command -v ninja > /dev/null; then
  die "cmake and ninja are needed (apt-get install cmake ninja-build)"
fi
cmake "${args[@]}" || die "CMake could not configure the build (the messages above name what is missing)"
cmake --build "$build_dir" -j "$(nproc)" || { echo "setup-cuda: the build failed (see above)" >&2; exit 1; }
bin=$build_dir/apps/sam2-amg/sam2-amg
if [ -x "$bin" ]; then
  say "built $bin"
  "$bin" --version | sed 's/^/  /'
fi
