#pragma once
/// What the generator measured of an image (MaskGenerator::generate's `times`), torch-free.
#include <algorithm>
#include <cstdint>

#include "common/stages.h"

namespace sam2amg {

/// Seconds one image spent in each stage (sam2-amg bench; the stages: common/stages.h), and how
/// often its loop waited for the device. On CUDA the times come from events recorded on the
/// stream and read once at the end of the image (timing adds no synchronisation); on the CPU
/// from the wall clock.
struct StageTimes : StageSeconds {
  /// Device-to-host reads of the image (src/amg/host_reads.h): each one a wait on CUDA. Counted
  /// on every device, so a CPU run shows the count a GPU run has.
  std::int64_t host_reads = 0;
  /// Synchronising operations CUDA itself counted (its sync-debug mode); -1 where unknown (the
  /// CPU, or a LibTorch without CUDA).
  std::int64_t device_syncs = -1;
  bool device_events = false;  ///< the seconds come from CUDA events

  StageTimes& operator+=(const StageTimes& o) {
    host_reads += o.host_reads;
    if (o.device_syncs >= 0) device_syncs = std::max<std::int64_t>(device_syncs, 0) + o.device_syncs;
    device_events = device_events || o.device_events;
    for (const StageName& s : kStages) this->*s.seconds += o.*s.seconds;
    return *this;
  }
};

}  // namespace sam2amg
