#include "pipeline/image_run.h"

#include <algorithm>

#include "amg/host_reads.h"
#include "amg/mask_ops.h"
#include "common/error.h"
#include "model/sam2_model.h"
#include "model/torch_errors.h"

namespace sam2amg {

namespace {

// The positions of DeviceCounts in the run's device tensor.
enum : std::int64_t { kAfterPredIou, kAfterStability, kAfterCropEdge, kDeviceCounts };

// Rows [b0, b1) of `data` (no host read: the indices are made on the device).
MaskData rows_of(const MaskData& data, std::int64_t b0, std::int64_t b1) {
  MaskData part = data;
  part.filter(at::arange(b0, b1, data.iou_preds.options().dtype(at::kLong)));
  return part;
}

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

}  // namespace

ImageRun::ImageRun(const Sam2Model& model, bool timed, std::int64_t& batch_limit, const Warn& warn)
    : model_(model), batch_limit_(batch_limit), warn_(warn) {
  reset_host_reads();
  model_.take_nonfinite_outputs();  // an earlier, failed image's
  const at::Device device = model_.device();
  if (timed) {
    syncs_.emplace(device);
    clock_.emplace(device, static_cast<int>(kStages.size()));
  }
  device_counts_ = at::zeros({kDeviceCounts}, at::TensorOptions().dtype(at::kLong).device(device));
}

void ImageRun::add(const DeviceCounts& counts) {
  device_counts_.select(0, kAfterPredIou).add_(counts.after_pred_iou);
  device_counts_.select(0, kAfterStability).add_(counts.after_stability);
  device_counts_.select(0, kAfterCropEdge).add_(counts.after_crop_edge);
}

void ImageRun::warn(const std::string& message) const {
  if (warn_) warn_(message);
}

void ImageRun::halve_decoder_batch(const std::exception& e, std::int64_t step) {
  if (!is_out_of_memory(e.what())) throw;
  if (step == 1)
    throw DeviceError("out of device memory even with one prompt per decoder call (" + error_line(e.what()) +
                      "); free the device or use a smaller model, then rerun with --resume");
  batch_limit_ = std::max<std::int64_t>(1, step / 2);
  warn("out of device memory at " + std::to_string(step) + " prompts per decoder call; continuing with " +
       std::to_string(batch_limit_));
}

MaskData ImageRun::postprocess_in_halves(const MaskData& rows,
                                         const std::function<MaskData(const MaskData&)>& postprocess) {
  try {
    return postprocess(rows);
  } catch (const std::exception& e) {
    if (!is_out_of_memory(e.what())) throw;
    const std::int64_t n = rows.size();
    if (n < 2)
      throw DeviceError("out of device memory in post-processing (" + error_line(e.what()) +
                        "); free the device or use a smaller model, then rerun with --resume");
    warn("out of device memory post-processing " + std::to_string(n) + " candidates; continuing in halves");
    std::vector<MaskData> halves;
    halves.push_back(postprocess_in_halves(rows_of(rows, 0, n / 2), postprocess));
    halves.push_back(postprocess_in_halves(rows_of(rows, n / 2, n), postprocess));
    return MaskData::concat(halves);
  }
}

std::vector<MaskRecord> ImageRun::read_records_and_counts(MaskData& data) {
  // The model's non-finite-output flags travel in the records' one read, after the counts.
  const NonfiniteOutputs noted = model_.take_nonfinite_outputs();
  std::vector<std::int64_t> c;
  std::vector<MaskRecord> records = records_from(
      data, noted.flags.defined() ? at::cat({device_counts_, noted.flags.to(at::kLong)}) : device_counts_, &c);
  funnel.after_pred_iou = c.at(kAfterPredIou);
  funnel.after_stability = c.at(kAfterStability);
  funnel.after_crop_edge = c.at(kAfterCropEdge);
  if (noted.flags.defined())
    throw_if_nonfinite(noted, at::tensor(std::vector<std::int64_t>(c.begin() + kDeviceCounts, c.end())));
  return records;
}

std::vector<MaskRecord> ImageRun::read_records(MaskData& data) { return records_from(data); }

void ImageRun::check_outputs_finite() const {
  const NonfiniteOutputs noted = model_.take_nonfinite_outputs();
  if (noted.flags.defined()) throw_if_nonfinite(noted, read_to_host(noted.flags));
}

void ImageRun::add_times(StageTimes& times) {
  StageTimes image;
  image.host_reads = host_reads();
  image.device_syncs = syncs_->count();
  syncs_.reset();  // before the clock's one wait, which is not the loop's
  const std::vector<double> seconds = clock_->seconds();
  for (size_t k = 0; k < kStages.size(); ++k) image.*kStages[k].seconds = seconds[k];
  image.device_events = clock_->uses_device_events();
  times += image;
}

StageTimer::StageTimer(ImageRun& run, double StageSeconds::*stage)
    : clock_(run.clock_ ? &*run.clock_ : nullptr), stage_(stage_index(stage)) {
  if (clock_) clock_->start(stage_);
}

StageTimer::~StageTimer() {
  if (clock_) clock_->stop(stage_);
}

}  // namespace sam2amg
