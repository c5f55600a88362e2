#include "amg/rle_tensor.h"

#include "amg/host_reads.h"

namespace sam2amg {

std::vector<Rle> mask_to_rle_pytorch(const at::Tensor& masks) {
  TORCH_CHECK(masks.dim() == 3, "mask_to_rle_pytorch: masks must be (N, H, W), got ", masks.sizes());
  const int64_t b = masks.size(0), h = masks.size(1), w = masks.size(2);
  std::vector<Rle> out;
  out.reserve(b);
  if (b == 0) return out;
  const int64_t hw = h * w;

  // Fortran order: flatten columns.
  const at::Tensor flat = masks.to(at::kBool).permute({0, 2, 1}).reshape({b, hw});
  const at::Tensor diff = flat.slice(1, 1).logical_xor(flat.slice(1, 0, hw - 1));
  // Row-major nonzero: grouped by mask, ascending position within a mask.
  const at::Tensor change = read_nonzero(diff);  // (K, 2)
  // One transfer: the change indices and each mask's first pixel, packed together.
  const at::Tensor first = flat.select(1, 0).to(at::kLong);
  const at::Tensor packed = read_to_host(at::cat({first, change.flatten()}));
  const int64_t* p = packed.data_ptr<int64_t>();
  const int64_t* ch = p + b;
  const int64_t k = change.size(0);

  int64_t c = 0;
  for (int64_t i = 0; i < b; ++i) {
    Rle rle{static_cast<int>(h), static_cast<int>(w), {}};
    if (p[i] != 0) rle.counts.push_back(0);
    int64_t prev = 0;
    for (; c < k && ch[2 * c] == i; ++c) {
      const int64_t idx = ch[2 * c + 1] + 1;
      rle.counts.push_back(static_cast<std::uint32_t>(idx - prev));
      prev = idx;
    }
    rle.counts.push_back(static_cast<std::uint32_t>(hw - prev));
    out.push_back(std::move(rle));
  }
  return out;
}

}  // namespace sam2amg
