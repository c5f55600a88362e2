#pragma once
/// MaskRecord: one generated mask, with the fields of the reference's record dict
/// (ref: sam2/automatic_mask_generator.py:208-218). Torch-free so writers can use it.
#include <array>
#include <cstdint>

#include "amg/rle_codec.h"

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

}  // namespace sam2amg
