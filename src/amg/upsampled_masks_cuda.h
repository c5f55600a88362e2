#pragma once
/// The fused CUDA kernel behind upsampled_mask_stats and upsampled_masks_to_rle for CUDA
/// tensors (upsampled_masks_cuda.cpp, built only with SAM2AMG_CUDA_KERNEL). Internal to
/// upsampled_masks.cpp, which decides when it runs.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "amg/rle_host.h"
#include "amg/upsampled_mask_types.h"

namespace sam2amg::cuda_kernel {

/// The verdict of the probe, run once per process on the device of the first call: whether an
/// arithmetic variant of the kernel gives ATen's upsample_bilinear2d bit for bit, and the
/// kernel's counts, boxes and RLE equal those of ATen's upsample + threshold. `detail` says
/// which variant matched, or what differed.
struct Verdict {
  bool ok = false;
  std::string detail;
};

/// Runs the probe on the first call (on `device`, with the caller's thresholds among the
/// probed ones) and returns its cached verdict.
const Verdict& verdict(const at::Device& device, const std::vector<float>& thresholds, float mask_threshold);

/// Whether the kernel takes these sizes (thresholds within its limit, image within 2^32 pixels).
bool takes(std::int64_t n_thresholds, std::int64_t orig_h, std::int64_t orig_w);

/// The kernel's counts and boxes; requires verdict().ok and takes().
UpsampledMaskStats stats(const at::Tensor& low_res, std::int64_t h, std::int64_t w, const std::vector<float>& thresholds,
                         float mask_threshold);

/// The kernel's RLE: the runs are built on the device, only they come back.
std::vector<Rle> rles(const at::Tensor& low_res, const CropPlacement& crop, float mask_threshold);

}  // namespace sam2amg::cuda_kernel
