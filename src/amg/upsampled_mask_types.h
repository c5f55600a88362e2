#pragma once
/// What the upsampled-mask statistics and RLE (amg/upsampled_masks.h) take and give, shared by
/// their CPU implementation and the CUDA one (amg/upsampled_masks_cuda.h).
#include <ATen/ATen.h>

#include <cstdint>

namespace sam2amg {

/// Which LibTorch CPU upsampling kernel the reference used for these logits: kGeneric when it
/// upsampled (B, C) blocks with C > 1 (multimask output), kChannelsLast for (B, 1) blocks.
/// On CUDA both are the same kernel.
enum class UpsampleLayout { kGeneric, kChannelsLast };

/// Where a crop sits in the image, for RLE of the full-image mask.
struct CropPlacement {
  std::int64_t x0 = 0, y0 = 0;    ///< crop origin in image pixels
  std::int64_t h = 0, w = 0;      ///< crop size (the upsampling target)
  std::int64_t orig_h = 0, orig_w = 0;  ///< image size
};

/// What the filters need from each upsampled mask.
struct UpsampledMaskStats {
  at::Tensor counts;  ///< (N, K) int64: pixels with logit > thresholds[k] (strict), on the logits' device
  at::Tensor boxes;   ///< (N, 4) int64 XYXY, inclusive max, crop frame, of pixels > mask_threshold; 0s if empty
};

}  // namespace sam2amg
