#pragma once
/// sam2-amg's own prompt encoder (single points) and mask decoder, for the CPU: the same
/// computation as the export's `predict_masks` (ref: sam2/modeling/sam/prompt_encoder.py
/// _embed_points, mask_decoder.py predict_masks, transformer.py TwoWayTransformer,
/// TwoWayAttentionBlock, Attention @ 2b90b9f), written with ATen over the export's own weights
/// (read by name, docs/model-contract.md "The native decoder") and arranged for many prompts
/// over one image embedding:
///
/// - What does not depend on the prompt is computed once per crop (prepare): the first layer's
///   image-side projections, the positional encoding, the high-resolution features with the
///   transposed convolutions' biases, in the layout the upscaling reads.
/// - Attention against the image is folded so that no (N, 256) x (256, 128) projection of the
///   per-prompt image tokens is ever made: the token side's projections are pushed through the
///   weights (scores = (q W_k) keys^T, values = (P keys) W_v^T, out_proj applied to the few
///   token values before the attention weights). Biases that add the same value to every score
///   of a softmax row are dropped (softmax does not see them).
/// - The 2x2 transposed convolutions are one matrix product each on channels-last features in
///   "blocked" order (the four children of a pixel side by side), so no layout is ever
///   shuffled until the four mask logits per pixel are put in place.
///
/// In float32 it equals the exported decoder up to rounding (about 1e-6 of the logits' range;
/// checked against the export at load, and by tests/model/test_native_decoder.cpp); it is not
/// the reference's arithmetic bit for bit, which is why `--decoder export` exists.
/// Internal to src/model.
#include <torch/script.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model_tensors.h"

namespace sam2amg {

/// What the native decoder needs to know beyond the weights (metadata `mask_decoder`, or SAM 2's
/// own constants for exports that predate the key).
struct NativeDecoderShape {
  std::int64_t num_heads = 8;             ///< sam2_base.py: TwoWayTransformer(num_heads=8)
  bool iou_sigmoid = true;                ///< iou_prediction_use_sigmoid, true in every SAM 2 config
};

class NativeDecoder {
 public:
  /// The decoder over `module`'s weights, or nullptr with `why` saying what the file lacks (a
  /// missing or misshapen weight; the synthetic test model has none of them).
  static std::unique_ptr<NativeDecoder> from_module(const torch::jit::Module& module, const NativeDecoderShape& shape,
                                                    std::int64_t image_size, std::string* why);
  ~NativeDecoder();

  /// The prompt-independent tensors of one crop, for ImageEmbedding::decoder_context (float32).
  std::vector<at::Tensor> prepare(const ImageEmbedding& embedding) const;
  /// All four mask tokens' low-res logits (B, 4, S/4, S/4) and IoU scores (B, 4), float32, for B
  /// single-point prompts (B, 2) in model space (before the +0.5), with the padding point.
  DecoderOutput run(const std::vector<at::Tensor>& context, const at::Tensor& point_coords) const;

  /// The channels of the embeddings it takes: image_embed, feat_s0, feat_s1 (256, 32, 64 in SAM 2).
  std::array<std::int64_t, 3> embedding_channels() const;

  /// Prompts decoded together (bounds the activations: about 30 MiB per prompt at S = 1024).
  static constexpr std::int64_t kChunk = 8;

 private:
  struct Weights;
  explicit NativeDecoder(std::unique_ptr<Weights> w);
  std::unique_ptr<Weights> w_;
};

/// The largest |difference| between two decoders' outputs on the same prompts, relative to the
/// logits' range: the load-time check of the native decoder against the export's graph.
struct DecoderAgreement {
  double logits = 0;       ///< max |a - b| / max(1, max |a|)
  double iou = 0;          ///< max |a - b|
};
DecoderAgreement compare_decoder_outputs(const DecoderOutput& a, const DecoderOutput& b);

}  // namespace sam2amg
