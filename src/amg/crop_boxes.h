#pragma once
/// Crop boxes and the uncrop transforms. ref: sam2/utils/amg.py:202-266.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <vector>

#include "common/geometry.h"

namespace sam2amg {

struct CropBoxes {
  std::vector<CropBoxXyxy> boxes;  ///< crop 0 is the whole image
  std::vector<int> layer_idxs;     ///< crop layer of each box
};

/// Crop 0 is the whole image; layer i (1-based) adds (2^i)^2 overlapping crops, x outer, y inner.
/// Arithmetic follows the reference's Python floats exactly (ref: sam2/utils/amg.py generate_crop_boxes).
CropBoxes generate_crop_boxes(std::int64_t im_h, std::int64_t im_w, int n_layers, double overlap_ratio);

/// Adds the crop's (x0, y0) to (N, 4) XYXY boxes. Keeps the dtype of `boxes`.
at::Tensor uncrop_boxes_xyxy(const at::Tensor& boxes, const CropBoxXyxy& crop_box);

/// Adds the crop's (x0, y0) to (N, 2) points (float points stay float).
at::Tensor uncrop_points(const at::Tensor& points, const CropBoxXyxy& crop_box);

/// Zero-pads (N, h, w) crop masks to (N, orig_h, orig_w); returns `masks` itself for the full
/// image crop.
at::Tensor uncrop_masks(const at::Tensor& masks, const CropBoxXyxy& crop_box, std::int64_t orig_h,
                        std::int64_t orig_w);

}  // namespace sam2amg
