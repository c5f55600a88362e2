// The reference's post-processing design (--postprocess reference), step by step as
// _process_batch has it: every IoU survivor upsampled to its crop at full resolution, its
// stability scored, then thresholded, boxed, filtered at the crop's edges and encoded, window
// by window. Same records as the fused design (postprocess_fused.cpp), at a higher cost.
#include <vector>

#include "amg/crop_boxes.h"
#include "amg/mask_ops.h"
#include "amg/rle_tensor.h"
#include "pipeline/postprocess.h"

namespace sam2amg {

namespace {

class ReferencePostprocess final : public PostprocessDesign {
 public:
  using PostprocessDesign::PostprocessDesign;

  Postprocess mode() const override { return Postprocess::kReference; }
  bool full_resolution() const override { return true; }
  std::string kernel(const at::Device&) const override { return "none (reference design)"; }

  Filtered filter(MaskData data, const CropBoxXyxy& crop_box, std::int64_t orig_h, std::int64_t orig_w,
                  const PassOptions& pass, ImageRun& run) const override {
    Filtered out;
    {
      StageTimer t(run, &StageSeconds::postprocess);
      // Filter by predicted IoU: the window's one host read.
      out.counts.after_pred_iou = filter_by_iou(data, pass);
      // Calculate the stability score (at every offset a sweep asks for).
      data.masks = upsample_like_reference(data.low_res_masks, crop_box[3] - crop_box[1], crop_box[2] - crop_box[0],
                                           layout_);
      data.low_res_masks = at::Tensor();
      std::vector<at::Tensor> by_offset;
      for (double offset : pass.offsets)
        by_offset.push_back(calculate_stability_score(data.masks, mask_threshold_, offset));
      data.stability_scores = at::stack(by_offset, 1);
      const at::Tensor selectable = selectable_rows(data, pass);
      out.counts.after_stability = selectable.sum();
      data.filter(selectable);
      // Threshold masks and calculate boxes.
      data.masks = data.masks > static_cast<float>(mask_threshold_);
      data.boxes = batched_mask_to_box(data.masks);
      // Filter boxes that touch crop boundaries.
      const CropBoxXyxy image_box{0, 0, orig_w, orig_h};
      const at::Tensor inside = is_box_near_crop_edge(data.boxes, crop_box, image_box).logical_not();
      out.counts.after_crop_edge = inside.sum();
      data.filter(inside);
      data.keep = at::ones({data.size()}, data.iou_preds.options().dtype(at::kBool));
    }
    // Compress to RLE on the full image frame.
    StageTimer t(run, &StageSeconds::rle);
    data.rles = mask_to_rle_pytorch(uncrop_masks(data.masks, crop_box, orig_h, orig_w));
    data.masks = at::Tensor();
    out.data = std::move(data);
    return out;
  }

  // Every window was encoded in filter().
  void encode(MaskData&, std::int64_t, std::int64_t, const CropBoxes&) const override {}
};

}  // namespace

std::unique_ptr<PostprocessDesign> make_reference_postprocess(double mask_threshold, UpsampleLayout layout) {
  return std::make_unique<ReferencePostprocess>(mask_threshold, layout);
}

}  // namespace sam2amg
