# Compile-only check of the CUDA sources, for machines whose LibTorch has no CUDA (the CPU CI):
# the kernels with nvcc for sm_90 (the GPU machines' H100/H200), and the ATen glue that the CPU
# build leaves out, syntax-checked against LibTorch's c10/cuda headers. A GPU session then
# meets no compile error. Usage (tests/CMakeLists.txt runs it as the cuda_sources_compile test):
#   cmake -DNVCC=<nvcc> -DCXX=<c++> -DROOT=<source dir> -DOUT=<scratch dir>
#         "-DINCLUDES=<LibTorch include dirs, separated by |>" -P check_cuda_sources.cmake
cmake_minimum_required(VERSION 3.18)
foreach(v NVCC CXX ROOT OUT)
  if(NOT ${v})
    message(FATAL_ERROR "check_cuda_sources.cmake: -D${v}= is required")
  endif()
endforeach()
file(MAKE_DIRECTORY "${OUT}")

execute_process(COMMAND "${NVCC}" --version OUTPUT_VARIABLE version RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${NVCC} --version failed")
endif()
string(REGEX MATCH "release [0-9.]+, V[0-9.]+" version "${version}")
message(STATUS "nvcc: ${NVCC} (${version})")

set(nvcc_cmd "${NVCC}" -std=c++17 -O3 -arch=sm_90 -Werror all-warnings -Xcompiler -Wall,-Wextra
    -I "${ROOT}/src" -c "${ROOT}/src/amg/cuda/upsampled_stats.cu" -o "${OUT}/upsampled_stats.o")
list(JOIN nvcc_cmd " " shown)
message(STATUS "${shown}")
execute_process(COMMAND ${nvcc_cmd} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nvcc could not compile src/amg/cuda/upsampled_stats.cu")
endif()

# LibTorch's CPU packages ship c10/cuda but not its generated macros header; an empty one
# stands in (it only sets the shared-library export macros).
file(WRITE "${OUT}/stub/c10/cuda/impl/cuda_cmake_macros.h" "#pragma once\n")
get_filename_component(cuda_root "${NVCC}" DIRECTORY)
get_filename_component(cuda_root "${cuda_root}" DIRECTORY)
set(includes -I "${ROOT}/src" -isystem "${OUT}/stub" -isystem "${cuda_root}/include")
string(REPLACE "|" ";" INCLUDES "${INCLUDES}")
foreach(dir IN LISTS INCLUDES)
  # The compiler's own system directories stay where they are (-isystem would reorder them).
  if(NOT dir MATCHES "^/usr(/local)?/include/?$")
    list(APPEND includes -isystem "${dir}")
  endif()
endforeach()
# Glue written against LibTorch 2's API only (the CUDA builds' LibTorch): with older headers
# (Debian 12's LibTorch 1.13) it is said to be skipped, not failed.
set(libtorch2_only model/device_timing_sync_cuda.cpp)  # c10::Warning, c10::WarningUtils
set(torch_major "")
foreach(dir IN LISTS INCLUDES)
  if(torch_major STREQUAL "" AND EXISTS "${dir}/torch/version.h")
    file(STRINGS "${dir}/torch/version.h" line REGEX "#define TORCH_VERSION_MAJOR [0-9]+")
    string(REGEX REPLACE ".* ([0-9]+)$" "\\1" torch_major "${line}")
  endif()
endforeach()
foreach(src IN LISTS libtorch2_only)
  if(NOT EXISTS "${ROOT}/src/${src}")
    message(FATAL_ERROR "check_cuda_sources.cmake: libtorch2_only names src/${src}, which does not exist")
  endif()
endforeach()
# Every *_cuda.cpp (src/amg's kernel glue, src/model's side of model/cuda_seam.h), and the amg
# source whose kernel calls SAM2AMG_CUDA_KERNEL turns on.
file(GLOB cuda_glue RELATIVE "${ROOT}/src" "${ROOT}/src/*/*_cuda.cpp")
foreach(src ${cuda_glue} amg/upsampled_masks.cpp)
  if(src IN_LIST libtorch2_only AND torch_major MATCHES "^[01]$")
    message(STATUS "skipped: src/${src} needs LibTorch 2's headers, these are LibTorch ${torch_major}'s")
    continue()
  endif()
  message(STATUS "syntax check: src/${src}")
  execute_process(COMMAND "${CXX}" -std=c++17 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -Werror
                          -DSAM2AMG_CUDA_KERNEL ${includes} "${ROOT}/src/${src}" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "src/${src} does not compile with SAM2AMG_CUDA_KERNEL")
  endif()
endforeach()
message(STATUS "CUDA sources compile")
