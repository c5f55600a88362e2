#pragma once
/// The mask decoder's output selection on its four mask tokens (any device).
/// ref: sam2/modeling/sam/mask_decoder.py @ 2b90b9f.
#include <ATen/ATen.h>

#include <utility>

namespace sam2amg {

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
