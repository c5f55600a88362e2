// cuda_seam.h's stage events (device_timing.cpp's CUDA side; its sync count is
// device_timing_sync_cuda.cpp).
#include <ATen/cuda/CUDAEvent.h>

#include <utility>

#include "model/cuda_seam.h"

namespace sam2amg::cuda_seam {

namespace {

class CudaStageEvents final : public StageEvents {
 public:
  void start(int stage) override {
    auto iv = std::make_unique<Interval>();
    iv->stage = stage;
    iv->begin.record();  // on the current stream
    intervals_.push_back(std::move(iv));
  }

  void stop(int stage) override {
    for (auto it = intervals_.rbegin(); it != intervals_.rend(); ++it)
      if ((*it)->stage == stage) {
        (*it)->end.record();
        break;
      }
  }

  std::vector<double> seconds(int n_stages) override {
    std::vector<double> out(n_stages, 0.0);
    if (!intervals_.empty()) intervals_.back()->end.synchronize();
    for (const auto& iv : intervals_) {
      iv->end.synchronize();  // done already: the last one was waited for
      out.at(iv->stage) += iv->begin.elapsed_time(iv->end) / 1000.0;
    }
    return out;
  }

 private:
  struct Interval {
    int stage;
    at::cuda::CUDAEvent begin{cudaEventDefault}, end{cudaEventDefault};
  };
  std::vector<std::unique_ptr<Interval>> intervals_;
};

}  // namespace

std::unique_ptr<StageEvents> stage_events(const at::Device& device) {
  if (!device.is_cuda()) return nullptr;
  return std::make_unique<CudaStageEvents>();
}

}  // namespace sam2amg::cuda_seam
