#pragma once
/// Mask scores and boxes on tensors (any device). ref: sam2/utils/amg.py @ 2b90b9f.
#include <ATen/ATen.h>

#include "amg/crop_boxes.h"

namespace sam2amg {

/// Stability score of (N, H, W) logits: #(logit > t + off) / #(logit > t - off) as float32, with
/// strict `>` and the thresholds rounded to float32 as in the reference. U = 0 gives NaN (the
/// mask is then dropped by any `>=` filter). Counts are int64: the reference's int16 row sums
/// wrap for widths above 32767, ours do not. ref: amg.py:158-178 calculate_stability_score.
at::Tensor calculate_stability_score(const at::Tensor& masks, double mask_threshold,
                                     double threshold_offset);

/// XYXY int64 boxes with inclusive max around (..., H, W) bool masks; [0,0,0,0] for an empty
/// mask. ref: amg.py:305-348 batched_mask_to_box.
at::Tensor batched_mask_to_box(const at::Tensor& masks);

/// True for boxes (N, 4, crop frame) within atol of a crop edge that is not an image edge.
/// ref: amg.py:80-90 is_box_near_crop_edge.
at::Tensor is_box_near_crop_edge(const at::Tensor& boxes, const CropBoxXyxy& crop_box,
                                 const CropBoxXyxy& orig_box, double atol = 20.0);

/// (N, 4) XYXY -> XYWH, w = x1 - x0 (no +1). ref: amg.py box_xyxy_to_xywh.
at::Tensor box_xyxy_to_xywh(const at::Tensor& box_xyxy);

/// (x1 - x0) * (y1 - y0) per box. ref: torchvision.ops.box_area.
at::Tensor box_area(const at::Tensor& boxes);

}  // namespace sam2amg
