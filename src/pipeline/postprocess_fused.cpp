// The fused post-processing design (--postprocess fused, the default): the IoU filter first,
// then the stability counts and the boxes of the upsampled masks, evaluated on the fly from the
// low-res logits without materialising the masks (amg/upsampled_masks.h). The logits ride along
// until the survivors of both NMS passes are encoded straight into RLE. Same records as the
// reference design (postprocess_reference.cpp).
#include <array>
#include <map>
#include <vector>

#include "amg/host_reads.h"
#include "amg/mask_ops.h"
#include "pipeline/postprocess.h"

namespace sam2amg {

namespace {

class FusedPostprocess final : public PostprocessDesign {
 public:
  using PostprocessDesign::PostprocessDesign;

  Postprocess mode() const override { return Postprocess::kFused; }
  bool full_resolution() const override { return false; }

  std::string kernel(const at::Device& device) const override {
    if (device.is_cpu()) return fused_cpu_kernel_matches(layout_) ? "cpu fused kernel" : "aten fallback";
    return cuda_stats_path();  // "kernel", "fallback (why)", ... (amg/upsampled_masks.h)
  }

  Filtered filter(MaskData data, const CropBoxXyxy& crop_box, std::int64_t orig_h, std::int64_t orig_w,
                  const PassOptions& pass, ImageRun& run) const override {
    StageTimer t(run, &StageSeconds::postprocess);
    Filtered out;
    // Filter by predicted IoU: the window's one host read.
    out.counts.after_pred_iou = filter_by_iou(data, pass);
    // Calculate the stability score (at every offset a sweep asks for) and the boxes.
    stats(data, crop_box[3] - crop_box[1], crop_box[2] - crop_box[0], pass, run);
    const at::Tensor selectable = selectable_rows(data, pass);
    out.counts.after_stability = selectable.sum();
    // The stability and crop-edge filters (no setting changes the latter) only mark the rows:
    // they are gathered with the per-crop NMS's read.
    const CropBoxXyxy image_box{0, 0, orig_w, orig_h};
    data.keep = selectable.logical_and(is_box_near_crop_edge(data.boxes, crop_box, image_box).logical_not());
    out.counts.after_crop_edge = data.keep.sum();
    out.data = std::move(data);
    return out;
  }

  // The survivors' masks, straight from their low-res logits into full-image RLE.
  void encode(MaskData& data, std::int64_t orig_h, std::int64_t orig_w, const CropBoxes& crops) const override {
    if (!data.low_res_masks.defined()) return;  // no crop kept a row
    const at::Tensor low = data.low_res_masks;
    data.low_res_masks = at::Tensor();
    data.rles.assign(data.size(), Rle{});
    if (data.size() == 0) return;
    const auto encode_crop = [&](const CropBoxXyxy& box, const at::Tensor& rows) {
      const CropPlacement place{box[0], box[1], box[3] - box[1], box[2] - box[0], orig_h, orig_w};
      return upsampled_masks_to_rle(rows, place, static_cast<float>(mask_threshold_), layout_);
    };
    if (crops.boxes.size() == 1) {  // one crop: every row is its own, no read needed to group them
      data.rles = encode_crop(crops.boxes[0], low);
      return;
    }
    // Masks of one crop are encoded together.
    const at::Tensor crop_of_row = read_to_host(data.crop_boxes).contiguous();
    std::map<std::array<std::int64_t, 4>, std::vector<std::int64_t>> rows_of;
    const std::int64_t* cb = crop_of_row.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < data.size(); ++i) rows_of[{cb[4 * i], cb[4 * i + 1], cb[4 * i + 2], cb[4 * i + 3]}].push_back(i);
    for (const auto& [box, rows] : rows_of) {
      const at::Tensor idx = upload(at::tensor(rows, at::kLong), low.device());
      std::vector<Rle> rles = encode_crop({box[0], box[1], box[2], box[3]}, low.index_select(0, idx));
      for (size_t k = 0; k < rows.size(); ++k) data.rles[rows[k]] = std::move(rles[k]);
    }
  }

 private:
  // Counts and boxes of the upsampled masks; the low-res logits stay for encode().
  void stats(MaskData& data, std::int64_t crop_h, std::int64_t crop_w, const PassOptions& pass, ImageRun& run) const {
    // Python computes thresholds in double; the comparison with float32 logits rounds them.
    std::vector<float> thresholds;
    for (double offset : pass.offsets) {
      thresholds.push_back(static_cast<float>(mask_threshold_ + offset));
      thresholds.push_back(static_cast<float>(mask_threshold_ - offset));
    }
    const UpsampledMaskStats stats = upsampled_mask_stats(data.low_res_masks, crop_h, crop_w, thresholds,
                                                          static_cast<float>(mask_threshold_), layout_);
    if (const std::string w = take_cuda_stats_warning(); !w.empty()) run.warn(w);
    // ref: amg.py calculate_stability_score: int / int true division in float32.
    const at::Tensor counts = stats.counts.to(at::kFloat);
    const std::int64_t k = counts.size(1);
    data.stability_scores = counts.slice(1, 0, k, 2) / counts.slice(1, 1, k, 2);
    data.boxes = stats.boxes;
  }
};

}  // namespace

std::unique_ptr<PostprocessDesign> make_fused_postprocess(double mask_threshold, UpsampleLayout layout) {
  return std::make_unique<FusedPostprocess>(mask_threshold, layout);
}

}  // namespace sam2amg
