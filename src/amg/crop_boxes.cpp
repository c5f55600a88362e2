#include "amg/crop_boxes.h"

#include <cmath>

#include "amg/host_reads.h"

namespace sam2amg {

namespace {

// ref: amg.py generate_crop_boxes.crop_len: int(math.ceil((overlap*(n-1) + len) / n)).
std::int64_t crop_len(std::int64_t orig_len, std::int64_t n_crops, std::int64_t overlap) {
  return static_cast<std::int64_t>(std::ceil(double(overlap * (n_crops - 1) + orig_len) / double(n_crops)));
}

}  // namespace

CropBoxes generate_crop_boxes(std::int64_t im_h, std::int64_t im_w, int n_layers, double overlap_ratio) {
  CropBoxes out;
  const std::int64_t short_side = std::min(im_h, im_w);
  out.boxes.push_back({0, 0, im_w, im_h});
  out.layer_idxs.push_back(0);
  for (int i_layer = 0; i_layer < n_layers; ++i_layer) {
    const std::int64_t n = std::int64_t{1} << (i_layer + 1);
    // Python evaluates overlap_ratio * short_side * (2 / n) left to right in double.
    const auto overlap = static_cast<std::int64_t>(overlap_ratio * double(short_side) * (2.0 / double(n)));
    const std::int64_t crop_w = crop_len(im_w, n, overlap);
    const std::int64_t crop_h = crop_len(im_h, n, overlap);
    // itertools.product(x0s, y0s): x is the outer loop.
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        const std::int64_t x0 = (crop_w - overlap) * i, y0 = (crop_h - overlap) * j;
        out.boxes.push_back({x0, y0, std::min(x0 + crop_w, im_w), std::min(y0 + crop_h, im_h)});
        out.layer_idxs.push_back(i_layer + 1);
      }
    }
  }
  return out;
}

at::Tensor uncrop_boxes_xyxy(const at::Tensor& boxes, const CropBoxXyxy& crop_box) {
  const at::Tensor offset = upload(at::tensor({crop_box[0], crop_box[1], crop_box[0], crop_box[1]}, at::kLong),
                                   boxes.device());
  return boxes + offset;
}

at::Tensor uncrop_points(const at::Tensor& points, const CropBoxXyxy& crop_box) {
  const at::Tensor offset = upload(at::tensor({crop_box[0], crop_box[1]}, at::kLong), points.device());
  return points + offset;
}

at::Tensor uncrop_masks(const at::Tensor& masks, const CropBoxXyxy& crop_box, std::int64_t orig_h,
                        std::int64_t orig_w) {
  const auto [x0, y0, x1, y1] = crop_box;
  if (x0 == 0 && y0 == 0 && x1 == orig_w && y1 == orig_h) return masks;
  const std::int64_t pad_x = orig_w - (x1 - x0), pad_y = orig_h - (y1 - y0);
  return at::constant_pad_nd(masks, {x0, pad_x - x0, y0, pad_y - y0}, 0);
}

}  // namespace sam2amg
