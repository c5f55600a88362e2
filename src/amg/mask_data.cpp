#include "amg/mask_data.h"

#include <iterator>

#include "amg/host_reads.h"

namespace sam2amg {

namespace {

// Every tensor column, so that size, filter and concat cannot miss one.
constexpr at::Tensor MaskData::*kColumns[] = {
    &MaskData::masks,           &MaskData::iou_preds,           &MaskData::points, &MaskData::low_res_masks,
    &MaskData::stability_score, &MaskData::stability_scores, &MaskData::boxes,  &MaskData::crop_boxes,
    &MaskData::keep};

}  // namespace

int64_t MaskData::size() const {
  for (at::Tensor MaskData::*column : kColumns)
    if ((this->*column).defined()) return (this->*column).size(0);
  return static_cast<int64_t>(rles.size());
}

void MaskData::filter(const at::Tensor& rows) {
  const at::Tensor idx = rows.scalar_type() == at::kBool ? true_indices(rows) : rows;
  at::Tensor on_device;  // host-built indices go up once, without blocking
  for (at::Tensor MaskData::*column : kColumns) {
    at::Tensor& t = this->*column;
    if (!t.defined()) continue;
    if (idx.device() == t.device()) {
      t = t.index_select(0, idx);
    } else {
      if (!on_device.defined() || on_device.device() != t.device())
        on_device = idx.device().is_cpu() ? upload(idx, t.device()) : idx.to(t.device());
      t = t.index_select(0, on_device);
    }
  }
  if (!rles.empty()) {
    const at::Tensor host = read_to_host(idx.to(at::kLong)).contiguous();
    const int64_t* p = host.data_ptr<int64_t>();
    std::vector<Rle> kept;
    kept.reserve(host.numel());
    for (int64_t i = 0; i < host.numel(); ++i) kept.push_back(std::move(rles[p[i]]));
    rles = std::move(kept);
  }
}

MaskData MaskData::concat(std::vector<MaskData>& parts) {
  MaskData out;
  for (at::Tensor MaskData::*column : kColumns) {
    std::vector<at::Tensor> pieces;
    for (MaskData& p : parts)
      if ((p.*column).defined()) pieces.push_back(std::move(p.*column));
    if (!pieces.empty()) out.*column = pieces.size() == 1 ? pieces[0] : at::cat(pieces, 0);
  }
  for (MaskData& p : parts) std::move(p.rles.begin(), p.rles.end(), std::back_inserter(out.rles));
  parts.clear();
  return out;
}

}  // namespace sam2amg
