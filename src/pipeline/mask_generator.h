#pragma once
/// MaskGenerator: SAM2AutomaticMaskGenerator in C++ (ref: sam2/automatic_mask_generator.py @
/// 2b90b9f). Torch-free header: the model and tensors stay behind the pimpl.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "amg/amg_config.h"
#include "amg/mask_record.h"
#include "common/image.h"
#include "model/model_options.h"

namespace sam2amg {

/// One point of a threshold sweep: the four parameters a sweep may vary.
struct SweepSetting {
  double pred_iou_thresh = 0.8;
  double stability_score_thresh = 0.95;
  double stability_score_offset = 1.0;
  double box_nms_thresh = 0.7;
};

/// Seconds one image spent in each stage (sam2-amg bench). On CUDA every stage ends with a
/// device synchronisation when timed, so timing slows a run slightly.
struct StageTimes {
  double preprocess = 0;   ///< crop, resize and normalise (CPU), copy to the device
  double encoder = 0;      ///< graph A, per crop
  double decoder = 0;      ///< graph B (and the m2m pass), per batch
  double postprocess = 0;  ///< hole fill, upsampling or its statistics, filters
  double nms = 0;          ///< per-crop and cross-crop NMS
  double rle = 0;          ///< the output masks' RLE

  StageTimes& operator+=(const StageTimes& o) {
    preprocess += o.preprocess;
    encoder += o.encoder;
    decoder += o.decoder;
    postprocess += o.postprocess;
    nms += o.nms;
    rle += o.rle;
    return *this;
  }
};

class MaskGenerator {
 public:
  /// Loads the model and validates the config. Throws ModelError or UsageError.
  MaskGenerator(const std::string& model_path, const AmgConfig& config, const ModelOptions& options = {});
  MaskGenerator(MaskGenerator&&) noexcept;
  ~MaskGenerator();

  /// Every mask of `image`, in the reference's order: per-crop NMS keep order (descending
  /// predicted IoU, ties by prompt order), crops concatenated, then cross-crop NMS order.
  /// Differences from the reference, on purpose (README "Deviations"):
  ///  - no mask surviving with several crops gives an empty list (the reference raises);
  ///  - min_mask_region_area works on every device (the reference skips it without CUDA);
  ///  - NMS ties are broken by input order (the reference's order is implementation-defined).
  /// The config's extension filters (src/amg/mask_filters.h) then apply to these records; with
  /// sort_by, the order is theirs.
  /// With `funnel`, also reports how many candidates each stage kept.
  /// With `times`, also reports the seconds spent per stage.
  std::vector<MaskRecord> generate(const ImageU8& image, FilterFunnel* funnel = nullptr,
                                   StageTimes* times = nullptr) const;

  /// Runs the model once and returns, for every setting, exactly the records generate() gives
  /// with the config's other parameters and that setting's four values. Candidates are filtered
  /// with the loosest thresholds of the sweep, their stability is kept for every swept offset,
  /// and each setting then replays the filters and both NMS passes (and the extension filters,
  /// which no sweep varies). Throws UsageError for an
  /// invalid setting, or with SAM 1 small-region removal (not supported in sweeps).
  std::vector<std::vector<MaskRecord>> sweep(const ImageU8& image, const std::vector<SweepSetting>& settings) const;

  /// Chooses the post-processing design (kFused by default).
  void set_postprocess(Postprocess mode);
  /// Receives warnings the run goes on after (e.g. the decoder batch halved when the device ran
  /// out of memory). The library itself never logs.
  void set_warning_handler(std::function<void(const std::string&)> handler);

  const AmgConfig& config() const;
  /// The model, its precision and its device, for logs.
  std::string describe() const;
  /// LibTorch's version, CPU threads and the BLAS in use, for logs and the bench.
  std::string runtime() const;
  /// Peak device memory (CUDA's allocator) since the last reset; -1 on the CPU.
  std::int64_t peak_device_bytes() const;
  void reset_peak_device_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sam2amg
