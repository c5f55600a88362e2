#pragma once
/// Launches of the fused CUDA statistics kernels (upsampled_stats.cu). Plain C++: raw device
/// pointers, a cudaStream_t passed as void*, and the CUDA status code as int (0 = success), so
/// that callers need neither the CUDA headers nor nvcc. The per-pixel arithmetic is
/// amg/upsample_field.h. All launches are asynchronous on `stream`.
#include <cstdint>

#include "amg/upsample_field.h"

namespace sam2amg::cuda {

/// The full field of n masks, (n, out_h, out_w) float32, for the probe: what ATen's
/// upsample_bilinear2d gives when `g.arith` is its arithmetic.
int launch_field(const float* low_res, int n, const field::Geometry& g, float* out, void* stream);

/// Counts (n, th.k) int64 of pixels above each threshold and boxes (n, 4) int64 XYXY
/// (inclusive, crop frame; 0s when empty) of pixels above th.mask, without writing the field.
/// `box_work` is scratch of n * 4 int32.
int launch_stats(const float* low_res, int n, const field::Geometry& g, const field::Thresholds& th,
                 std::int64_t* counts, std::int32_t* box_work, std::int64_t* boxes, void* stream);

/// RLE pass 1: the number of run starts in each crop column, (n, f.w) int32.
int launch_rle_count(const float* low_res, int n, const field::Geometry& g, const field::Frame& f,
                     float mask_threshold, std::int32_t* column_counts, void* stream);

/// RLE pass 2: the runs. `column_first` (n, f.w) int64 is where each column's run starts go in
/// the flat output (mask m's entries are preceded by m end markers); `mask_first` (n + 1) int64
/// is where each mask's entries begin (the last element: the total). Writes run start positions
/// into `positions`, then each mask's uncompressed COCO counts into `runs` (same layout:
/// mask m's counts are runs[mask_first[m] .. mask_first[m + 1])).
int launch_rle_write(const float* low_res, int n, const field::Geometry& g, const field::Frame& f,
                     float mask_threshold, const std::int64_t* column_first, const std::int64_t* mask_first,
                     std::uint32_t* positions, std::uint32_t* runs, void* stream);

/// The CUDA runtime's text for an error code of the launches above.
const char* error_string(int code);

}  // namespace sam2amg::cuda
