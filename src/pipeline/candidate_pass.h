#pragma once
/// One pass of the model over an image's candidates, for the run's own setting (generate) or
/// for several (sweep), internal to pipeline/: which rows some setting may select. The per-row
/// filters are the reference's (ref: automatic_mask_generator.py:330-342).
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "amg/mask_data.h"
#include "pipeline/sweep_setting.h"

namespace sam2amg {

/// What one pass over the model keeps: the rows some setting may select.
struct PassOptions {
  std::vector<SweepSetting> settings;
  std::vector<double> offsets;  ///< distinct stability offsets, in first-use order

  explicit PassOptions(std::vector<SweepSetting> s);
  std::int64_t offset_index(double offset) const;
};

/// The per-row filters of one setting: IoU strict and stability >=, each with its threshold
/// rounded to float32 like the reference's tensor comparison, and each off when <= 0.
at::Tensor passes_iou(const MaskData& d, const SweepSetting& s);
at::Tensor passes_stability(const at::Tensor& stability, const SweepSetting& s);

/// The IoU filter of a window of candidates (its one host read): keeps the rows that some
/// setting's IoU filter passes, and returns how many the run's own setting passes (a device
/// count). Rows no setting keeps are never upsampled (every kernel computes each output pixel
/// from its mask alone, so the order does not matter).
at::Tensor filter_by_iou(MaskData& data, const PassOptions& pass);

/// The rows that some setting's IoU and stability filters pass (`data.stability_scores` has a
/// column per offset of the pass); with one setting, exactly its filters.
at::Tensor selectable_rows(const MaskData& data, const PassOptions& pass);

}  // namespace sam2amg
