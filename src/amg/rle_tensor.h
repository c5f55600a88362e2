#pragma once
/// The tensor RLE encoder: masks on any device -> uncompressed RLE (the host codec is
/// amg/rle_host.h). ref: sam2/utils/amg.py:109-137 mask_to_rle_pytorch.
#include <ATen/ATen.h>

#include <vector>

#include "amg/rle_host.h"

namespace sam2amg {

/// Encodes (N, H, W) bool masks (any device) as uncompressed RLE, column-major, counts starting
/// with a run of zeros. The run boundaries are found on the masks' device; the only host copy is
/// one transfer of the change indices for the whole batch (never one per mask).
std::vector<Rle> mask_to_rle_pytorch(const at::Tensor& masks);

}  // namespace sam2amg
