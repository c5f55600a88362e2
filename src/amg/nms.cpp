#include "amg/nms.h"

#include <vector>

#include "amg/host_reads.h"

namespace sam2amg {

namespace {

// Rows of the suppression matrix are computed in blocks to bound device memory.
constexpr int64_t kNmsBlockRows = 2048;

}  // namespace

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold, const at::Tensor& valid) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "nms: boxes must be (N, 4), got ", boxes.sizes());
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0), "nms: scores must be (N,) with N = ",
              boxes.size(0), ", got ", scores.sizes());
  TORCH_CHECK(!valid.defined() || (valid.dim() == 1 && valid.size(0) == boxes.size(0)),
              "nms: valid must be (N,) with N = ", boxes.size(0));
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
    at::Tensor packed = (on_cuda ? iou > static_cast<float>(iou_threshold) : iou.to(at::kDouble) > iou_threshold).flatten();
    const bool with_valid = r0 == 0 && valid.defined();
    if (with_valid) packed = at::cat({valid.to(at::kBool).index_select(0, order), packed});
    const at::Tensor host = read_to_host(packed).contiguous();
    const bool* sup = host.data_ptr<bool>();
    if (with_valid) {  // invalid boxes count as removed before any is kept
      for (int64_t i = 0; i < n; ++i) removed[i] = !sup[i];
      sup += n;
    }
    const int64_t width = n - r0;  // column c of the block is sorted box r0 + c
    for (int64_t i = r0; i < r1; ++i) {
      if (removed[i]) continue;
      keep.push_back(i);
      const bool* row = sup + (i - r0) * width;
      for (int64_t j = i + 1; j < n; ++j) removed[j] = removed[j] || row[j - r0];
    }
  }
  const at::Tensor keep_t = upload(at::tensor(keep, at::kLong), boxes.device());
  return order.index_select(0, keep_t);
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold, const at::Tensor& valid) {
  if (boxes.numel() == 0) return at::empty({0}, at::TensorOptions().dtype(at::kLong).device(boxes.device()));
  const at::Tensor b = boxes.to(at::kFloat);
  // The offset comes from the boxes that take part (the others might be larger).
  const at::Tensor top = valid.defined() ? b.masked_fill(valid.to(at::kBool).logical_not().unsqueeze(1), 0).max() : b.max();
  const at::Tensor offsets = idxs.to(at::kFloat) * (top + 1);
  return nms(b + offsets.unsqueeze(1), scores, iou_threshold, valid);
}

}  // namespace sam2amg
