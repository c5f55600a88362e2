// cuda_seam.h's sync count (device_timing.cpp's CUDA side, beside device_timing_cuda.cpp). A
// file of its own because it uses LibTorch 2's warning API (c10::Warning a class, its handler
// in c10::WarningUtils), which LibTorch 1.x's headers lack: the compile check on those
// (cmake/check_cuda_sources.cmake) checks every other CUDA file and says it skipped this one.
#include <c10/cuda/CUDAFunctions.h>
#include <c10/util/Exception.h>

#include <string>

#include "model/cuda_seam.h"

namespace sam2amg::cuda_seam {

namespace {

class CudaSyncCounting final : public SyncCounting {
 public:
  explicit CudaSyncCounting(std::int64_t* count) {
    *count = 0;
    handler_.count = count;
    handler_.previous = c10::WarningUtils::get_warning_handler();
    c10::WarningUtils::set_warning_handler(&handler_);
    saved_mode_ = c10::cuda::warning_state().get_sync_debug_mode();
    c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_WARN);
  }

  ~CudaSyncCounting() override {
    c10::cuda::warning_state().set_sync_debug_mode(saved_mode_);
    c10::WarningUtils::set_warning_handler(handler_.previous);
  }

 private:
  // Counts CUDA's "called a synchronizing CUDA operation" warnings; passes others on.
  struct Handler : c10::WarningHandler {
    c10::WarningHandler* previous = nullptr;
    std::int64_t* count = nullptr;
    void process(const c10::Warning& w) override {
      if (w.msg().find("synchronizing CUDA operation") != std::string::npos)
        ++*count;
      else if (previous)
        previous->process(w);
    }
  };
  Handler handler_;
  c10::cuda::SyncDebugMode saved_mode_ = c10::cuda::SyncDebugMode::L_DISABLED;
};

}  // namespace

std::unique_ptr<SyncCounting> count_syncs(const at::Device& device, std::int64_t* count) {
  if (!device.is_cuda()) return nullptr;
  return std::make_unique<CudaSyncCounting>(count);
}

}  // namespace sam2amg::cuda_seam
