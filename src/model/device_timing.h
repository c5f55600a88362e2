#pragma once
/// Measuring a run without disturbing it: stage times from CUDA events (read once per image, no
/// synchronisation per stage) or the wall clock on the CPU, and CUDA's own count of the
/// synchronising operations (its sync-debug mode). The CUDA parts (device_timing_cuda.cpp)
/// exist where the linked LibTorch has CUDA; elsewhere the clock is the wall clock and the count
/// is unknown.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace sam2amg {

/// Seconds per stage of one image. Intervals of a stage add up; they must not overlap.
class StageClock {
 public:
  StageClock(const at::Device& device, int n_stages);
  ~StageClock();
  StageClock(const StageClock&) = delete;
  StageClock& operator=(const StageClock&) = delete;

  void start(int stage);
  void stop(int stage);
  /// The seconds of each stage. On CUDA this waits for the last recorded event (call it after
  /// the image's work); the events are read here, once.
  std::vector<double> seconds();
  /// True when the times come from CUDA events.
  bool uses_device_events() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// While alive, counts the synchronising CUDA operations this thread runs (CUDA's sync-debug
/// mode set to warn; the warnings are counted, not printed). count() is -1 where nothing can be
/// counted (not CUDA, or a LibTorch without CUDA).
class DeviceSyncCounter {
 public:
  explicit DeviceSyncCounter(const at::Device& device);
  ~DeviceSyncCounter();
  DeviceSyncCounter(const DeviceSyncCounter&) = delete;
  DeviceSyncCounter& operator=(const DeviceSyncCounter&) = delete;

  std::int64_t count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sam2amg
