#include "pipeline/mask_generator.h"

#include <ATen/ATen.h>

#include <algorithm>

#include "amg/host_reads.h"
#include "amg/mask_filters.h"
#include "amg/mask_ops.h"
#include "amg/nms.h"
#include "amg/point_grid.h"
#include "amg/rle_tensor.h"
#include "amg/small_regions.h"
#include "common/error.h"
#include "model/torch_errors.h"
#include "pipeline/generator_impl.h"
#include "pipeline/memory_check.h"

namespace sam2amg {

namespace {

// prepare() does the CPU preprocessing of this many crops (the whole image and the first layer);
// further crops are preprocessed when they are reached, so an image's inputs stay bounded.
constexpr size_t kPreparedCrops = 5;

void check_image(const ImageU8& image) {
  if (image.empty() || image.rgb.size() != size_t(image.width) * image.height * 3)
    throw ImageError("the image buffer does not hold width*height*3 bytes");
}

// A PreparedImage of a borrowed image, nothing prepared.
PreparedImage borrowed(const ImageU8& image) {
  return PreparedImage(std::shared_ptr<const ImageU8>(&image, [](const ImageU8*) {}));
}

}  // namespace

MaskGenerator::Impl::Impl(Sam2Model m, const AmgConfig& c)
    : model(std::move(m)), config(c), point_grids(point_grids_for(c)), post(make_postprocess(Postprocess::kFused, c)) {}

MaskGenerator::MaskGenerator(const std::string& model_path, const AmgConfig& config, const ModelOptions& options) {
  config.validate();
  ModelOptions load_options = options;
  load_options.probe_mask_input = load_options.probe_mask_input || config.use_m2m;  // every method the run calls
  impl_ = std::make_unique<Impl>(Sam2Model::load(model_path, load_options), config);
}
MaskGenerator::MaskGenerator(MaskGenerator&&) noexcept = default;
MaskGenerator::~MaskGenerator() = default;

const AmgConfig& MaskGenerator::config() const { return impl_->config; }
std::string MaskGenerator::describe() const { return impl_->model.describe(); }
std::string MaskGenerator::runtime() const { return runtime_description(); }
std::int64_t MaskGenerator::peak_device_bytes() const { return impl_->model.peak_device_bytes(); }
void MaskGenerator::reset_peak_device_bytes() const { impl_->model.reset_peak_device_bytes(); }
void MaskGenerator::set_postprocess(Postprocess mode) { impl_->post = make_postprocess(mode, impl_->config); }
void MaskGenerator::set_compaction_window(std::int64_t bytes) { impl_->window_bytes = std::max<std::int64_t>(0, bytes); }
void MaskGenerator::set_warning_handler(std::function<void(const std::string&)> handler) {
  impl_->on_warning = std::move(handler);
}

std::vector<std::pair<std::string, std::string>> MaskGenerator::execution_paths() const {
  const DecoderPath decoder = impl_->model.decoder_path();
  std::vector<std::pair<std::string, std::string>> paths{
      {"preprocess", impl_->model.preprocesses_on_device() ? "device (fast mode)" : "cpu, in the decode workers"},
      {"postprocess", enum_name(impl_->post->mode())},
      {"postprocess_kernel", impl_->post->kernel(impl_->model.device())},
      {"decoder", decoder.str()},
      {"decoder_graph",
       decoder.cuda_graph ? "cuda graph (" + std::to_string(decoder.graph_replays) + " replays)" : "eager"}};
  if (!decoder.not_native.empty()) paths.emplace_back("decoder_not_native", decoder.not_native);
  return paths;
}

PreparedImage MaskGenerator::prepare(std::shared_ptr<const ImageU8> image) const {
  PreparedImage out(std::move(image));
  check_image(out.image());
  c10::InferenceMode guard;
  auto inputs = std::make_shared<PreparedImage::Inputs>();
  inputs->crops = impl_->crop_boxes_for(out.image());
  if (impl_->model.preprocesses_on_device()) {
    inputs->pinned_image = impl_->model.pin_image(out.image());
  } else {
    const size_t n = std::min(inputs->crops.boxes.size(), kPreparedCrops);
    for (size_t i = 0; i < n; ++i)
      inputs->host_inputs.push_back(impl_->model.preprocess_host(out.image(), inputs->crops.boxes[i]));
  }
  out.inputs_ = std::move(inputs);
  return out;
}

std::vector<MaskRecord> MaskGenerator::generate(const ImageU8& image, FilterFunnel* funnel, StageTimes* times) const {
  return generate(borrowed(image), funnel, times);
}

// ref: automatic_mask_generator.py:224-249 _generate_masks: a run is the selection of its
// own setting from its own candidates.
// LibTorch's failures leave as typed errors (host memory: the image's; device: retry).
std::vector<MaskRecord> MaskGenerator::generate(const PreparedImage& prepared, FilterFunnel* funnel,
                                                StageTimes* times) const
try {
  const Impl& g = *impl_;
  const ImageU8& image = prepared.image();
  check_image(image);
  check_image_memory(image_memory_estimate(image.width, image.height, g.decoder_batch(),
                                           g.config.multimask_output && !g.config.use_m2m ? 3 : 1,
                                           g.post->full_resolution()),
                     physical_memory_bytes());
  c10::InferenceMode guard;
  ImageRun run(g.model, times != nullptr, g.batch_limit, g.on_warning);
  const PassOptions pass({setting_of(g.config)});
  const CropBoxes crops = prepared.inputs_ ? prepared.inputs_->crops : g.crop_boxes_for(image);
  // Each crop's candidates (_process_crop), then the setting's filters and both NMS passes.
  std::vector<CropCandidates> cands = g.candidates(run, image, prepared.inputs_.get(), crops, pass);
  MaskData data = g.select(run, std::move(cands), pass, pass.settings[0], image.height, image.width);
  std::vector<MaskRecord> records = run.read_records_and_counts(data);
  // The extension filters, after every step of the reference.
  if (has_mask_filters(g.config)) apply_mask_filters(records, g.config, image.width, image.height, &run.funnel);
  if (funnel) *funnel = run.funnel;
  if (times) run.add_times(*times);
  return records;
} catch (...) {
  rethrow_as_typed_error();
}

std::vector<std::vector<MaskRecord>> MaskGenerator::sweep(const ImageU8& image,
                                                          const std::vector<SweepSetting>& settings) const
try {
  check_image(image);
  const AmgConfig& config = impl_->config;
  if (config.min_mask_region_area > 0 && config.min_mask_region_mode == SmallRegionMode::kSam1FullRes)
    throw UsageError("threshold sweeps do not support min_mask_region_mode sam1");
  for (const SweepSetting& s : settings) with_setting(config, s).validate();  // each setting must be a valid run
  std::vector<std::vector<MaskRecord>> results;
  if (settings.empty()) return results;

  c10::InferenceMode guard;
  const PassOptions pass(settings);
  const CropBoxes crops = impl_->crop_boxes_for(image);
  ImageRun run(impl_->model, /*timed=*/false, impl_->batch_limit, impl_->on_warning);
  const std::vector<CropCandidates> cands = impl_->candidates(run, image, nullptr, crops, pass);
  run.check_outputs_finite();
  for (const SweepSetting& s : settings) {
    MaskData data = impl_->select(run, cands, pass, s, image.height, image.width);
    results.push_back(ImageRun::read_records(data));
    // As in generate(): each setting's records are those of a full run.
    if (has_mask_filters(config)) apply_mask_filters(results.back(), config, image.width, image.height);
  }
  return results;
} catch (...) {
  rethrow_as_typed_error();
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

// The settings-dependent part of _generate_masks and _process_crop, in the reference's order:
// IoU and stability filters, per-crop NMS, cross-crop NMS; then the survivors' RLE.
MaskData MaskGenerator::Impl::select(ImageRun& run, std::vector<CropCandidates> crops, const PassOptions& pass,
                                     const SweepSetting& setting, std::int64_t orig_h, std::int64_t orig_w) const {
  const std::int64_t k = pass.offset_index(setting.stability_score_offset);
  std::vector<MaskData> kept;
  CropBoxes kept_crops;
  for (CropCandidates& crop : crops) {
    MaskData& d = crop.data;
    if (d.size() == 0) continue;
    d.stability_score = d.stability_scores.select(1, k).contiguous();
    d.stability_scores = at::Tensor();
    if (pass.settings.size() > 1)  // one setting: the candidate pass already applied exactly these
      d.keep = d.keep.logical_and(passes_iou(d, setting)).logical_and(passes_stability(d.stability_score, setting));
    {
      StageTimer t(run, &StageSeconds::nms);
      finish_crop(d, crop.crop_box, setting.box_nms_thresh);
    }
    run.funnel.after_box_nms += d.size();
    kept.push_back(std::move(d));
    kept_crops.boxes.push_back(crop.crop_box);
  }
  MaskData data = MaskData::concat(kept);
  {
    StageTimer t(run, &StageSeconds::nms);
    remove_crop_duplicates(data, crops.size());
  }
  run.funnel.after_crop_nms = data.size();
  {
    StageTimer t(run, &StageSeconds::rle);
    post->encode(data, orig_h, orig_w, kept_crops);
  }
  // SAM 1's full-resolution removal, an explicit option (SAM 2 never runs it).
  if (config.min_mask_region_area > 0 && config.min_mask_region_mode == SmallRegionMode::kSam1FullRes)
    postprocess_small_regions(data, config.min_mask_region_area,
                              std::max(setting.box_nms_thresh, config.crop_nms_thresh));
  run.funnel.final_masks = data.size();
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

// ref: automatic_mask_generator.py:280-292 (the end of _process_crop).
void MaskGenerator::Impl::finish_crop(MaskData& data, const CropBoxXyxy& crop_box, double box_nms_thresh) const {
  if (data.size() == 0) return;
  // Remove duplicates within this crop, among the rows that passed every filter (the others
  // take no part, and go with the compaction).
  const at::Tensor keep = batched_nms(data.boxes.to(at::kFloat), data.iou_preds,
                                      at::zeros({data.size()}, data.boxes.options()), box_nms_thresh, data.keep);
  data.keep = at::Tensor();
  data.filter(keep);
  // Return to the original image frame.
  data.boxes = uncrop_boxes_xyxy(data.boxes, crop_box);
  data.points = uncrop_points(data.points, crop_box);
  data.crop_boxes = upload(at::tensor({crop_box[0], crop_box[1], crop_box[2], crop_box[3]}, at::kLong),
                           data.boxes.device())
                        .unsqueeze(0)
                        .expand({data.size(), 4})
                        .contiguous();
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
  at::Tensor host_boxes = read_to_host(data.boxes).clone();
  for (int64_t k = 0; k < keep_host.numel(); ++k) {
    const int64_t i = keep_host.data_ptr<int64_t>()[k];
    if (scores[i] != 0.f) continue;
    data.rles[i] = mask_to_rle_pytorch(masks[i].unsqueeze(0))[0];
    host_boxes[i] = boxes[i];
  }
  data.boxes = upload(host_boxes, data.boxes.device());
  data.filter(keep);
}

}  // namespace sam2amg
