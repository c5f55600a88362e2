#pragma once
/// Mask scores, boxes and output-token selection on tensors (any device).
/// ref: sam2/utils/amg.py and sam2/modeling/sam/mask_decoder.py @ 2b90b9f.
#include <ATen/ATen.h>

#include <utility>

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

/// Stability of (B, C, h, w) low-res logits at +-delta (area_u = 0 gives 1.0).
/// ref: mask_decoder.py:247-257 _get_stability_scores.
at::Tensor get_stability_scores(const at::Tensor& mask_logits, double delta);

/// Token 0 where its stability >= thresh, else the multimask token (1..3) with the highest IoU
/// (first on ties). Inputs: all four tokens (B, 4, h, w) and (B, 4). Returns (B, 1, h, w), (B, 1).
/// ref: mask_decoder.py:259-295 _dynamic_multimask_via_stability.
std::pair<at::Tensor, at::Tensor> dynamic_multimask_via_stability(const at::Tensor& all_mask_logits,
                                                                  const at::Tensor& all_iou_scores,
                                                                  double delta, double thresh);

/// Settings of the decoder's dynamic single-mask fallback (embedded in the model file).
struct DynamicMultimask {
  bool enabled = false;
  double delta = 0.05;
  double thresh = 0.98;
};

/// The mask decoder's output selection: tokens 1..3 for multimask, else token 0 or the dynamic
/// fallback. ref: mask_decoder.py:145-153 (forward).
std::pair<at::Tensor, at::Tensor> select_mask_outputs(const at::Tensor& all_mask_logits,
                                                      const at::Tensor& all_iou_scores,
                                                      bool multimask_output,
                                                      const DynamicMultimask& dynamic);

}  // namespace sam2amg
