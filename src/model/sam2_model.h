#pragma once
/// Sam2Model: the model boundary. The only class that talks to TorchScript; it loads a file
/// that follows docs/model-contract.md and exposes the two graphs as plain tensor calls.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/geometry.h"
#include "common/image.h"
#include "model/mask_selection.h"
#include "model/model_tensors.h"
#include "model/model_options.h"
#include "model/runtime.h"

namespace sam2amg {

/// Metadata embedded in the model file (extra file `sam2_amg.json`, see docs/model-contract.md).
struct ModelMetadata {
  int contract_version = 0;
  std::string architecture;            ///< e.g. "sam2.1_hiera_l" or "synthetic"
  int image_size = 1024;               ///< square model input side
  std::array<float, 3> pixel_mean{};   ///< on the [0, 1] scale
  std::array<float, 3> pixel_std{};
  std::string precision = "fp32";      ///< fp32, bf16 or fp16: dtype of the graphs' float inputs
  std::string device = "any";          ///< device the file was traced for: cpu, cuda or any
  DynamicMultimask dynamic_multimask;  ///< the decoder's single-mask fallback (build_sam2 default on)
  bool point_coords_fp32 = false;      ///< point_coords_dtype "fp32": coordinates stay float32 in bf16/fp16 files
  std::string decoder = "exact";       ///< the decoder form: exact (the reference's) or fast (bf16/fp16 exports)
  /// The mask decoder's structure (metadata `mask_decoder`; SAM 2's values where it is absent),
  /// which the native decoder needs besides the weights.
  std::int64_t mask_decoder_heads = 8;
  bool iou_sigmoid = true;
};

/// Throws ImageError naming the first output flagged in `host_flags` (`noted.flags`, read to
/// the host by the caller, which owns the read); nothing when none is.
void throw_if_nonfinite(const NonfiniteOutputs& noted, const at::Tensor& host_flags);

class Sam2Model {
 public:
  /// Loads and checks a model file. Throws ModelError naming the missing method, metadata key
  /// or device problem, and what to do about it.
  static Sam2Model load(const std::string& path, const ModelOptions& options = {});

  Sam2Model(Sam2Model&&) noexcept;
  Sam2Model& operator=(Sam2Model&&) noexcept;
  ~Sam2Model();

  /// Preprocesses the crop of `image` (square antialiased resize to S on the CPU, ImageNet
  /// normalisation, as SAM2Transforms) and runs graph A. ref: sam2_image_predictor.py:85-129.
  ImageEmbedding encode_image(const ImageU8& image, const CropBoxXyxy& crop_box) const;
  /// The two halves of encode_image: the model input (1, 3, S, S) on the model's device and
  /// dtype, and graph A on it.
  at::Tensor preprocess(const ImageU8& image, const CropBoxXyxy& crop_box) const;

  /// Preprocessing in parts, so that decode threads can do the host's share ahead of the model
  /// (thread-safe). Exact mode (fp32, or not on CUDA): the reference's CPU preprocessing, as a
  /// float32 host tensor, page-locked on CUDA; to_input() uploads it without blocking.
  /// Fast mode (bf16/fp16 on CUDA, `preprocesses_on_device()`): the host's share is the uint8
  /// image in page-locked memory (pin_image()); preprocess_on_device() uploads it and resizes and
  /// normalises on the GPU (not bit-exact with the CPU resize; reduced precision is not exact).
  bool preprocesses_on_device() const;
  at::Tensor preprocess_host(const ImageU8& image, const CropBoxXyxy& crop_box) const;
  at::Tensor to_input(const at::Tensor& host_input) const;
  at::Tensor pin_image(const ImageU8& image) const;
  at::Tensor preprocess_on_device(const at::Tensor& pinned_hwc_u8, const CropBoxXyxy& crop_box) const;
  ImageEmbedding encode(const at::Tensor& input) const;

  /// Waits for the device's queued work (CUDA); returns at once on the CPU. For timings.
  void synchronize() const;
  /// Peak bytes held by CUDA's caching allocator on the model's device since the last reset;
  /// -1 on the CPU or where LibTorch was built without CUDA.
  std::int64_t peak_device_bytes() const;
  void reset_peak_device_bytes() const;

  /// Runs graph B for B single-point prompts (label 1) plus the padding point.
  /// point_coords: (B, 2) float32 in model space (x/w*S, y/h*S, before the encoder's +0.5).
  /// mask_input: undefined, or (B, 1, S/4, S/4) float32 low-res logits (m2m).
  /// A fast export without mask_input runs B prompts in calls of up to decoder_path().max_batch
  /// prompts, each padded to a power of two (from 16), as CUDA graphs where they can be.
  DecoderOutput predict_points(const ImageEmbedding& embedding, const at::Tensor& point_coords,
                               const at::Tensor& mask_input = {}) const;

  /// Prompts worth giving predict_points at once: for a fast export as many as device memory
  /// allows (a whole grid in one decoder call), whatever points_per_batch says; 0 for the exact
  /// form (the caller's points_per_batch keeps the reference's batches).
  std::int64_t preferred_prompt_batch() const;

  /// NaN/inf in encode/predict outputs is noted on the device, never read per call: the caller
  /// takes the flags once per image (and reads them with its counted read), or calls
  /// check_outputs_finite (one host read; ImageError naming the output).
  NonfiniteOutputs take_nonfinite_outputs() const;
  void check_outputs_finite() const;
  DecoderPath decoder_path() const;

  const ModelMetadata& metadata() const;
  at::Device device() const;
  /// One line for logs: architecture, precision, device.
  std::string describe() const;

 private:
  struct Impl;
  explicit Sam2Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The load-time check of docs/model-contract.md that metadata alone cannot give, run by
/// Sam2Model::load (model_probe.cpp): encode_image on a (1, 3, S, S) zero image and
/// predict_masks on one prompt and on a batch of two (a graph may break only for batches); with
/// `mask_input`, predict_masks_with_mask_input too (the m2m refinement). The outputs must have
/// the documented shapes and dtypes: else ModelError (exit 3) naming `path`, the graph, and the
/// shape, dtype or non-finite value it returned.
void probe_model(const Sam2Model& model, const std::string& path, bool mask_input = false);

}  // namespace sam2amg
