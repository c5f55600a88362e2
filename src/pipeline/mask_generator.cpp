#include "pipeline/mask_generator.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "amg/crop_boxes.h"
#include "amg/mask_data.h"
#include "amg/mask_ops.h"
#include "amg/nms.h"
#include "amg/point_grid.h"
#include "amg/rle.h"
#include "amg/small_regions.h"
#include "common/error.h"
#include "model/mask_selection.h"
#include "model/sam2_model.h"
#include "model/transforms.h"

namespace sam2amg {

namespace {

// How one pass over the model filters candidates. A normal run uses the config; a sweep uses
// the loosest IoU threshold of its settings, keeps the stability at every swept offset instead
// of filtering on it, and leaves both NMS passes to the per-setting replay.
struct PassOptions {
  double pred_iou_thresh = 0.0;
  std::vector<double> sweep_offsets;
  bool sweep() const { return !sweep_offsets.empty(); }
};

// The reference's postprocess_masks: the low-res hole/sprinkle fill (area <= fill, 0 = off),
// then the model's upsampling. ref: sam2/utils/transforms.py:76-118.
at::Tensor upsample_masks(const at::Tensor& low_res, int64_t h, int64_t w, double fill) {
  return postprocess_masks(fill_holes_and_sprinkles(low_res.to(at::kFloat), fill, fill), h, w);
}

}  // namespace

struct MaskGenerator::Impl {
  Sam2Model model;
  AmgConfig config;
  std::vector<at::Tensor> point_grids;  // one (N, 2) float64 CPU grid per crop layer

  CropBoxes crop_boxes_for(const ImageU8& image) const;
  MaskData generate_masks(const ImageU8& image, FilterFunnel& funnel) const;
  MaskData process_crop(const ImageU8& image, const CropBoxXyxy& crop_box, int layer_idx, const PassOptions& pass,
                        FilterFunnel& funnel) const;
  MaskData process_batch(const at::Tensor& points, const ImageEmbedding& embedding, int64_t crop_h, int64_t crop_w,
                         const CropBoxXyxy& crop_box, int64_t orig_h, int64_t orig_w, const PassOptions& pass,
                         FilterFunnel& funnel) const;
  std::pair<at::Tensor, at::Tensor> refine_with_m2m(const at::Tensor& points, const at::Tensor& low_res_masks,
                                                    const ImageEmbedding& embedding, int64_t crop_h,
                                                    int64_t crop_w) const;
  void finish_crop(MaskData& data, const CropBoxXyxy& crop_box, double box_nms_thresh) const;
  void remove_crop_duplicates(MaskData& data, size_t n_crops) const;
  double low_res_fill_area() const;
  void postprocess_small_regions(MaskData& data, double min_area, double nms_thresh) const;
};

namespace {

void filter_by_iou(MaskData& data, double thresh) {
  // Strict, with the threshold rounded to float32 like the reference's comparison.
  if (thresh > 0.0) data.filter(data.iou_preds > static_cast<float>(thresh));
}

// One host copy per column for the whole image. ref: automatic_mask_generator.py:195-222.
std::vector<MaskRecord> records_from(MaskData& data) {
  std::vector<MaskRecord> records;
  const int64_t n = data.size();
  if (n == 0) return records;
  const at::Tensor bbox = box_xyxy_to_xywh(data.boxes).to(at::kFloat).cpu().contiguous();
  const at::Tensor crop = box_xyxy_to_xywh(data.crop_boxes).to(at::kFloat).cpu().contiguous();
  const at::Tensor iou = data.iou_preds.to(at::kFloat).cpu().contiguous();
  const at::Tensor stab = data.stability_score.to(at::kFloat).cpu().contiguous();
  const at::Tensor pts = data.points.to(at::kFloat).cpu().contiguous();
  records.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    MaskRecord r;
    r.segmentation = std::move(data.rles[i]);
    r.area = area_from_rle(r.segmentation);
    for (int k = 0; k < 4; ++k) {
      r.bbox_xywh[k] = bbox.data_ptr<float>()[i * 4 + k];
      r.crop_box_xywh[k] = crop.data_ptr<float>()[i * 4 + k];
    }
    r.predicted_iou = iou.data_ptr<float>()[i];
    r.stability_score = stab.data_ptr<float>()[i];
    r.point_coords = {pts.data_ptr<float>()[i * 2], pts.data_ptr<float>()[i * 2 + 1]};
    records.push_back(std::move(r));
  }
  return records;
}

void check_image(const ImageU8& image) {
  if (image.empty() || image.rgb.size() != size_t(image.width) * image.height * 3)
    throw ImageError("the image buffer does not hold width*height*3 bytes");
}

}  // namespace

MaskGenerator::MaskGenerator(const std::string& model_path, const AmgConfig& config, const ModelOptions& options) {
  config.validate();
  impl_ = std::unique_ptr<Impl>(new Impl{Sam2Model::load(model_path, options), config, point_grids_for(config)});
}
MaskGenerator::MaskGenerator(MaskGenerator&&) noexcept = default;
MaskGenerator::~MaskGenerator() = default;

const AmgConfig& MaskGenerator::config() const { return impl_->config; }
std::string MaskGenerator::describe() const { return impl_->model.describe(); }

std::vector<MaskRecord> MaskGenerator::generate(const ImageU8& image, FilterFunnel* funnel) const {
  check_image(image);
  c10::InferenceMode guard;
  FilterFunnel f;
  MaskData data = impl_->generate_masks(image, f);
  if (funnel) *funnel = f;
  return records_from(data);
}

std::vector<std::vector<MaskRecord>> MaskGenerator::sweep(const ImageU8& image,
                                                          const std::vector<SweepSetting>& settings) const {
  check_image(image);
  const AmgConfig& config = impl_->config;
  if (config.min_mask_region_area > 0 && config.min_mask_region_mode == SmallRegionMode::kSam1FullRes)
    throw UsageError("threshold sweeps do not support min_mask_region_mode sam1");
  PassOptions pass;
  pass.pred_iou_thresh = settings.empty() ? 0.0 : settings[0].pred_iou_thresh;
  for (const SweepSetting& s : settings) {
    AmgConfig c = config;  // each setting must be a valid run
    c.pred_iou_thresh = s.pred_iou_thresh;
    c.stability_score_thresh = s.stability_score_thresh;
    c.stability_score_offset = s.stability_score_offset;
    c.box_nms_thresh = s.box_nms_thresh;
    c.validate();
    pass.pred_iou_thresh = std::min(pass.pred_iou_thresh, s.pred_iou_thresh);
    if (std::find(pass.sweep_offsets.begin(), pass.sweep_offsets.end(), s.stability_score_offset) ==
        pass.sweep_offsets.end())
      pass.sweep_offsets.push_back(s.stability_score_offset);
  }
  std::vector<std::vector<MaskRecord>> results;
  if (settings.empty()) return results;

  c10::InferenceMode guard;
  const CropBoxes crops = impl_->crop_boxes_for(image);
  std::vector<MaskData> candidates;
  FilterFunnel unused;
  for (size_t i = 0; i < crops.boxes.size(); ++i)
    candidates.push_back(impl_->process_crop(image, crops.boxes[i], crops.layer_idxs[i], pass, unused));

  for (const SweepSetting& s : settings) {
    const size_t k = std::find(pass.sweep_offsets.begin(), pass.sweep_offsets.end(), s.stability_score_offset) -
                     pass.sweep_offsets.begin();
    MaskData all;
    for (size_t i = 0; i < crops.boxes.size(); ++i) {
      MaskData d = candidates[i];
      if (d.size() == 0) continue;
      // The same filters as a full run, in the same order, on the kept candidates.
      d.stability_score = d.stability_by_offset.select(1, static_cast<int64_t>(k)).contiguous();
      d.stability_by_offset = at::Tensor();
      filter_by_iou(d, s.pred_iou_thresh);
      if (s.stability_score_thresh > 0.0)
        d.filter(d.stability_score >= static_cast<float>(s.stability_score_thresh));
      impl_->finish_crop(d, crops.boxes[i], s.box_nms_thresh);
      all.cat(d);
    }
    impl_->remove_crop_duplicates(all, crops.boxes.size());
    results.push_back(records_from(all));
  }
  return results;
}

CropBoxes MaskGenerator::Impl::crop_boxes_for(const ImageU8& image) const {
  const CropBoxes crops = generate_crop_boxes(image.height, image.width, config.crop_n_layers, config.crop_overlap_ratio);
  // Tiny images make empty crops (the reference fails in its resize there); refuse the image.
  for (const CropBoxXyxy& b : crops.boxes)
    if (b[2] <= b[0] || b[3] <= b[1])
      throw ImageError(std::to_string(image.width) + "x" + std::to_string(image.height) +
                                   " is too small for crop_n_layers " + std::to_string(config.crop_n_layers) +
                                   " (it gives an empty crop)");
  return crops;
}

// ref: automatic_mask_generator.py:224-249 _generate_masks.
MaskData MaskGenerator::Impl::generate_masks(const ImageU8& image, FilterFunnel& funnel) const {
  const CropBoxes crops = crop_boxes_for(image);
  const PassOptions pass{config.pred_iou_thresh, {}};

  // Iterate over image crops.
  MaskData data;
  for (size_t i = 0; i < crops.boxes.size(); ++i) {
    MaskData crop_data = process_crop(image, crops.boxes[i], crops.layer_idxs[i], pass, funnel);
    finish_crop(crop_data, crops.boxes[i], config.box_nms_thresh);
    funnel.after_box_nms += crop_data.size();
    data.cat(crop_data);
  }
  remove_crop_duplicates(data, crops.boxes.size());
  funnel.after_crop_nms = data.size();
  // SAM 1's full-resolution removal, an explicit option (SAM 2 never runs it).
  if (config.min_mask_region_area > 0 && config.min_mask_region_mode == SmallRegionMode::kSam1FullRes)
    postprocess_small_regions(data, config.min_mask_region_area,
                              std::max(config.box_nms_thresh, config.crop_nms_thresh));
  funnel.final_masks = data.size();
  return data;
}

void MaskGenerator::Impl::remove_crop_duplicates(MaskData& data, size_t n_crops) const {
  // Remove duplicate masks between crops, preferring masks from smaller crops. With no mask
  // left the reference raises IndexError here; we return an empty result.
  if (n_crops <= 1 || data.size() == 0) return;
  const at::Tensor scores = 1.0 / box_area(data.crop_boxes).to(at::kFloat);
  const at::Tensor keep = batched_nms(data.boxes.to(at::kFloat), scores.to(data.boxes.device()),
                                      at::zeros({data.size()}, data.boxes.options()), config.crop_nms_thresh);
  data.filter(keep);
}

// ref: automatic_mask_generator.py:251-292 _process_crop, up to the per-crop NMS.
MaskData MaskGenerator::Impl::process_crop(const ImageU8& image, const CropBoxXyxy& crop_box, int layer_idx,
                                           const PassOptions& pass, FilterFunnel& funnel) const {
  const auto [x0, y0, x1, y1] = crop_box;
  const int64_t crop_h = y1 - y0, crop_w = x1 - x0;
  const ImageEmbedding embedding = model.encode_image(image, crop_box);

  // Points for this crop: the normalised grid times the crop size, in float64 as numpy does.
  const at::Tensor scale = at::tensor({double(crop_w), double(crop_h)}, at::kDouble).unsqueeze(0);
  const at::Tensor points_for_image = (point_grids[layer_idx] * scale).to(at::kFloat).to(model.device());

  // Generate masks for this crop in batches.
  MaskData data;
  const int64_t n = points_for_image.size(0);
  for (int64_t b0 = 0; b0 < n; b0 += config.points_per_batch) {
    const at::Tensor points = points_for_image.slice(0, b0, std::min(n, b0 + config.points_per_batch));
    data.cat(process_batch(points, embedding, crop_h, crop_w, crop_box, image.height, image.width, pass, funnel));
  }
  return data;
}

// ref: automatic_mask_generator.py:280-292 (the end of _process_crop).
void MaskGenerator::Impl::finish_crop(MaskData& data, const CropBoxXyxy& crop_box, double box_nms_thresh) const {
  if (data.size() == 0) return;
  // Remove duplicates within this crop.
  const at::Tensor keep = batched_nms(data.boxes.to(at::kFloat), data.iou_preds,
                                      at::zeros({data.size()}, data.boxes.options()), box_nms_thresh);
  data.filter(keep);
  // Return to the original image frame.
  data.boxes = uncrop_boxes_xyxy(data.boxes, crop_box);
  data.points = uncrop_points(data.points, crop_box);
  data.crop_boxes = at::tensor({crop_box[0], crop_box[1], crop_box[2], crop_box[3]}, data.boxes.options())
                        .unsqueeze(0)
                        .expand({data.size(), 4})
                        .contiguous();
}

double MaskGenerator::Impl::low_res_fill_area() const {
  return config.min_mask_region_mode == SmallRegionMode::kSam2LowRes ? config.min_mask_region_area : 0.0;
}

// ref: automatic_mask_generator.py:294-384 _process_batch.
MaskData MaskGenerator::Impl::process_batch(const at::Tensor& points, const ImageEmbedding& embedding, int64_t crop_h,
                                            int64_t crop_w, const CropBoxXyxy& crop_box, int64_t orig_h,
                                            int64_t orig_w, const PassOptions& pass, FilterFunnel& funnel) const {
  const int64_t res = model.metadata().image_size;
  const double fill = low_res_fill_area();

  // Run the model on this batch.
  const at::Tensor in_points = transform_coords(points, crop_h, crop_w, res);
  const DecoderOutput out = model.predict_points(embedding, in_points);
  auto [logits, iou] = select_mask_outputs(out.low_res_logits, out.iou_preds, config.multimask_output,
                                           model.metadata().dynamic_multimask);
  const int64_t c = logits.size(1);

  MaskData data;
  data.iou_preds = iou.flatten(0, 1);
  data.points = points.repeat_interleave(c, 0);
  funnel.candidates += data.size();
  if (!config.use_m2m) {
    if (logits.is_cuda()) {
      // The CUDA kernel computes every output pixel alone, so rejecting by IoU before
      // upsampling is exact and saves upsampling (and memory) for every rejected candidate.
      data.low_res_masks = logits.flatten(0, 1);
      filter_by_iou(data, pass.pred_iou_thresh);
      data.masks = upsample_masks(data.low_res_masks.unsqueeze(1), crop_h, crop_w, fill).squeeze(1);
      data.low_res_masks = at::Tensor();
    } else {
      // LibTorch's CPU kernel picks its arithmetic by shape and thread count: upsample the
      // (B, C) block like the reference so the last bits agree.
      data.masks = upsample_masks(logits, crop_h, crop_w, fill).flatten(0, 1);
      filter_by_iou(data, pass.pred_iou_thresh);
    }
  } else {
    // One step refinement using the previous low-res predictions (clamped like the predictor's).
    data.low_res_masks = logits.flatten(0, 1).clamp(-32.0, 32.0);
    auto [masks, ious] = refine_with_m2m(data.points, data.low_res_masks, embedding, crop_h, crop_w);
    data.low_res_masks = at::Tensor();
    data.masks = masks.squeeze(1);
    data.iou_preds = ious.squeeze(1);
    filter_by_iou(data, pass.pred_iou_thresh);
  }
  funnel.after_pred_iou += data.size();

  // Calculate and filter by stability score (a sweep keeps it for every offset instead).
  if (pass.sweep()) {
    std::vector<at::Tensor> by_offset;
    for (double offset : pass.sweep_offsets)
      by_offset.push_back(calculate_stability_score(data.masks, config.mask_threshold, offset));
    data.stability_by_offset = at::stack(by_offset, 1);
  } else {
    data.stability_score = calculate_stability_score(data.masks, config.mask_threshold, config.stability_score_offset);
    if (config.stability_score_thresh > 0.0)
      data.filter(data.stability_score >= static_cast<float>(config.stability_score_thresh));
  }
  funnel.after_stability += data.size();

  // Threshold masks and calculate boxes.
  data.masks = data.masks > static_cast<float>(config.mask_threshold);
  data.boxes = batched_mask_to_box(data.masks);

  // Filter boxes that touch crop boundaries.
  data.filter(is_box_near_crop_edge(data.boxes, crop_box, {0, 0, orig_w, orig_h}).logical_not());
  funnel.after_crop_edge += data.size();

  // Compress to RLE on the full image frame.
  data.rles = mask_to_rle_pytorch(uncrop_masks(data.masks, crop_box, orig_h, orig_w));
  data.masks = at::Tensor();
  return data;
}

// ref: automatic_mask_generator.py:436-455 refine_with_m2m.
std::pair<at::Tensor, at::Tensor> MaskGenerator::Impl::refine_with_m2m(const at::Tensor& points,
                                                                      const at::Tensor& low_res_masks,
                                                                      const ImageEmbedding& embedding, int64_t crop_h,
                                                                      int64_t crop_w) const {
  const int64_t res = model.metadata().image_size;
  const double fill = low_res_fill_area();
  std::vector<at::Tensor> new_masks, new_ious;
  const int64_t n = points.size(0);
  for (int64_t b0 = 0; b0 < n; b0 += config.points_per_batch) {
    const int64_t b1 = std::min(n, b0 + config.points_per_batch);
    const at::Tensor in_points = transform_coords(points.slice(0, b0, b1), crop_h, crop_w, res);
    const DecoderOutput out = model.predict_points(embedding, in_points, low_res_masks.slice(0, b0, b1).unsqueeze(1));
    auto [logits, iou] = select_mask_outputs(out.low_res_logits, out.iou_preds, /*multimask_output=*/false,
                                             model.metadata().dynamic_multimask);
    new_masks.push_back(upsample_masks(logits, crop_h, crop_w, fill));
    new_ious.push_back(iou);
  }
  return {at::cat(new_masks, 0), at::cat(new_ious, 0)};
}

// SAM 1 only. ref: segment_anything/automatic_mask_generator.py:323-372 postprocess_small_regions.
void MaskGenerator::Impl::postprocess_small_regions(MaskData& data, double min_area, double nms_thresh) const {
  if (data.size() == 0) return;
  std::vector<at::Tensor> new_masks;
  std::vector<float> scores;
  for (const Rle& rle : data.rles) {
    std::vector<std::uint8_t> bytes = rle_to_mask(rle);
    at::Tensor mask = at::from_blob(bytes.data(), {rle.h, rle.w}, at::kByte).to(at::kBool);
    auto [no_holes, holes_changed] = remove_small_regions(mask, min_area, "holes");
    auto [cleaned, islands_changed] = remove_small_regions(no_holes, min_area, "islands");
    new_masks.push_back(cleaned.unsqueeze(0));
    scores.push_back(holes_changed || islands_changed ? 0.f : 1.f);
  }
  const at::Tensor masks = at::cat(new_masks, 0);
  const at::Tensor boxes = batched_mask_to_box(masks);
  const at::Tensor score_t = at::tensor(scores, at::kFloat);
  const at::Tensor keep = batched_nms(boxes.to(at::kFloat), score_t, at::zeros({boxes.size(0)}, at::kLong), nms_thresh);
  const at::Tensor keep_host = keep.contiguous();
  at::Tensor host_boxes = data.boxes.to(at::kCPU).clone();
  for (int64_t k = 0; k < keep_host.numel(); ++k) {
    const int64_t i = keep_host.data_ptr<int64_t>()[k];
    if (scores[i] != 0.f) continue;
    data.rles[i] = mask_to_rle_pytorch(masks[i].unsqueeze(0))[0];
    host_boxes[i] = boxes[i];
  }
  data.boxes = host_boxes.to(data.boxes.device());
  data.filter(keep);
}

}  // namespace sam2amg
