#pragma once
/// MaskData: the columns of per-mask data the generator carries between stages, all with the
/// same first dimension N. ref: sam2/utils/amg.py:17-77 (MaskData), with typed fields instead of
/// a dict. Tensors stay on the model's device; `rles` lives on the host.
#include <ATen/ATen.h>

#include <vector>

#include "amg/rle_host.h"

namespace sam2amg {

struct MaskData {
  at::Tensor masks;            ///< (N, h, w) full-resolution logits, then bool (reference post-processing only)
  at::Tensor iou_preds;        ///< (N,) float32
  at::Tensor points;           ///< (N, 2) float32 prompt points (crop frame, then image frame)
  at::Tensor low_res_masks;    ///< (N, s, s) float32 low-res logits (holes filled) until the RLE is made
  at::Tensor stability_scores; ///< (N, K) float32: stability at each of the pass's K offsets
  at::Tensor stability_score;  ///< (N,) float32: the chosen offset's column
  at::Tensor boxes;            ///< (N, 4) int64 XYXY, inclusive max
  at::Tensor crop_boxes;       ///< (N, 4) int64 XYXY crop of each mask
  at::Tensor keep;             ///< (N,) bool: the row passed the filters so far (dropped at the next compaction)
  std::vector<Rle> rles;       ///< N uncompressed RLEs (host)

  /// Number of rows (from the first defined column).
  int64_t size() const;
  /// Keeps rows selected by `rows`: a bool mask (N,) (one host read, amg/host_reads.h) or int64
  /// indices (kept in that order; no read unless `rles` is filled).
  void filter(const at::Tensor& rows);
  /// The rows of every part, in order, concatenated once (appending part by part would copy
  /// the growing columns again for every part). A column undefined in a part has no rows there.
  static MaskData concat(std::vector<MaskData>& parts);
};

}  // namespace sam2amg
