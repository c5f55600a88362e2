#include "model/device_timing.h"

#include <chrono>
#include <utility>

#include "model/cuda_seam.h"

namespace sam2amg {

using Clock = std::chrono::steady_clock;

struct StageClock::Impl {
  std::unique_ptr<cuda_seam::StageEvents> events;  // CUDA: events instead of the wall clock
  std::vector<double> wall;                        // CPU: seconds per stage
  std::vector<Clock::time_point> started;          // CPU: the open interval of each stage
};

StageClock::StageClock(const at::Device& device, int n_stages) : impl_(std::make_unique<Impl>()) {
  impl_->wall.assign(n_stages, 0.0);
  impl_->started.assign(n_stages, Clock::time_point{});
  impl_->events = cuda_seam::stage_events(device);
}
StageClock::~StageClock() = default;

bool StageClock::uses_device_events() const { return impl_->events != nullptr; }

void StageClock::start(int stage) {
  if (impl_->events) return impl_->events->start(stage);
  impl_->started.at(stage) = Clock::now();
}

void StageClock::stop(int stage) {
  if (impl_->events) return impl_->events->stop(stage);
  impl_->wall.at(stage) += std::chrono::duration<double>(Clock::now() - impl_->started.at(stage)).count();
}

std::vector<double> StageClock::seconds() {
  if (impl_->events) return impl_->events->seconds(static_cast<int>(impl_->wall.size()));
  return impl_->wall;
}

struct DeviceSyncCounter::Impl {
  std::int64_t count = -1;
  std::unique_ptr<cuda_seam::SyncCounting> counting;  // CUDA: counts into `count` while alive
};

DeviceSyncCounter::DeviceSyncCounter(const at::Device& device) : impl_(std::make_unique<Impl>()) {
  impl_->counting = cuda_seam::count_syncs(device, &impl_->count);
}

DeviceSyncCounter::~DeviceSyncCounter() = default;

std::int64_t DeviceSyncCounter::count() const { return impl_->count; }

}  // namespace sam2amg
