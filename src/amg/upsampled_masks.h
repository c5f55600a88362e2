#pragma once
/// Statistics and RLE of upsampled masks without materialising them at full resolution.
///
/// The reference upsamples every candidate's 256x256 logits to the crop size in float32
/// (postprocess_masks), computes its stability score and box from that, and only then lets NMS
/// drop most candidates (ref: sam2/automatic_mask_generator.py:294-384 _process_batch). Here the
/// bilinear field is evaluated on the fly: one pass gives what the filters need (counts above
/// thresholds, the box of the pixels above mask_threshold), and only the masks that survive
/// every filter and both NMS passes are evaluated again, straight into column-major RLE runs.
///
/// Exactness: the values are those of ATen's upsample_bilinear2d (align_corners=false). On the
/// CPU, LibTorch has two kernels with different float arithmetic: the generic one, used when the
/// reference upsamples (B, C > 1) blocks (the multimask path), and the channels-last one, used
/// for (B, 1) blocks (single-mask and m2m paths). `UpsampleLayout` names which one the reference
/// ran. The fused CPU kernel reproduces the generic kernel bit for bit; it checks itself against
/// ATen once per process and per layout (`fused_cpu_kernel_matches`), and every case it cannot
/// reproduce (the channels-last layout, a LibTorch whose arithmetic differs) runs ATen's own
/// upsampling in chunks of bounded size instead, which is exact by construction.
///
/// On CUDA tensors (both layouts: CUDA has one upsampling kernel) a fused CUDA kernel
/// (amg/cuda/upsampled_stats.cu, built when CMake finds a CUDA compiler and LibTorch has CUDA)
/// does the same: one pass for counts and boxes, one for the survivors' runs, with the per-pixel
/// arithmetic of amg/upsample_field.h. A probe at first use compares it with ATen's CUDA
/// upsampling and thresholding; if any bit differs, the chunked ATen path runs instead, with a
/// warning (`take_cuda_stats_warning`). `cuda_stats_path` says which ran.
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "amg/rle_host.h"
#include "amg/upsampled_mask_types.h"

namespace sam2amg {

/// Counts and boxes of (N, s, s) float32 low-res logits upsampled to h x w, as
/// `(upsample(x) > t).sum()` and `batched_mask_to_box(upsample(x) > mask_threshold)` would give.
/// Thresholds are float32 (the reference compares float32 tensors with Python floats).
/// Memory: O(w * s) per CPU thread, or `chunk_bytes` on other devices; never N * h * w.
UpsampledMaskStats upsampled_mask_stats(const at::Tensor& low_res, std::int64_t h, std::int64_t w,
                                        const std::vector<float>& thresholds, float mask_threshold,
                                        UpsampleLayout layout, std::int64_t chunk_bytes = std::int64_t{256} << 20);

/// Uncompressed RLE of the full-image masks: (N, s, s) logits upsampled to the crop, binarised
/// at `mask_threshold` (strict), zero-padded into the image. Equals
/// mask_to_rle_pytorch(uncrop_masks(upsample(x) > mask_threshold, ...)).
std::vector<Rle> upsampled_masks_to_rle(const at::Tensor& low_res, const CropPlacement& crop, float mask_threshold,
                                        UpsampleLayout layout, std::int64_t chunk_bytes = std::int64_t{256} << 20);

/// True when the fused CPU kernel reproduces this LibTorch's upsample_bilinear2d for `layout`
/// bit for bit (checked once on a probe and cached). False means the ATen fallback is used.
bool fused_cpu_kernel_matches(UpsampleLayout layout);

/// Which code computed the statistics and RLE of CUDA tensors in this process, for the bench:
/// "unused" (no CUDA tensor yet), "kernel" (the fused CUDA kernel, its probe passed),
/// "fallback (<why>)" (ATen's chunked upsampling: the kernel is not built, its probe found a
/// difference, or a call had more thresholds than it takes), or "kernel and fallback (<why>)".
std::string cuda_stats_path();

/// Whether this build has the fused CUDA kernel (a CUDA LibTorch and a CUDA compiler).
bool cuda_kernel_built();

/// The warning for the user when the fused CUDA kernel's probe failed and ATen's path runs
/// instead; returned once per process, empty otherwise (and on every later call).
std::string take_cuda_stats_warning();

/// ATen's upsampling of (N, s, s) logits to (N, h, w) float32 with the kernel the reference used
/// for `layout` (the (B, C > 1) or (B, 1) block shape). The reference path and the tests use it.
at::Tensor upsample_like_reference(const at::Tensor& low_res, std::int64_t h, std::int64_t w, UpsampleLayout layout);

}  // namespace sam2amg
