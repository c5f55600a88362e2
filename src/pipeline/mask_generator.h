#pragma once
/// MaskGenerator: SAM2AutomaticMaskGenerator in C++ (ref: sam2/automatic_mask_generator.py @
/// 2b90b9f). Torch-free header: the model and tensors stay behind the pimpl.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "amg/amg_config.h"
#include "amg/mask_record.h"
#include "common/image.h"
#include "model/model_options.h"
#include "pipeline/stage_times.h"
#include "pipeline/sweep_setting.h"

namespace sam2amg {

/// An image with the host's share of its preprocessing done ahead (MaskGenerator::prepare), so
/// that decode threads do it while the model works on the image before. A plain handle: copies
/// share the same state.
class PreparedImage {
 public:
  PreparedImage() = default;
  /// The image alone, nothing prepared: generate() preprocesses it itself.
  explicit PreparedImage(std::shared_ptr<const ImageU8> image) : image_(std::move(image)) {}
  const ImageU8& image() const { return *image_; }
  const std::shared_ptr<const ImageU8>& shared_image() const { return image_; }
  /// True when prepare() made it.
  bool prepared() const { return inputs_ != nullptr; }

  struct Inputs;  ///< what prepare() made (opaque; defined by the generator)

 private:
  friend class MaskGenerator;
  std::shared_ptr<const ImageU8> image_;
  std::shared_ptr<const Inputs> inputs_;
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
  /// The same records from a prepared image (a PreparedImage of the image alone works too).
  std::vector<MaskRecord> generate(const PreparedImage& image, FilterFunnel* funnel = nullptr,
                                   StageTimes* times = nullptr) const;

  /// The host's share of the image's preprocessing, for a thread other than the model's (safe to
  /// call while generate() runs on another thread): its crop boxes, and in exact mode (fp32, or
  /// not on CUDA) the reference's CPU resize and normalisation of the first crops, in
  /// page-locked memory on CUDA; in fast mode (bf16/fp16 on CUDA) the uint8 image in page-locked
  /// memory, resized and normalised on the GPU by generate(). Throws ImageError for an image
  /// generate() would refuse (empty, too small for the crops).
  PreparedImage prepare(std::shared_ptr<const ImageU8> image) const;

  /// Runs the model once and returns, for every setting, exactly the records generate() gives
  /// with the config's other parameters and that setting's four values. Candidates are filtered
  /// with the loosest thresholds of the sweep, their stability is kept for every swept offset,
  /// and each setting then replays the filters and both NMS passes (and the extension filters,
  /// which no sweep varies). Throws UsageError for an
  /// invalid setting, or with SAM 1 small-region removal (not supported in sweeps).
  std::vector<std::vector<MaskRecord>> sweep(const ImageU8& image, const std::vector<SweepSetting>& settings) const;

  /// Chooses the post-processing design (kFused by default).
  void set_postprocess(Postprocess mode);
  /// Candidates are compacted (the filters' survivors gathered, one host read) once per `bytes`
  /// of decoder output: by default 1 GiB on CUDA (the default grid's candidates at once) and
  /// 128 MiB on the CPU (where a read costs nothing and memory does); 0 compacts after every
  /// decoder call. Records never depend on it.
  void set_compaction_window(std::int64_t bytes);
  /// Which implementation runs each part, as (part, name) for the bench: preprocessing,
  /// post-processing design and kernel, decoder, CUDA graphs; "unknown" where the part cannot
  /// say yet.
  std::vector<std::pair<std::string, std::string>> execution_paths() const;
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
