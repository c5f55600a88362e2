#pragma once
/// MaskRecord: one generated mask, with the fields of the reference's record dict
/// (ref: sam2/automatic_mask_generator.py:208-218). Torch-free so writers can use it.
#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "amg/rle_host.h"

namespace sam2amg {

struct MaskRecord {
  /// The full-image mask as uncompressed RLE (column-major, see Rle).
  Rle segmentation;
  /// Foreground pixel count (area_from_rle).
  std::int64_t area = 0;
  /// [x0, y0, x1 - x0, y1 - y0] with inclusive x1/y1, as the reference (no +1: a one-pixel mask
  /// has width 0). Values are float32 like the reference's `.float()` cast.
  std::array<float, 4> bbox_xywh{};
  /// Model-predicted mask quality (sigmoid output, token chosen by multimask/m2m).
  float predicted_iou = 0.f;
  /// The prompt point in image pixels (float32, crop offset added).
  std::array<float, 2> point_coords{};
  /// IoU of the mask binarised at mask_threshold +- stability_score_offset.
  float stability_score = 0.f;
  /// The crop the mask came from, [x0, y0, w, h].
  std::array<float, 4> crop_box_xywh{};
};

/// How many mask candidates each stage of the generator kept for one image (or, summed, a run):
/// the answer to "which filter removed my masks?". Stages in pipeline order; each count is at
/// most the one before it.
struct FilterFunnel {
  std::int64_t candidates = 0;       ///< grid points x masks per point, over all crops
  std::int64_t after_pred_iou = 0;   ///< predicted IoU > pred_iou_thresh
  std::int64_t after_stability = 0;  ///< stability score >= stability_score_thresh
  std::int64_t after_crop_edge = 0;  ///< not touching an inner crop edge
  std::int64_t after_box_nms = 0;    ///< per-crop NMS (box_nms_thresh), summed over crops
  std::int64_t after_crop_nms = 0;   ///< cross-crop NMS (crop_nms_thresh); same as above with one crop
  // The extension filters' stages (src/amg/mask_filters.h), present only when the filter is on, so
  // a run without them reports exactly the reference's stages.
  std::optional<std::int64_t> after_min_area;   ///< min_area and min_area_fraction
  std::optional<std::int64_t> after_max_area;   ///< max_area and max_area_fraction
  std::optional<std::int64_t> after_max_masks;  ///< max_masks_per_image
  std::int64_t final_masks = 0;  ///< output masks (after SAM 1 small-region removal and the extension filters)

  FilterFunnel& operator+=(const FilterFunnel& o) {
    for (auto stage : {&FilterFunnel::after_min_area, &FilterFunnel::after_max_area, &FilterFunnel::after_max_masks})
      if (o.*stage) this->*stage = (this->*stage).value_or(0) + *(o.*stage);
    candidates += o.candidates;
    after_pred_iou += o.after_pred_iou;
    after_stability += o.after_stability;
    after_crop_edge += o.after_crop_edge;
    after_box_nms += o.after_box_nms;
    after_crop_nms += o.after_crop_nms;
    final_masks += o.final_masks;
    return *this;
  }
};

/// The funnel's stages as (name, count), in pipeline order; the names are the keys of the JSON
/// outputs and of the --stats summary.
inline std::vector<std::pair<const char*, std::int64_t>> funnel_stages(const FilterFunnel& f) {
  std::vector<std::pair<const char*, std::int64_t>> stages{
      {"candidates", f.candidates},           {"after_pred_iou", f.after_pred_iou},
      {"after_stability", f.after_stability}, {"after_crop_edge", f.after_crop_edge},
      {"after_box_nms", f.after_box_nms},     {"after_crop_nms", f.after_crop_nms}};
  if (f.after_min_area) stages.emplace_back("after_min_area", *f.after_min_area);
  if (f.after_max_area) stages.emplace_back("after_max_area", *f.after_max_area);
  if (f.after_max_masks) stages.emplace_back("after_max_masks", *f.after_max_masks);
  stages.emplace_back("final", f.final_masks);
  return stages;
}

}  // namespace sam2amg
