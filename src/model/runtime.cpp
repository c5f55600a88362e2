#include "model/runtime.h"

#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <fstream>
#include <sstream>

namespace sam2amg {

namespace {

// The kernel module's own file: "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.159.04  ..."
// (or "... Open Kernel Module for x86_64  580.65.06 ..."); nvidia-smi reports the same number.
// Empty without a loaded driver.
std::string nvidia_driver_version() {
  std::ifstream in("/proc/driver/nvidia/version");
  std::string line;
  if (!in || !std::getline(in, line)) return "";
  std::istringstream words(line);
  for (std::string w; words >> w;)
    if (w.find('.') != std::string::npos && w.find_first_not_of("0123456789.") == std::string::npos) return w;
  return "unknown";
}

std::string gpus(int n) { return std::to_string(n) + (n == 1 ? " GPU" : " GPUs"); }

}  // namespace

CudaRuntime cuda_runtime() {
  CudaRuntime rt;
  rt.libtorch = TORCH_VERSION;
  // The hooks are LibTorch's CUDA library's when it is loaded (a CUDA build), else stubs.
  const at::CUDAHooksInterface& hooks = at::detail::getCUDAHooks();
  rt.libtorch_cuda = hooks.hasCUDART();
  rt.driver = nvidia_driver_version();
  if (rt.libtorch_cuda) {
    const long v = hooks.versionCUDART();  // 13000 for 13.0, 12040 for 12.4
    rt.cuda = std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10);
    rt.devices = static_cast<int>(torch::cuda::device_count());
  }
  return rt;
}

std::string cuda_summary(const CudaRuntime& rt) {
  if (!rt.libtorch_cuda) return "CPU only (no CUDA in this LibTorch)";
  return "CUDA " + rt.cuda + ", " + (rt.driver.empty() ? "no NVIDIA driver" : "NVIDIA driver " + rt.driver) +
         ", " + gpus(rt.devices);
}

std::string cuda_unavailable_reason(const CudaRuntime& rt, const std::string& requested, int index,
                                    const char* visible_devices) {
  const std::string head = "--device " + requested + ": ";
  if (!rt.libtorch_cuda)
    return head + "this sam2-amg is built against a CPU-only LibTorch (" + rt.libtorch +
           "); build it against a CUDA LibTorch (scripts/setup-cuda.sh), or use --device cpu";
  if (rt.devices == 0 && rt.driver.empty())
    return head + "no NVIDIA driver is loaded on this machine (LibTorch " + rt.libtorch + " with CUDA " + rt.cuda +
           " needs one; `nvidia-smi` checks it); install the driver, or use --device cpu";
  if (rt.devices == 0)
    return head + "the NVIDIA driver " + rt.driver + " is loaded but CUDA finds no GPU (" +
           (visible_devices ? "CUDA_VISIBLE_DEVICES='" + std::string(visible_devices) + "' may hide them, or " : "") +
           "the driver is older than CUDA " + rt.cuda + " needs); check `nvidia-smi`, or use --device cpu";
  if (index >= rt.devices)
    return head + "there is no GPU " + std::to_string(index) + ": this machine has " + gpus(rt.devices) + " (cuda:0" +
           (rt.devices > 1 ? " to cuda:" + std::to_string(rt.devices - 1) : "") + ")" +
           (visible_devices ? ", CUDA_VISIBLE_DEVICES='" + std::string(visible_devices) + "'" : "");
  return "";
}

}  // namespace sam2amg
