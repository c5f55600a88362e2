#pragma once
/// The tensors that pass between the graphs and the decoders (Sam2Model, FastDecoder,
/// NativeDecoder): the encoder's outputs for one crop, the decoder's for a batch of prompts, and
/// the non-finite flags noted on the way.
#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace sam2amg {

/// Graph A's outputs for one crop, on the model's device, in the model's dtype.
struct ImageEmbedding {
  at::Tensor image_embed;  ///< (1, 256, S/16, S/16), no_mem_embed already added
  at::Tensor feat_s0;      ///< (1, 32, S/4, S/4)
  at::Tensor feat_s1;      ///< (1, 64, S/8, S/8)
  /// The fast decoders' prompt-independent tensors of this crop (a fast export's prepare_decoder,
  /// or the native decoder's prepare); empty otherwise.
  std::vector<at::Tensor> decoder_context;
};

/// Graph B's outputs for a batch of B prompts, all four mask tokens, float32.
struct DecoderOutput {
  at::Tensor low_res_logits;  ///< (B, 4, S/4, S/4), unclamped
  at::Tensor iou_preds;       ///< (B, 4), sigmoid-ed
};

/// Model outputs that held NaN or inf, as noted on the device since the last take: `flags` is a
/// (K,) bool tensor on the model's device (undefined when nothing was noted), `names[i]` what
/// flag i is ("predict_masks's iou").
struct NonfiniteOutputs {
  at::Tensor flags;
  std::vector<std::string> names;
};

}  // namespace sam2amg
