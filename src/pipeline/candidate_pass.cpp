#include "pipeline/candidate_pass.h"

#include <algorithm>

namespace sam2amg {

PassOptions::PassOptions(std::vector<SweepSetting> s) : settings(std::move(s)) {
  for (const SweepSetting& x : settings)
    if (std::find(offsets.begin(), offsets.end(), x.stability_score_offset) == offsets.end())
      offsets.push_back(x.stability_score_offset);
}

std::int64_t PassOptions::offset_index(double offset) const {
  return std::find(offsets.begin(), offsets.end(), offset) - offsets.begin();
}

at::Tensor passes_iou(const MaskData& d, const SweepSetting& s) {
  if (s.pred_iou_thresh <= 0.0) return at::ones({d.size()}, d.iou_preds.options().dtype(at::kBool));
  return d.iou_preds > static_cast<float>(s.pred_iou_thresh);
}

at::Tensor passes_stability(const at::Tensor& stability, const SweepSetting& s) {
  if (s.stability_score_thresh <= 0.0) return at::ones({stability.size(0)}, stability.options().dtype(at::kBool));
  return stability >= static_cast<float>(s.stability_score_thresh);
}

at::Tensor filter_by_iou(MaskData& data, const PassOptions& pass) {
  const at::Tensor n = passes_iou(data, pass.settings[0]).sum();  // the run's own setting when not sweeping
  at::Tensor any = at::zeros({data.size()}, data.iou_preds.options().dtype(at::kBool));
  for (const SweepSetting& s : pass.settings) any = any.logical_or(passes_iou(data, s));
  data.filter(any);
  return n;
}

at::Tensor selectable_rows(const MaskData& data, const PassOptions& pass) {
  at::Tensor any = at::zeros({data.size()}, data.iou_preds.options().dtype(at::kBool));
  for (const SweepSetting& s : pass.settings) {
    const at::Tensor stability = data.stability_scores.select(1, pass.offset_index(s.stability_score_offset));
    any = any.logical_or(passes_iou(data, s).logical_and(passes_stability(stability, s)));
  }
  return any;
}

}  // namespace sam2amg
