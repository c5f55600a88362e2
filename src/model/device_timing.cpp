#include "model/device_timing.h"

#include <c10/util/Exception.h>

#include <chrono>
#include <string>
#include <utility>

#ifdef SAM2AMG_CUDA_STATS
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace sam2amg {

using Clock = std::chrono::steady_clock;

struct StageClock::Impl {
  bool events = false;
  std::vector<double> wall;                 // CPU: seconds per stage
  std::vector<Clock::time_point> started;   // CPU: the open interval of each stage
#ifdef SAM2AMG_CUDA_STATS
  struct Interval {
    int stage;
    at::cuda::CUDAEvent begin{cudaEventDefault}, end{cudaEventDefault};
  };
  std::vector<std::unique_ptr<Interval>> intervals;
#endif
};

StageClock::StageClock(const at::Device& device, int n_stages) : impl_(std::make_unique<Impl>()) {
  impl_->wall.assign(n_stages, 0.0);
  impl_->started.assign(n_stages, Clock::time_point{});
#ifdef SAM2AMG_CUDA_STATS
  impl_->events = device.is_cuda();
#else
  (void)device;
#endif
}
StageClock::~StageClock() = default;

bool StageClock::uses_device_events() const { return impl_->events; }

void StageClock::start(int stage) {
#ifdef SAM2AMG_CUDA_STATS
  if (impl_->events) {
    auto iv = std::make_unique<Impl::Interval>();
    iv->stage = stage;
    iv->begin.record();  // on the current stream
    impl_->intervals.push_back(std::move(iv));
    return;
  }
#endif
  impl_->started.at(stage) = Clock::now();
}

void StageClock::stop(int stage) {
#ifdef SAM2AMG_CUDA_STATS
  if (impl_->events) {
    for (auto it = impl_->intervals.rbegin(); it != impl_->intervals.rend(); ++it)
      if ((*it)->stage == stage) {
        (*it)->end.record();
        break;
      }
    return;
  }
#endif
  impl_->wall.at(stage) += std::chrono::duration<double>(Clock::now() - impl_->started.at(stage)).count();
}

std::vector<double> StageClock::seconds() {
#ifdef SAM2AMG_CUDA_STATS
  if (impl_->events) {
    std::vector<double> out(impl_->wall.size(), 0.0);
    if (!impl_->intervals.empty()) impl_->intervals.back()->end.synchronize();
    for (const auto& iv : impl_->intervals) {
      iv->end.synchronize();  // done already: the last one was waited for
      out.at(iv->stage) += iv->begin.elapsed_time(iv->end) / 1000.0;
    }
    return out;
  }
#endif
  return impl_->wall;
}

struct DeviceSyncCounter::Impl {
  std::int64_t count = -1;
#ifdef SAM2AMG_CUDA_STATS
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
  Handler handler;
  c10::cuda::SyncDebugMode saved_mode = c10::cuda::SyncDebugMode::L_DISABLED;
  bool active = false;
#endif
};

DeviceSyncCounter::DeviceSyncCounter(const at::Device& device) : impl_(std::make_unique<Impl>()) {
#ifdef SAM2AMG_CUDA_STATS
  if (!device.is_cuda()) return;
  impl_->count = 0;
  impl_->handler.count = &impl_->count;
  impl_->handler.previous = c10::WarningUtils::get_warning_handler();
  c10::WarningUtils::set_warning_handler(&impl_->handler);
  impl_->saved_mode = c10::cuda::warning_state().get_sync_debug_mode();
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_WARN);
  impl_->active = true;
#else
  (void)device;
#endif
}

DeviceSyncCounter::~DeviceSyncCounter() {
#ifdef SAM2AMG_CUDA_STATS
  if (impl_->active) {
    c10::cuda::warning_state().set_sync_debug_mode(impl_->saved_mode);
    c10::WarningUtils::set_warning_handler(impl_->handler.previous);
  }
#endif
}

std::int64_t DeviceSyncCounter::count() const { return impl_->count; }

}  // namespace sam2amg
