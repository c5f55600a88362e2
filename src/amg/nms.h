#pragma once
/// Greedy box NMS with torchvision's semantics, on any device.
/// ref: torchvision/ops/boxes.py (nms, batched_nms) and csrc/ops/cpu/nms_kernel.cpp.
#include <ATen/ATen.h>

namespace sam2amg {

/// Indices (int64, on the boxes' device) of the boxes kept, in descending score order.
/// boxes: (N, 4) XYXY (any numeric dtype, computed in float32); scores: (N,).
/// IoU uses area = (x1-x0)*(y1-y0) without +1; a box is suppressed when IoU > iou_threshold
/// (strict; a NaN IoU from two zero-area boxes never suppresses).
/// Ties: torchvision >= 0.12 sorts stably (lower input index first, and it wins), except that
/// batched_nms's "vanilla" path (> 1000 boxes on CPU, > 5000 on CUDA) re-sorts the kept boxes
/// unstably. Here the sort is always stable: among equal scores the lower input index wins. This makes every run, device and batch size give the same result.
/// With `valid` ((N,) bool), only the valid boxes take part: the others are never kept and
/// suppress nothing, exactly as if they had been removed first (their order is the same).
/// One host read per 2048 sorted boxes (amg/host_reads.h), `valid` riding with the first.
at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold, const at::Tensor& valid = {});

/// NMS per category `idxs` (N,) int64, via torchvision's coordinate offset trick.
at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold, const at::Tensor& valid = {});

}  // namespace sam2amg
