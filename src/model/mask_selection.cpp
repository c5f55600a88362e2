#include "model/mask_selection.h"

namespace sam2amg {

at::Tensor get_stability_scores(const at::Tensor& mask_logits, double delta) {
  const at::Tensor flat = mask_logits.flatten(-2);
  const at::Tensor area_i = (flat > delta).sum(-1).to(at::kFloat);
  const at::Tensor area_u = (flat > -delta).sum(-1).to(at::kFloat);
  return at::where(area_u > 0, area_i / area_u, at::ones_like(area_i));
}

std::pair<at::Tensor, at::Tensor> dynamic_multimask_via_stability(const at::Tensor& all_mask_logits,
                                                                  const at::Tensor& all_iou_scores,
                                                                  double delta, double thresh) {
  TORCH_CHECK(all_mask_logits.dim() == 4 && all_mask_logits.size(1) == 4,
              "dynamic_multimask_via_stability: expected (B, 4, h, w) logits, got ", all_mask_logits.sizes());
  const at::Tensor multimask_logits = all_mask_logits.slice(1, 1);
  const at::Tensor multimask_iou = all_iou_scores.slice(1, 1);
  const at::Tensor best = multimask_iou.argmax(-1);  // first maximum on ties
  const at::Tensor batch = at::arange(multimask_iou.size(0), best.options());
  const at::Tensor best_logits = multimask_logits.index({batch, best}).unsqueeze(1);
  const at::Tensor best_iou = multimask_iou.index({batch, best}).unsqueeze(1);

  const at::Tensor single_logits = all_mask_logits.slice(1, 0, 1);
  const at::Tensor single_iou = all_iou_scores.slice(1, 0, 1);
  const at::Tensor is_stable = get_stability_scores(single_logits, delta) >= thresh;  // (B, 1)

  at::Tensor logits = at::where(is_stable.unsqueeze(-1).unsqueeze(-1), single_logits, best_logits);
  at::Tensor iou = at::where(is_stable, single_iou, best_iou);
  return {logits, iou};
}

std::pair<at::Tensor, at::Tensor> select_mask_outputs(const at::Tensor& all_mask_logits,
                                                      const at::Tensor& all_iou_scores,
                                                      bool multimask_output,
                                                      const DynamicMultimask& dynamic) {
  if (multimask_output) return {all_mask_logits.slice(1, 1), all_iou_scores.slice(1, 1)};
  if (dynamic.enabled)
    return dynamic_multimask_via_stability(all_mask_logits, all_iou_scores, dynamic.delta, dynamic.thresh);
  return {all_mask_logits.slice(1, 0, 1), all_iou_scores.slice(1, 0, 1)};
}

}  // namespace sam2amg
