#pragma once
/// Image, point and mask transforms between image and model space.
/// ref: sam2/utils/transforms.py (SAM2Transforms) @ 2b90b9f.
#include <ATen/ATen.h>

#include <array>

namespace sam2amg {

/// HWC uint8 RGB crop -> (1, 3, S, S) float32 on the crop's device (the reference: the CPU): x/255, square bilinear resize
/// with antialias (skipped when already S x S), then (x - mean) / std. No aspect ratio is kept,
/// as in the reference (SAM 1 padded instead).
at::Tensor preprocess_image(const at::Tensor& crop_hwc_u8, int64_t resolution,
                            const std::array<float, 3>& mean, const std::array<float, 3>& std);

/// (..., 2) float32 pixel points of an h x w crop -> model space: (x / w) * S, (y / h) * S.
at::Tensor transform_coords(const at::Tensor& coords, int64_t h, int64_t w, int64_t resolution);

}  // namespace sam2amg
