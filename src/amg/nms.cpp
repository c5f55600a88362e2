#include "amg/nms.h"

#include <vector>

namespace sam2amg {

namespace {

// Rows of the suppression matrix are computed in blocks to bound device memory.
constexpr int64_t kNmsBlockRows = 2048;

}  // namespace

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "nms: boxes must be (N, 4), got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), "nms: scores must be (N,) with N = ",
              boxes.size(0), ", got ", scores.sizes());
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(boxes.device());
  const int64_t n = boxes.size(0);
  if (n == 0) return at::empty({0}, long_opts);

  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  const at::Tensor b = boxes.index_select(0, order).to(at::kFloat);
  const at::Tensor x1 = b.select(1, 0), y1 = b.select(1, 1), x2 = b.select(1, 2), y2 = b.select(1, 3);
  const at::Tensor areas = (x2 - x1) * (y2 - y1);

  // suppress[i][j]: box j (sorted) would be removed if box i is kept.
  std::vector<at::Tensor> blocks;
  for (int64_t r0 = 0; r0 < n; r0 += kNmsBlockRows) {
    const int64_t r1 = std::min(n, r0 + kNmsBlockRows);
    const at::Tensor xx1 = at::maximum(x1.slice(0, r0, r1).unsqueeze(1), x1.unsqueeze(0));
    const at::Tensor yy1 = at::maximum(y1.slice(0, r0, r1).unsqueeze(1), y1.unsqueeze(0));
    const at::Tensor xx2 = at::minimum(x2.slice(0, r0, r1).unsqueeze(1), x2.unsqueeze(0));
    const at::Tensor yy2 = at::minimum(y2.slice(0, r0, r1).unsqueeze(1), y2.unsqueeze(0));
    const at::Tensor inter = (xx2 - xx1).clamp_min(0) * (yy2 - yy1).clamp_min(0);
    const at::Tensor iou = inter / (areas.slice(0, r0, r1).unsqueeze(1) + areas.unsqueeze(0) - inter);
    blocks.push_back(iou > iou_threshold);
  }
  // One device->host copy of the whole matrix, then the inherently sequential greedy pass.
  const at::Tensor suppress = at::cat(blocks, 0).to(at::kCPU).contiguous();
  const bool* sup = suppress.data_ptr<bool>();
  std::vector<char> removed(n, 0);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i) {
    if (removed[i]) continue;
    keep.push_back(i);
    const bool* row = sup + i * n;
    for (int64_t j = i + 1; j < n; ++j) removed[j] = removed[j] || row[j];
  }
  const at::Tensor keep_t = at::tensor(keep, at::kLong).to(boxes.device());
  return order.index_select(0, keep_t);
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  if (boxes.numel() == 0) return at::empty({0}, at::TensorOptions().dtype(at::kLong).device(boxes.device()));
  const at::Tensor b = boxes.to(at::kFloat);
  const at::Tensor offsets = idxs.to(at::kFloat) * (b.max() + 1);
  return nms(b + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace sam2amg
