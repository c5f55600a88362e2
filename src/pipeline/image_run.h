#pragma once
/// One image's pass through the generator (internal to pipeline/): what its steps share besides
/// the tensors. generate() and sweep() make one per image and hand it down the reference's
/// steps; it times the stages, keeps the funnel's value-dependent counts on the device, reads
/// the records back with those counts in one host read, and halves the work when the device
/// runs out of memory.
#include <ATen/ATen.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "amg/mask_data.h"
#include "amg/mask_record.h"
#include "common/stages.h"
#include "model/device_timing.h"
#include "pipeline/stage_times.h"

namespace sam2amg {

class Sam2Model;

/// The funnel's counts that depend on the candidates' values, as (0-d) device tensors: reading
/// them per window would be a wait per window on CUDA.
struct DeviceCounts {
  at::Tensor after_pred_iou, after_stability, after_crop_edge;
};

class ImageRun {
 public:
  using Warn = std::function<void(const std::string&)>;

  /// Starts an image on `model`: host reads counted from zero, an earlier failed image's
  /// non-finite flags dropped; with `timed`, the stage clock and CUDA's sync count run.
  /// `batch_limit` is the generator's decoder batch limit (kept across images), `warn` its
  /// warning handler (may be empty).
  ImageRun(const Sam2Model& model, bool timed, std::int64_t& batch_limit, const Warn& warn);
  ImageRun(const ImageRun&) = delete;
  ImageRun& operator=(const ImageRun&) = delete;

  /// Candidates kept per stage, the counts the host knows (the device's come with the records).
  FilterFunnel funnel;

  void add(const DeviceCounts& counts);
  /// A warning the image goes on after.
  void warn(const std::string& message) const;

  /// Call while handling `e`, thrown by a decoder call of `step` prompts: out of device memory,
  /// lowers the batch limit to half the step (for the rest of the run) and warns, and the caller
  /// retries; rethrows anything else, and a single prompt failing as a DeviceError.
  void halve_decoder_batch(const std::exception& e, std::int64_t step);
  /// `postprocess(rows)`; out of device memory, the rows in halves (each row's result depends on
  /// that row alone), concatenated; only a single row failing is an error (DeviceError).
  MaskData postprocess_in_halves(const MaskData& rows, const std::function<MaskData(const MaskData&)>& postprocess);

  /// The image's one read: the records of `data` (taking its RLEs), the device counts into
  /// `funnel`, and the model's non-finite-output flags: NaN/inf in any of the image's model
  /// outputs throws ImageError (exit 4), its records unused.
  std::vector<MaskRecord> read_records_and_counts(MaskData& data);
  /// The records of `data` alone, in one read (a sweep's setting).
  static std::vector<MaskRecord> read_records(MaskData& data);
  /// The non-finite-output check alone, in one read (a sweep, before its settings' records).
  void check_outputs_finite() const;

  /// Adds this image's stage seconds, host reads and CUDA syncs to `times`. Once, after the
  /// image's work (on CUDA it waits for the clock's last event).
  void add_times(StageTimes& times);

 private:
  friend class StageTimer;
  const Sam2Model& model_;
  std::int64_t& batch_limit_;
  const Warn& warn_;
  at::Tensor device_counts_;  // (3,) int64: after_pred_iou, after_stability, after_crop_edge
  std::optional<DeviceSyncCounter> syncs_;
  std::optional<StageClock> clock_;
};

/// Adds the time from its construction to its destruction to a stage of the run (CUDA events or
/// the wall clock: never a wait); nothing when the run is not timed.
class StageTimer {
 public:
  StageTimer(ImageRun& run, double StageSeconds::*stage);
  ~StageTimer();
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageClock* clock_;
  int stage_;
};

}  // namespace sam2amg
