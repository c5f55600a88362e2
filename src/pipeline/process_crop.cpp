// Each crop's candidates: ref: automatic_mask_generator.py:251-292 _process_crop up to the
// per-crop NMS, and :294-384 _process_batch. Nothing here depends on a setting beyond the
// pass's loosest filters; MaskGenerator::Impl::select (mask_generator.cpp) does the rest.
#include <algorithm>
#include <tuple>

#include "amg/host_reads.h"
#include "amg/small_regions.h"
#include "model/mask_selection.h"
#include "model/transforms.h"
#include "pipeline/generator_impl.h"

namespace sam2amg {

namespace {

constexpr std::int64_t kMaxDecoderBatchCpu = 64;
constexpr std::int64_t kMaxDecoderBatchCuda = 256;
constexpr std::int64_t kCompactionWindowCpu = std::int64_t{128} << 20;
constexpr std::int64_t kCompactionWindowCuda = std::int64_t{1} << 30;

std::int64_t low_res_bytes(const std::vector<MaskData>& parts) {
  std::int64_t bytes = 0;
  for (const MaskData& p : parts)
    if (p.low_res_masks.defined()) bytes += p.low_res_masks.numel() * p.low_res_masks.element_size();
  return bytes;
}

// The rows `keep` marks, gathered (one host read); the marks stay, all true.
void compact(MaskData& data) {
  data.filter(data.keep);
  data.keep = at::ones({data.size()}, data.iou_preds.options().dtype(at::kBool));
}

}  // namespace

std::vector<CropCandidates> MaskGenerator::Impl::candidates(ImageRun& run, const ImageU8& image,
                                                            const PreparedImage::Inputs* prepared,
                                                            const CropBoxes& crops, const PassOptions& pass) const {
  std::vector<CropCandidates> out;
  for (size_t i = 0; i < crops.boxes.size(); ++i)
    out.push_back({process_crop(run, image, prepared, i, crops.boxes[i], crops.layer_idxs[i], pass), crops.boxes[i]});
  return out;
}

at::Tensor MaskGenerator::Impl::model_input(const ImageU8& image, const PreparedImage::Inputs* prepared,
                                            size_t crop_index, const CropBoxXyxy& crop_box) const {
  if (prepared) {
    if (prepared->pinned_image.defined()) return model.preprocess_on_device(prepared->pinned_image, crop_box);
    if (crop_index < prepared->host_inputs.size()) return model.to_input(prepared->host_inputs[crop_index]);
  }
  return model.preprocess(image, crop_box);
}

// ref: automatic_mask_generator.py:251-292 _process_crop, up to the per-crop NMS. The decoder's
// candidates are post-processed a window at a time (compaction_window()), so that gathering
// the survivors costs one host read per window rather than per batch.
MaskData MaskGenerator::Impl::process_crop(ImageRun& run, const ImageU8& image, const PreparedImage::Inputs* prepared,
                                           size_t crop_index, const CropBoxXyxy& crop_box, int layer_idx,
                                           const PassOptions& pass) const {
  const auto [x0, y0, x1, y1] = crop_box;
  const int64_t crop_h = y1 - y0, crop_w = x1 - x0;
  const int64_t orig_h = image.height, orig_w = image.width;
  at::Tensor input;
  {
    StageTimer t(run, &StageSeconds::preprocess);
    input = model_input(image, prepared, crop_index, crop_box);
  }
  ImageEmbedding embedding;
  {
    StageTimer t(run, &StageSeconds::encoder);
    embedding = model.encode(input);
  }

  // Points for this crop: the normalised grid times the crop size, in float64 as numpy does;
  // uploaded once per crop without blocking.
  const at::Tensor scale = at::tensor({double(crop_w), double(crop_h)}, at::kDouble).unsqueeze(0);
  const at::Tensor points_for_image = upload((point_grids[layer_idx] * scale).to(at::kFloat), model.device());

  // Generate masks for this crop in batches (a batch the device has no memory for is retried
  // smaller), post-processed a window at a time (in halves when the device has no memory for it).
  const std::int64_t window = compaction_window();
  std::vector<MaskData> pending, survivors;
  auto flush = [&] {
    if (pending.empty()) return;
    MaskData raw = MaskData::concat(pending);
    survivors.push_back(run.postprocess_in_halves(raw, [&](const MaskData& rows) {
      Filtered f = post->filter(rows, crop_box, orig_h, orig_w, pass, run);
      run.add(f.counts);
      return std::move(f.data);
    }));
    // IoU survivors that failed a later filter wait for NMS; gather them when they add up.
    if (survivors.size() > 1 && low_res_bytes(survivors) > window) {
      MaskData merged = MaskData::concat(survivors);
      compact(merged);
      survivors.push_back(std::move(merged));
    }
  };
  const int64_t n = points_for_image.size(0);
  for (int64_t b0 = 0; b0 < n;) {
    const int64_t step = decoder_batch();
    const at::Tensor points = points_for_image.slice(0, b0, std::min(n, b0 + step));
    try {
      pending.push_back(decode_batch(run, points, embedding, crop_h, crop_w));
    } catch (const std::exception& e) {
      run.halve_decoder_batch(e, step);  // rethrows all but running out of device memory
      continue;
    }
    run.funnel.candidates += pending.back().size();
    b0 += points.size(0);
    if (low_res_bytes(pending) >= window) flush();
  }
  flush();
  return MaskData::concat(survivors);
}

// Prompts per decoder call: points_per_batch, up to a bound that keeps the decoder's
// activations (the image embedding is repeated per prompt, 4 MiB each) and its (B, 4, 256, 256)
// logits within a fixed memory budget. Up to the bound the batches are the reference's.
std::int64_t MaskGenerator::Impl::decoder_batch() const {
  // A fast export takes as many prompts as device memory allows (records do not depend on it:
  // every prompt is decoded on its own); the exact form keeps the reference's batches.
  if (const std::int64_t fast = model.preferred_prompt_batch(); fast > 0) return std::min(fast, batch_limit);
  const std::int64_t bound = model.device().is_cuda() ? kMaxDecoderBatchCuda : kMaxDecoderBatchCpu;
  return std::min<std::int64_t>({config.points_per_batch, bound, batch_limit});
}

std::int64_t MaskGenerator::Impl::compaction_window() const {
  if (window_bytes >= 0) return window_bytes;
  return model.device().is_cuda() ? kCompactionWindowCuda : kCompactionWindowCpu;
}

double MaskGenerator::Impl::low_res_fill_area() const {
  return config.min_mask_region_mode == SmallRegionMode::kSam2LowRes ? config.min_mask_region_area : 0.0;
}

// ref: automatic_mask_generator.py:294-318 _process_batch, the model's part: the candidates'
// scores, points and low-res logits (holes filled), nothing filtered yet; the filters are the
// post-processing design's (postprocess.h).
MaskData MaskGenerator::Impl::decode_batch(ImageRun& run, const at::Tensor& points, const ImageEmbedding& embedding,
                                           std::int64_t crop_h, std::int64_t crop_w) const {
  const int64_t res = model.metadata().image_size;
  const double fill = low_res_fill_area();
  MaskData data;
  at::Tensor logits;
  {
    StageTimer t(run, &StageSeconds::decoder);
    const at::Tensor in_points = transform_coords(points, crop_h, crop_w, res);
    const DecoderOutput out = model.predict_points(embedding, in_points);
    at::Tensor iou;
    std::tie(logits, iou) = select_mask_outputs(out.low_res_logits, out.iou_preds, config.multimask_output,
                                                model.metadata().dynamic_multimask);
    data.iou_preds = iou.flatten(0, 1);
    // Each point once per mask (repeat_interleave, written as an expand: no host read).
    const int64_t k = logits.size(1);
    data.points = points.unsqueeze(1).expand({points.size(0), k, 2}).reshape({-1, 2});
    if (config.use_m2m) {
      // One step refinement using the previous low-res predictions (clamped like the predictor's).
      const at::Tensor prompts = logits.flatten(0, 1).clamp(-32.0, 32.0);
      std::tie(logits, iou) = refine_with_m2m(data.points, prompts, embedding, crop_h, crop_w);
      data.iou_preds = iou.flatten(0, 1);
    }
  }
  StageTimer t(run, &StageSeconds::postprocess);
  // The hole fill works on the low-res logits, before any upsampling (spec: postprocess_masks).
  data.low_res_masks = fill_holes_and_sprinkles(logits.to(at::kFloat), fill, fill).flatten(0, 1);
  return data;
}

// ref: automatic_mask_generator.py:436-455 refine_with_m2m, returning the refined low-res
// logits (B, 1, s, s) and their scores; the caller fills holes and upsamples.
std::pair<at::Tensor, at::Tensor> MaskGenerator::Impl::refine_with_m2m(const at::Tensor& points,
                                                                      const at::Tensor& low_res_masks,
                                                                      const ImageEmbedding& embedding, int64_t crop_h,
                                                                      int64_t crop_w) const {
  const int64_t res = model.metadata().image_size;
  std::vector<at::Tensor> new_masks, new_ious;
  const int64_t n = points.size(0);
  for (int64_t b0 = 0; b0 < n; b0 += decoder_batch()) {
    const int64_t b1 = std::min(n, b0 + decoder_batch());
    const at::Tensor in_points = transform_coords(points.slice(0, b0, b1), crop_h, crop_w, res);
    const DecoderOutput out = model.predict_points(embedding, in_points, low_res_masks.slice(0, b0, b1).unsqueeze(1));
    auto [logits, iou] = select_mask_outputs(out.low_res_logits, out.iou_preds, /*multimask_output=*/false,
                                             model.metadata().dynamic_multimask);
    new_masks.push_back(logits);
    new_ious.push_back(iou);
  }
  return {at::cat(new_masks, 0), at::cat(new_ious, 0)};
}

}  // namespace sam2amg
