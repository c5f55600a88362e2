#include "pipeline/mask_generator.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "amg/crop_boxes.h"
#include "amg/host_reads.h"
#include "amg/mask_data.h"
#include "amg/mask_filters.h"
#include "amg/mask_ops.h"
#include "amg/nms.h"
#include "amg/point_grid.h"
#include "amg/rle_tensor.h"
#include "amg/small_regions.h"
#include "amg/upsampled_masks.h"
#include "pipeline/memory_check.h"
#include "common/error.h"
#include "model/device_timing.h"
#include "model/mask_selection.h"
#include "model/sam2_model.h"
#include "model/torch_errors.h"
#include "model/transforms.h"

namespace sam2amg {

// What prepare() made: the crop boxes, and the host's share of the model inputs.
struct PreparedImage::Inputs {
  CropBoxes crops;
  std::vector<at::Tensor> host_inputs;  // exact mode: (1, 3, S, S) float32 of the first crops
  at::Tensor pinned_image;              // fast mode: the (H, W, 3) uint8 image, page-locked
};

namespace {

// NaN/inf in any of the image's model outputs: ImageError (exit 4 for the image), found with one
// counted read of the flags the model noted on the device.
void check_model_outputs_finite(const Sam2Model& model) {
  const NonfiniteOutputs noted = model.take_nonfinite_outputs();
  if (noted.flags.defined()) throw_if_nonfinite(noted, read_to_host(noted.flags));
}

// The candidates of one crop, before the settings-dependent selection: every row passed the
// IoU filter of at least one setting; `data.keep` marks those that also passed its stability
// filter and the crop-edge filter (which no setting changes). `data.stability_scores` has one
// column per offset in `offsets`.
struct CropCandidates {
  MaskData data;
  CropBoxXyxy crop_box{};
};

// Adds the time from its construction to its destruction to a stage of `clock` (CUDA events or
// the wall clock: never a wait); does nothing without a clock.
class StageTimer {
 public:
  StageTimer(StageClock* clock, double StageSeconds::*stage) : clock_(clock), stage_(stage_index(stage)) {
    if (clock_) clock_->start(stage_);
  }
  ~StageTimer() {
    if (clock_) clock_->stop(stage_);
  }
  StageTimer(const StageTimer&) = delete;
  StageTimer& operator=(const StageTimer&) = delete;

 private:
  StageClock* clock_;
  int stage_;
};

// The funnel's counts that depend on the candidates' values, kept on the device and read once
// with the records (a count per batch would be a wait per batch on CUDA).
struct DeviceCounts {
  enum : std::int64_t { kAfterPredIou, kAfterStability, kAfterCropEdge, kCount };
  at::Tensor counts;  // (kCount,) int64 on the model's device
  explicit DeviceCounts(const at::Device& device)
      : counts(at::zeros({kCount}, at::TensorOptions().dtype(at::kLong).device(device))) {}
  void add(std::int64_t k, const at::Tensor& n) { counts.select(0, k).add_(n); }
};

constexpr std::int64_t kMaxDecoderBatchCpu = 64;
constexpr std::int64_t kMaxDecoderBatchCuda = 256;
constexpr std::int64_t kCompactionWindowCpu = std::int64_t{128} << 20;
constexpr std::int64_t kCompactionWindowCuda = std::int64_t{1} << 30;
// prepare() does the CPU preprocessing of this many crops (the whole image and the first layer);
// further crops are preprocessed when they are reached, so an image's inputs stay bounded.
constexpr size_t kPreparedCrops = 5;

// What one pass over the model keeps: the rows some setting may select.
struct PassOptions {
  std::vector<SweepSetting> settings;
  std::vector<double> offsets;  // distinct stability offsets, in first-use order

  explicit PassOptions(std::vector<SweepSetting> s) : settings(std::move(s)) {
    for (const SweepSetting& x : settings)
      if (std::find(offsets.begin(), offsets.end(), x.stability_score_offset) == offsets.end())
        offsets.push_back(x.stability_score_offset);
  }
  std::int64_t offset_index(double offset) const {
    return std::find(offsets.begin(), offsets.end(), offset) - offsets.begin();
  }
};

// The per-row filters of one setting, in the reference's order. ref:
// automatic_mask_generator.py:330-342: IoU strict and stability >=, each with its threshold
// rounded to float32 like the reference's tensor comparison, and each off when <= 0.
at::Tensor passes_iou(const MaskData& d, const SweepSetting& s) {
  if (s.pred_iou_thresh <= 0.0) return at::ones({d.size()}, d.iou_preds.options().dtype(at::kBool));
  return d.iou_preds > static_cast<float>(s.pred_iou_thresh);
}
at::Tensor passes_stability(const at::Tensor& stability, const SweepSetting& s) {
  if (s.stability_score_thresh <= 0.0) return at::ones({stability.size(0)}, stability.options().dtype(at::kBool));
  return stability >= static_cast<float>(s.stability_score_thresh);
}

// The rows that some setting's IoU and stability filters pass; with one setting, exactly its
// filters.
at::Tensor selectable_rows(const MaskData& data, const PassOptions& pass) {
  at::Tensor any = at::zeros({data.size()}, data.iou_preds.options().dtype(at::kBool));
  for (const SweepSetting& s : pass.settings) {
    const at::Tensor stability = data.stability_scores.select(1, pass.offset_index(s.stability_score_offset));
    any = any.logical_or(passes_iou(data, s).logical_and(passes_stability(stability, s)));
  }
  return any;
}

std::int64_t low_res_bytes(const std::vector<MaskData>& parts) {
  std::int64_t bytes = 0;
  for (const MaskData& p : parts)
    if (p.low_res_masks.defined()) bytes += p.low_res_masks.numel() * p.low_res_masks.element_size();
  return bytes;
}

// Rows [b0, b1) of `data` (no host read: the indices are made on the device).
MaskData rows_of(const MaskData& data, std::int64_t b0, std::int64_t b1) {
  MaskData part = data;
  part.filter(at::arange(b0, b1, data.iou_preds.options().dtype(at::kLong)));
  return part;
}

// The rows `keep` marks, gathered (one host read); the marks stay, all true.
void compact(MaskData& data) {
  data.filter(data.keep);
  data.keep = at::ones({data.size()}, data.iou_preds.options().dtype(at::kBool));
}

}  // namespace

struct MaskGenerator::Impl {
  Sam2Model model;
  AmgConfig config;
  std::vector<at::Tensor> point_grids;  // one (N, 2) float64 CPU grid per crop layer
  Postprocess postprocess = Postprocess::kFused;
  mutable StageClock* clock = nullptr;  // set for the duration of a timed generate()
  // Lowered after the device ran out of memory; kept for the rest of the run.
  mutable std::int64_t batch_limit = std::numeric_limits<std::int64_t>::max();
  std::int64_t window_bytes = -1;  // -1: the device's default
  std::function<void(const std::string&)> on_warning;

  // A window's survivors and the funnel counts they add.
  struct Filtered {
    MaskData data;
    at::Tensor n_iou, n_stability, n_edge;
  };

  CropBoxes crop_boxes_for(const ImageU8& image) const;
  std::vector<CropCandidates> candidates(const ImageU8& image, const PreparedImage::Inputs* prepared,
                                         const CropBoxes& crops, const PassOptions& pass, FilterFunnel& funnel,
                                         DeviceCounts& counts) const;
  MaskData select(std::vector<CropCandidates> crops, const PassOptions& pass, const SweepSetting& setting,
                  std::int64_t orig_h, std::int64_t orig_w, FilterFunnel& funnel) const;
  at::Tensor model_input(const ImageU8& image, const PreparedImage::Inputs* prepared, size_t crop_index,
                         const CropBoxXyxy& crop_box) const;
  MaskData process_crop(const ImageU8& image, const PreparedImage::Inputs* prepared, size_t crop_index,
                        const CropBoxXyxy& crop_box, int layer_idx, const PassOptions& pass, FilterFunnel& funnel,
                        DeviceCounts& counts) const;
  MaskData decode_batch(const at::Tensor& points, const ImageEmbedding& embedding, std::int64_t crop_h,
                        std::int64_t crop_w) const;
  MaskData postprocess_rows(const MaskData& raw, const CropBoxXyxy& crop_box, std::int64_t orig_h,
                            std::int64_t orig_w, const PassOptions& pass, DeviceCounts& counts) const;
  Filtered filter_candidates(MaskData data, const CropBoxXyxy& crop_box, std::int64_t orig_h, std::int64_t orig_w,
                             const PassOptions& pass) const;
  std::pair<at::Tensor, at::Tensor> refine_with_m2m(const at::Tensor& points, const at::Tensor& low_res_masks,
                                                    const ImageEmbedding& embedding, std::int64_t crop_h,
                                                    std::int64_t crop_w) const;
  void fused_stats(MaskData& data, std::int64_t crop_h, std::int64_t crop_w, const PassOptions& pass) const;
  void encode_rles(MaskData& data, std::int64_t orig_h, std::int64_t orig_w, const CropBoxes& crops) const;
  void finish_crop(MaskData& data, const CropBoxXyxy& crop_box, double box_nms_thresh) const;
  void remove_crop_duplicates(MaskData& data, size_t n_crops) const;
  double low_res_fill_area() const;
  std::int64_t decoder_batch() const;
  std::int64_t compaction_window() const;
  UpsampleLayout upsample_layout() const;
  void postprocess_small_regions(MaskData& data, double min_area, double nms_thresh) const;
};

namespace {

// One host read for the whole image: the survivors' columns and, with `device_counts`, the
// funnel's device counts (as float64: exact for both). ref: automatic_mask_generator.py:195-222.
constexpr std::int64_t kRecordColumns = 12;  // bbox 4, crop box 4, iou, stability, point 2

std::vector<MaskRecord> records_from(MaskData& data, const at::Tensor& device_counts = {},
                                     std::vector<std::int64_t>* counts = nullptr) {
  std::vector<MaskRecord> records;
  const int64_t n = data.size();
  std::vector<at::Tensor> parts;
  if (n > 0) {
    // Each column as float32, as the reference's records are.
    const at::Tensor cols = at::cat({box_xyxy_to_xywh(data.boxes).to(at::kFloat),
                                     box_xyxy_to_xywh(data.crop_boxes).to(at::kFloat),
                                     data.iou_preds.to(at::kFloat).unsqueeze(1),
                                     data.stability_score.to(at::kFloat).unsqueeze(1), data.points.to(at::kFloat)},
                                    1);
    parts.push_back(cols.to(at::kDouble).flatten());
  }
  if (device_counts.defined()) parts.push_back(device_counts.to(at::kDouble));
  if (parts.empty()) return records;
  const at::Tensor host = read_to_host(parts.size() == 1 ? parts[0] : at::cat(parts)).contiguous();
  const double* p = host.data_ptr<double>();
  records.reserve(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* row = p + i * kRecordColumns;
    MaskRecord r;
    r.segmentation = std::move(data.rles[i]);
    r.area = area_from_rle(r.segmentation);
    for (int k = 0; k < 4; ++k) {
      r.bbox_xywh[k] = static_cast<float>(row[k]);
      r.crop_box_xywh[k] = static_cast<float>(row[4 + k]);
    }
    r.predicted_iou = static_cast<float>(row[8]);
    r.stability_score = static_cast<float>(row[9]);
    r.point_coords = {static_cast<float>(row[10]), static_cast<float>(row[11])};
    records.push_back(std::move(r));
  }
  if (counts && device_counts.defined()) {
    counts->clear();
    for (int64_t k = 0; k < device_counts.numel(); ++k)
      counts->push_back(static_cast<std::int64_t>(p[n * kRecordColumns + k]));
  }
  return records;
}

void check_image(const ImageU8& image) {
  if (image.empty() || image.rgb.size() != size_t(image.width) * image.height * 3)
    throw ImageError("the image buffer does not hold width*height*3 bytes");
}

// A PreparedImage of a borrowed image, nothing prepared.
PreparedImage borrowed(const ImageU8& image) {
  return PreparedImage(std::shared_ptr<const ImageU8>(&image, [](const ImageU8*) {}));
}

}  // namespace

MaskGenerator::MaskGenerator(const std::string& model_path, const AmgConfig& config, const ModelOptions& options) {
  config.validate();
  ModelOptions load_options = options;
  load_options.probe_mask_input = load_options.probe_mask_input || config.use_m2m;  // every method the run calls
  impl_ = std::unique_ptr<Impl>(new Impl{Sam2Model::load(model_path, load_options), config, point_grids_for(config)});
}
MaskGenerator::MaskGenerator(MaskGenerator&&) noexcept = default;
MaskGenerator::~MaskGenerator() = default;

const AmgConfig& MaskGenerator::config() const { return impl_->config; }
std::string MaskGenerator::describe() const { return impl_->model.describe(); }
std::string MaskGenerator::runtime() const { return runtime_description(); }
std::int64_t MaskGenerator::peak_device_bytes() const { return impl_->model.peak_device_bytes(); }
void MaskGenerator::reset_peak_device_bytes() const { impl_->model.reset_peak_device_bytes(); }
void MaskGenerator::set_postprocess(Postprocess mode) { impl_->postprocess = mode; }
void MaskGenerator::set_compaction_window(std::int64_t bytes) { impl_->window_bytes = std::max<std::int64_t>(0, bytes); }
void MaskGenerator::set_warning_handler(std::function<void(const std::string&)> handler) {
  impl_->on_warning = std::move(handler);
}

std::vector<std::pair<std::string, std::string>> MaskGenerator::execution_paths() const {
  const bool cpu = impl_->model.device().is_cpu();
  std::string kernel;
  if (impl_->postprocess == Postprocess::kReference)
    kernel = "none (reference design)";
  else if (cpu)
    kernel = fused_cpu_kernel_matches(impl_->upsample_layout()) ? "cpu fused kernel" : "aten fallback";
  else
    kernel = cuda_stats_path();  // "kernel", "fallback (why)", ... (amg/upsampled_masks.h)
  const DecoderPath decoder = impl_->model.decoder_path();
  return {{"preprocess", impl_->model.preprocesses_on_device() ? "device (fast mode)" : "cpu, in the decode workers"},
          {"postprocess", enum_name(impl_->postprocess)},
          {"postprocess_kernel", kernel},
          {"decoder", decoder.str()},
          {"decoder_graph", decoder.cuda_graph ? "cuda graph (" + std::to_string(decoder.graph_replays) + " replays)"
                                               : "eager"}};
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
  const ImageU8& image = prepared.image();
  check_image(image);
  check_image_memory(image_memory_estimate(image.width, image.height, impl_->decoder_batch(),
                                           impl_->config.multimask_output && !impl_->config.use_m2m ? 3 : 1,
                                           impl_->postprocess == Postprocess::kReference),
                     physical_memory_bytes());
  c10::InferenceMode guard;
  reset_host_reads();
  impl_->model.take_nonfinite_outputs();  // an earlier, failed image's
  const at::Device device = impl_->model.device();
  std::optional<DeviceSyncCounter> syncs;
  std::optional<StageClock> clock;
  if (times) {
    syncs.emplace(device);
    clock.emplace(device, static_cast<int>(kStages.size()));
  }
  impl_->clock = clock ? &*clock : nullptr;
  struct Reset {
    const Impl& impl;
    ~Reset() { impl.clock = nullptr; }
  } reset{*impl_};
  const PassOptions pass({setting_of(impl_->config)});
  const CropBoxes crops = prepared.inputs_ ? prepared.inputs_->crops : impl_->crop_boxes_for(image);
  FilterFunnel f;
  DeviceCounts counts(device);
  std::vector<CropCandidates> cands = impl_->candidates(image, prepared.inputs_.get(), crops, pass, f, counts);
  MaskData data = impl_->select(std::move(cands), pass, pass.settings[0], image.height, image.width, f);
  // The model's non-finite-output flags travel in the records' one read, after the counts.
  const NonfiniteOutputs noted = impl_->model.take_nonfinite_outputs();
  std::vector<std::int64_t> c;
  std::vector<MaskRecord> records = records_from(
      data, noted.flags.defined() ? at::cat({counts.counts, noted.flags.to(at::kLong)}) : counts.counts, &c);
  f.after_pred_iou = c.at(DeviceCounts::kAfterPredIou);
  f.after_stability = c.at(DeviceCounts::kAfterStability);
  f.after_crop_edge = c.at(DeviceCounts::kAfterCropEdge);
  // NaN/inf in any of the image's model outputs: the image fails (exit 4), its records unused.
  if (noted.flags.defined())
    throw_if_nonfinite(noted, at::tensor(std::vector<std::int64_t>(c.begin() + DeviceCounts::kCount, c.end())));
  // The extension filters, after every step of the reference.
  if (has_mask_filters(impl_->config)) apply_mask_filters(records, impl_->config, image.width, image.height, &f);
  if (funnel) *funnel = f;
  if (times) {
    times->host_reads += host_reads();
    const std::int64_t n_syncs = syncs->count();
    syncs.reset();  // before the clock's one wait, which is not the loop's
    if (n_syncs >= 0) times->device_syncs = std::max<std::int64_t>(times->device_syncs, 0) + n_syncs;
    const std::vector<double> seconds = clock->seconds();
    for (size_t k = 0; k < kStages.size(); ++k) times->*kStages[k].seconds += seconds[k];
    times->device_events = times->device_events || clock->uses_device_events();
  }
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
  FilterFunnel unused;
  DeviceCounts counts(impl_->model.device());
  impl_->model.take_nonfinite_outputs();
  const std::vector<CropCandidates> cands = impl_->candidates(image, nullptr, crops, pass, unused, counts);
  check_model_outputs_finite(impl_->model);
  for (const SweepSetting& s : settings) {
    MaskData data = impl_->select(cands, pass, s, image.height, image.width, unused);
    results.push_back(records_from(data));
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

std::vector<CropCandidates> MaskGenerator::Impl::candidates(const ImageU8& image, const PreparedImage::Inputs* prepared,
                                                            const CropBoxes& crops, const PassOptions& pass,
                                                            FilterFunnel& funnel, DeviceCounts& counts) const {
  std::vector<CropCandidates> out;
  for (size_t i = 0; i < crops.boxes.size(); ++i)
    out.push_back({process_crop(image, prepared, i, crops.boxes[i], crops.layer_idxs[i], pass, funnel, counts),
                   crops.boxes[i]});
  return out;
}

// The settings-dependent part of _generate_masks and _process_crop, in the reference's order:
// IoU and stability filters, per-crop NMS, cross-crop NMS; then the survivors' RLE.
MaskData MaskGenerator::Impl::select(std::vector<CropCandidates> crops, const PassOptions& pass,
                                     const SweepSetting& setting, std::int64_t orig_h, std::int64_t orig_w,
                                     FilterFunnel& funnel) const {
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
      StageTimer t(clock, &StageSeconds::nms);
      finish_crop(d, crop.crop_box, setting.box_nms_thresh);
    }
    funnel.after_box_nms += d.size();
    kept.push_back(std::move(d));
    kept_crops.boxes.push_back(crop.crop_box);
  }
  MaskData data = MaskData::concat(kept);
  {
    StageTimer t(clock, &StageSeconds::nms);
    remove_crop_duplicates(data, crops.size());
  }
  funnel.after_crop_nms = data.size();
  {
    StageTimer t(clock, &StageSeconds::rle);
    encode_rles(data, orig_h, orig_w, kept_crops);
  }
  // SAM 1's full-resolution removal, an explicit option (SAM 2 never runs it).
  if (config.min_mask_region_area > 0 && config.min_mask_region_mode == SmallRegionMode::kSam1FullRes)
    postprocess_small_regions(data, config.min_mask_region_area,
                              std::max(setting.box_nms_thresh, config.crop_nms_thresh));
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
MaskData MaskGenerator::Impl::process_crop(const ImageU8& image, const PreparedImage::Inputs* prepared,
                                           size_t crop_index, const CropBoxXyxy& crop_box, int layer_idx,
                                           const PassOptions& pass, FilterFunnel& funnel, DeviceCounts& counts) const {
  const auto [x0, y0, x1, y1] = crop_box;
  const int64_t crop_h = y1 - y0, crop_w = x1 - x0;
  const int64_t orig_h = image.height, orig_w = image.width;
  at::Tensor input;
  {
    StageTimer t(clock, &StageSeconds::preprocess);
    input = model_input(image, prepared, crop_index, crop_box);
  }
  ImageEmbedding embedding;
  {
    StageTimer t(clock, &StageSeconds::encoder);
    embedding = model.encode(input);
  }

  // Points for this crop: the normalised grid times the crop size, in float64 as numpy does;
  // uploaded once per crop without blocking.
  const at::Tensor scale = at::tensor({double(crop_w), double(crop_h)}, at::kDouble).unsqueeze(0);
  const at::Tensor points_for_image = upload((point_grids[layer_idx] * scale).to(at::kFloat), model.device());

  // Generate masks for this crop in batches. Out of device memory, a batch is retried in
  // halves (and later batches keep the smaller size); only a single prompt failing is an error.
  const std::int64_t window = compaction_window();
  std::vector<MaskData> pending, survivors;
  auto flush = [&] {
    if (pending.empty()) return;
    MaskData raw = MaskData::concat(pending);
    survivors.push_back(postprocess_rows(raw, crop_box, orig_h, orig_w, pass, counts));
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
      pending.push_back(decode_batch(points, embedding, crop_h, crop_w));
    } catch (const std::exception& e) {
      if (!is_out_of_memory(e.what())) throw;
      if (step == 1)
        throw DeviceError("out of device memory even with one prompt per decoder call (" + error_line(e.what()) +
                          "); free the device or use a smaller model, then rerun with --resume");
      batch_limit = std::max<int64_t>(1, step / 2);
      if (on_warning)
        on_warning("out of device memory at " + std::to_string(step) + " prompts per decoder call; continuing with " +
                   std::to_string(batch_limit));
      continue;
    }
    funnel.candidates += pending.back().size();
    b0 += points.size(0);
    if (low_res_bytes(pending) >= window) flush();
  }
  flush();
  return MaskData::concat(survivors);
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

// The reference upsamples (B, 3) blocks in the multimask path and (B, 1) blocks otherwise,
// which LibTorch's CPU backend computes with different kernels.
UpsampleLayout MaskGenerator::Impl::upsample_layout() const {
  return config.multimask_output && !config.use_m2m ? UpsampleLayout::kGeneric : UpsampleLayout::kChannelsLast;
}

// ref: automatic_mask_generator.py:294-318 _process_batch, the model's part: the candidates'
// scores, points and low-res logits (holes filled), nothing filtered yet.
MaskData MaskGenerator::Impl::decode_batch(const at::Tensor& points, const ImageEmbedding& embedding,
                                           std::int64_t crop_h, std::int64_t crop_w) const {
  const int64_t res = model.metadata().image_size;
  const double fill = low_res_fill_area();
  MaskData data;
  at::Tensor logits;
  {
    StageTimer t(clock, &StageSeconds::decoder);
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
  StageTimer t(clock, &StageSeconds::postprocess);
  // The hole fill works on the low-res logits, before any upsampling (spec: postprocess_masks).
  data.low_res_masks = fill_holes_and_sprinkles(logits.to(at::kFloat), fill, fill).flatten(0, 1);
  return data;
}

// The filters of a window of candidates. Out of device memory, the rows are post-processed in
// halves (each row's result depends on that row alone); only a single row failing is an error.
MaskData MaskGenerator::Impl::postprocess_rows(const MaskData& raw, const CropBoxXyxy& crop_box, std::int64_t orig_h,
                                               std::int64_t orig_w, const PassOptions& pass,
                                               DeviceCounts& counts) const {
  try {
    Filtered f = filter_candidates(raw, crop_box, orig_h, orig_w, pass);
    counts.add(DeviceCounts::kAfterPredIou, f.n_iou);
    counts.add(DeviceCounts::kAfterStability, f.n_stability);
    counts.add(DeviceCounts::kAfterCropEdge, f.n_edge);
    return std::move(f.data);
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e.what())) throw;
    const std::int64_t n = raw.size();
    if (n < 2)
      throw DeviceError("out of device memory in post-processing (" + error_line(e.what()) +
                        "); free the device or use a smaller model, then rerun with --resume");
    if (on_warning)
      on_warning("out of device memory post-processing " + std::to_string(n) + " candidates; continuing in halves");
    std::vector<MaskData> halves;
    halves.push_back(postprocess_rows(rows_of(raw, 0, n / 2), crop_box, orig_h, orig_w, pass, counts));
    halves.push_back(postprocess_rows(rows_of(raw, n / 2, n), crop_box, orig_h, orig_w, pass, counts));
    return MaskData::concat(halves);
  }
}

// ref: automatic_mask_generator.py:320-384 _process_batch, the filters. `data` is a copy (its
// tensors shared), so a failure leaves the caller's rows as they were.
MaskGenerator::Impl::Filtered MaskGenerator::Impl::filter_candidates(MaskData data, const CropBoxXyxy& crop_box,
                                                                    std::int64_t orig_h, std::int64_t orig_w,
                                                                    const PassOptions& pass) const {
  const int64_t crop_h = crop_box[3] - crop_box[1], crop_w = crop_box[2] - crop_box[0];
  const bool reference = postprocess == Postprocess::kReference;
  Filtered out;
  std::optional<StageTimer> post;
  post.emplace(clock, &StageSeconds::postprocess);
  // Filter by predicted IoU: the window's one host read. Rows no setting keeps are never
  // upsampled (the CUDA and CPU kernels compute each output pixel from its mask alone, so the
  // order does not matter).
  out.n_iou = passes_iou(data, pass.settings[0]).sum();  // the run's own setting when not sweeping
  at::Tensor any_iou = at::zeros({data.size()}, data.iou_preds.options().dtype(at::kBool));
  for (const SweepSetting& s : pass.settings) any_iou = any_iou.logical_or(passes_iou(data, s));
  data.filter(any_iou);

  // Calculate the stability score (at every offset a sweep asks for).
  if (reference) {
    data.masks = upsample_like_reference(data.low_res_masks, crop_h, crop_w, upsample_layout());
    data.low_res_masks = at::Tensor();
    std::vector<at::Tensor> by_offset;
    for (double offset : pass.offsets)
      by_offset.push_back(calculate_stability_score(data.masks, config.mask_threshold, offset));
    data.stability_scores = at::stack(by_offset, 1);
  } else {
    fused_stats(data, crop_h, crop_w, pass);
  }
  const at::Tensor selectable = selectable_rows(data, pass);
  out.n_stability = selectable.sum();
  const CropBoxXyxy image_box{0, 0, orig_w, orig_h};
  if (!reference) {
    // The stability and crop-edge filters (no setting changes the latter) only mark the rows:
    // they are gathered with the per-crop NMS's read.
    data.keep = selectable.logical_and(is_box_near_crop_edge(data.boxes, crop_box, image_box).logical_not());
    out.n_edge = data.keep.sum();
    out.data = std::move(data);
    return out;
  }
  // The reference design filters step by step, as the reference does.
  data.filter(selectable);
  // Threshold masks and calculate boxes.
  data.masks = data.masks > static_cast<float>(config.mask_threshold);
  data.boxes = batched_mask_to_box(data.masks);
  // Filter boxes that touch crop boundaries.
  const at::Tensor inside = is_box_near_crop_edge(data.boxes, crop_box, image_box).logical_not();
  out.n_edge = inside.sum();
  data.filter(inside);
  data.keep = at::ones({data.size()}, data.iou_preds.options().dtype(at::kBool));
  post.reset();
  {
    // Compress to RLE on the full image frame.
    StageTimer t(clock, &StageSeconds::rle);
    data.rles = mask_to_rle_pytorch(uncrop_masks(data.masks, crop_box, orig_h, orig_w));
    data.masks = at::Tensor();
  }
  out.data = std::move(data);
  return out;
}

// Counts and boxes of the upsampled masks, evaluated on the fly; the low-res logits ride along
// until the survivors are encoded.
void MaskGenerator::Impl::fused_stats(MaskData& data, std::int64_t crop_h, std::int64_t crop_w,
                                      const PassOptions& pass) const {
  // Python computes thresholds in double; the comparison with float32 logits rounds them.
  std::vector<float> thresholds;
  for (double offset : pass.offsets) {
    thresholds.push_back(static_cast<float>(config.mask_threshold + offset));
    thresholds.push_back(static_cast<float>(config.mask_threshold - offset));
  }
  const UpsampledMaskStats stats = upsampled_mask_stats(data.low_res_masks, crop_h, crop_w, thresholds,
                                                        static_cast<float>(config.mask_threshold), upsample_layout());
  if (const std::string w = take_cuda_stats_warning(); !w.empty() && on_warning) on_warning(w);
  // ref: amg.py calculate_stability_score: int / int true division in float32.
  const at::Tensor counts = stats.counts.to(at::kFloat);
  const std::int64_t k = counts.size(1);
  data.stability_scores = counts.slice(1, 0, k, 2) / counts.slice(1, 1, k, 2);
  data.boxes = stats.boxes;
}

// The survivors' masks, straight from their low-res logits into full-image RLE. `crops` are
// the crops the rows may come from.
void MaskGenerator::Impl::encode_rles(MaskData& data, std::int64_t orig_h, std::int64_t orig_w,
                                      const CropBoxes& crops) const {
  if (!data.low_res_masks.defined()) return;  // the reference path encoded every window
  const at::Tensor low = data.low_res_masks;
  data.low_res_masks = at::Tensor();
  data.rles.assign(data.size(), Rle{});
  if (data.size() == 0) return;
  const auto encode = [&](const CropBoxXyxy& box, const at::Tensor& rows) {
    const CropPlacement place{box[0], box[1], box[3] - box[1], box[2] - box[0], orig_h, orig_w};
    return upsampled_masks_to_rle(rows, place, static_cast<float>(config.mask_threshold), upsample_layout());
  };
  if (crops.boxes.size() == 1) {  // one crop: every row is its own, no read needed to group them
    data.rles = encode(crops.boxes[0], low);
    return;
  }
  // Masks of one crop are encoded together.
  const at::Tensor crop_of_row = read_to_host(data.crop_boxes).contiguous();
  std::map<std::array<std::int64_t, 4>, std::vector<std::int64_t>> rows_of;
  const std::int64_t* cb = crop_of_row.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < data.size(); ++i) rows_of[{cb[4 * i], cb[4 * i + 1], cb[4 * i + 2], cb[4 * i + 3]}].push_back(i);
  for (const auto& [box, rows] : rows_of) {
    const at::Tensor idx = upload(at::tensor(rows, at::kLong), low.device());
    std::vector<Rle> rles = encode({box[0], box[1], box[2], box[3]}, low.index_select(0, idx));
    for (size_t k = 0; k < rows.size(); ++k) data.rles[rows[k]] = std::move(rles[k]);
  }
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
