#pragma once
/// Small-region removal: SAM 2's low-resolution hole/sprinkle fill and SAM 1's full-resolution
/// hole/island removal, with one dependency-free 8-connected component labeller.
#include <ATen/ATen.h>

#include <utility>

namespace sam2amg {

/// 8-connected components of (N, 1, H, W) bool masks (any device). Returns int32 tensors of the
/// same shape on the same device: `labels` (1..K per mask in raster order of first pixel, 0 for
/// background) and `areas` (the pixel count of each pixel's component, 0 for background).
/// Labelling runs on the host (one copy each way); the reference needs its CUDA extension here.
/// ref: sam2/utils/misc.py:47-63 get_connected_components.
std::pair<at::Tensor, at::Tensor> get_connected_components(const at::Tensor& mask);

/// SAM 2's min_mask_region_area step on (B, C, h, w) low-res logits, before upsampling:
/// background components (logit <= 0, border-touching ones included) of area <= max_hole_area
/// are set to +10; foreground components (logit > 0, taken from the input logits) of area
/// <= max_sprinkle_area are set to -10. A value <= 0 disables that half. Unlike the reference,
/// this runs on every device instead of silently doing nothing without CUDA.
/// ref: sam2/utils/transforms.py:76-118 postprocess_masks (the part before interpolate).
at::Tensor fill_holes_and_sprinkles(const at::Tensor& masks, double max_hole_area,
                                    double max_sprinkle_area);

/// SAM 1's full-resolution removal on one (H, W) bool mask: mode "holes" fills background
/// components of area < area_thresh (strict), mode "islands" removes such foreground components,
/// keeping the largest one when all are small. Returns the mask and whether it changed.
/// ref: segment_anything/utils/amg.py remove_small_regions (also sam2/utils/amg.py:269-294).
std::pair<at::Tensor, bool> remove_small_regions(const at::Tensor& mask, double area_thresh,
                                                 const std::string& mode);

}  // namespace sam2amg
