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

  // torchvision compares the float32 IoU with the double threshold on the CPU and with a
  // float32 threshold on CUDA; the two differ when the IoU equals float(threshold).
  const bool on_cuda = boxes.is_cuda();
  std::vector<char> removed(n, 0);
  std::vector<int64_t> keep;
  // Rows of the suppression matrix (block x remaining columns), one host copy per block, so
  // memory stays bounded for tens of thousands of candidates.
  for (int64_t r0 = 0; r0 < n; r0 += kNmsBlockRows) {
    const int64_t r1 = std::min(n, r0 + kNmsBlockRows);
    const auto rows = [&](const at::Tensor& t) { return t.slice(0, r0, r1).unsqueeze(1); };
    const auto cols = [&](const at::Tensor& t) { return t.slice(0, r0).unsqueeze(0); };
    const at::Tensor xx1 = at::maximum(rows(x1), cols(x1)), yy1 = at::maximum(rows(y1), cols(y1));
    const at::Tensor xx2 = at::minimum(rows(x2), cols(x2)), yy2 = at::minimum(rows(y2), cols(y2));
    const at::Tensor inter = (xx2 - xx1).clamp_min(0) * (yy2 - yy1).clamp_min(0);
    const at::Tensor iou = inter / (rows(areas) + cols(areas) - inter);
    const at::Tensor sup_t = (on_cuda ? iou > static_cast<float>(iou_threshold) : iou.to(at::kDouble) > iou_threshold)
                                 .to(at::kCPU)
                                 .contiguous();
    const bool* sup = sup_t.data_ptr<bool>();
    const int64_t width = n - r0;  // column c of the block is sorted box r0 + c
    for (int64_t i = r0; i < r1; ++i) {
      if (removed[i]) continue;
      keep.push_back(i);
      const bool* row = sup + (i - r0) * width;
      for (int64_t j = i + 1; j < n; ++j) removed[j] = removed[j] || row[j - r0];
    }
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
