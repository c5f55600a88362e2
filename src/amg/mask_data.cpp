#include "amg/mask_data.h"

namespace sam2amg {

namespace {

template <typename F>
void for_each_tensor(MaskData& d, F&& f) {
  for (at::Tensor* t : {&d.masks, &d.iou_preds, &d.points, &d.low_res_masks, &d.stability_score,
                        &d.stability_by_offset, &d.boxes, &d.crop_boxes})
    f(*t);
}

}  // namespace

int64_t MaskData::size() const {
  for (const at::Tensor* t :
       {&masks, &iou_preds, &points, &low_res_masks, &stability_score, &stability_by_offset, &boxes, &crop_boxes})
    if (t->defined()) return t->size(0);
  return static_cast<int64_t>(rles.size());
}

void MaskData::filter(const at::Tensor& keep) {
  const at::Tensor idx = keep.scalar_type() == at::kBool ? keep.nonzero().squeeze(1) : keep;
  for_each_tensor(*this, [&](at::Tensor& t) {
    if (t.defined()) t = t.index_select(0, idx.to(t.device()));
  });
  if (!rles.empty()) {
    const at::Tensor host = idx.to(at::kCPU).to(at::kLong).contiguous();
    const int64_t* p = host.data_ptr<int64_t>();
    std::vector<Rle> kept;
    kept.reserve(host.numel());
    for (int64_t i = 0; i < host.numel(); ++i) kept.push_back(std::move(rles[p[i]]));
    rles = std::move(kept);
  }
}

void MaskData::cat(const MaskData& other) {
  const bool was_empty = size() == 0 && !masks.defined() && !iou_preds.defined();
  auto cat_one = [&](at::Tensor& mine, const at::Tensor& theirs) {
    if (!theirs.defined()) return;
    mine = (was_empty || !mine.defined()) ? theirs : at::cat({mine, theirs}, 0);
  };
  cat_one(masks, other.masks);
  cat_one(iou_preds, other.iou_preds);
  cat_one(points, other.points);
  cat_one(low_res_masks, other.low_res_masks);
  cat_one(stability_score, other.stability_score);
  cat_one(stability_by_offset, other.stability_by_offset);
  cat_one(boxes, other.boxes);
  cat_one(crop_boxes, other.crop_boxes);
  rles.insert(rles.end(), other.rles.begin(), other.rles.end());
}

}  // namespace sam2amg
