#pragma once
/// Which post-processing code ran on CUDA in this process, for `sam2-amg bench` (torch-free).
#include <string>

namespace sam2amg {

/// "unused", "kernel" (the fused CUDA statistics kernel), "fallback (<why>)" (ATen's chunked
/// upsampling) or "kernel and fallback (<why>)". See amg/upsampled_masks.h cuda_stats_path.
std::string cuda_postprocess_path();

}  // namespace sam2amg
