#pragma once
/// Checking, before the work, that one image can fit in memory at all: an image whose
/// processing would need more than the machine has is skipped (ImageError, exit 4) instead of
/// failing an allocation deep inside LibTorch.
#include <cstdint>

#include "common/image.h"

namespace sam2amg {

/// Rough peak host bytes of one image: the image, its float32 copy for preprocessing and, with
/// the reference post-processing, a decoder batch of `batch` x `masks_per_prompt` masks
/// upsampled to the full image in float32 and thresholded (ref: _process_batch).
std::int64_t image_memory_estimate(int width, int height, std::int64_t batch, int masks_per_prompt,
                                   bool reference_postprocess);

/// The machine's physical memory in bytes (0 when unknown).
std::int64_t physical_memory_bytes();

/// Throws ImageError when `needed` exceeds `limit` (> 0), saying how much and what lowers it.
void check_image_memory(std::int64_t needed, std::int64_t limit);

}  // namespace sam2amg
