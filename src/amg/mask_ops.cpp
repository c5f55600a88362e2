#include "amg/mask_ops.h"

#include "amg/host_reads.h"

namespace sam2amg {

at::Tensor calculate_stability_score(const at::Tensor& masks, double mask_threshold,
                                     double threshold_offset) {
  TORCH_CHECK(masks.dim() >= 2, "calculate_stability_score: masks must be (..., H, W), got ",
              masks.sizes());
  // Python computes the threshold in double; the comparison with a float32 tensor rounds it.
  const float hi = static_cast<float>(mask_threshold + threshold_offset);
  const float lo = static_cast<float>(mask_threshold - threshold_offset);
  const at::Tensor intersections = (masks > hi).sum({-1, -2}, false, at::kLong);
  const at::Tensor unions = (masks > lo).sum({-1, -2}, false, at::kLong);
  // int / int true division promotes to float32 in torch.
  return intersections.to(at::kFloat) / unions.to(at::kFloat);
}

at::Tensor batched_mask_to_box(const at::Tensor& masks) {
  TORCH_CHECK(masks.dim() >= 2, "batched_mask_to_box: masks must be (..., H, W), got ", masks.sizes());
  auto lead = masks.sizes().vec();
  lead.resize(lead.size() - 2);
  auto out_shape = lead;
  out_shape.push_back(4);
  if (masks.numel() == 0)
    return at::zeros(out_shape, at::TensorOptions().dtype(at::kFloat).device(masks.device()));

  const int64_t h = masks.size(-2), w = masks.size(-1);
  const at::Tensor m = masks.reshape({-1, h, w}).to(at::kBool);
  const auto opts = at::TensorOptions().dtype(at::kLong).device(masks.device());

  const at::Tensor in_height = std::get<0>(m.max(-1));  // (N, h)
  at::Tensor in_height_coords = in_height * at::arange(h, opts).unsqueeze(0);
  const at::Tensor bottom_edges = std::get<0>(in_height_coords.max(-1));
  in_height_coords = in_height_coords + h * in_height.logical_not();
  const at::Tensor top_edges = std::get<0>(in_height_coords.min(-1));

  const at::Tensor in_width = std::get<0>(m.max(-2));  // (N, w)
  at::Tensor in_width_coords = in_width * at::arange(w, opts).unsqueeze(0);
  const at::Tensor right_edges = std::get<0>(in_width_coords.max(-1));
  in_width_coords = in_width_coords + w * in_width.logical_not();
  const at::Tensor left_edges = std::get<0>(in_width_coords.min(-1));

  // An empty mask has its right edge left of its left edge: report [0, 0, 0, 0].
  const at::Tensor empty = (right_edges < left_edges).logical_or(bottom_edges < top_edges);
  at::Tensor out = at::stack({left_edges, top_edges, right_edges, bottom_edges}, -1);
  out = out * empty.logical_not().unsqueeze(-1);
  return out.reshape(out_shape);
}

at::Tensor is_box_near_crop_edge(const at::Tensor& boxes, const CropBoxXyxy& crop_box,
                                 const CropBoxXyxy& orig_box, double atol) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) == 4, "is_box_near_crop_edge: boxes must be (N, 4), got ",
              boxes.sizes());
  // Both boxes in one upload (no host wait on CUDA).
  const at::Tensor both = upload(at::tensor({float(crop_box[0]), float(crop_box[1]), float(crop_box[2]), float(crop_box[3]),
                                             float(orig_box[0]), float(orig_box[1]), float(orig_box[2]), float(orig_box[3])},
                                            at::kFloat),
                                 boxes.device());
  const at::Tensor crop = both.slice(0, 0, 4), orig = both.slice(0, 4, 8);
  const at::Tensor b = uncrop_boxes_xyxy(boxes, crop_box).to(at::kFloat);
  // torch.isclose(a, b, atol, rtol=0): |a - b| <= atol.
  const at::Tensor near_crop_edge = at::isclose(b, crop.unsqueeze(0), /*rtol=*/0.0, atol);
  const at::Tensor near_image_edge = at::isclose(b, orig.unsqueeze(0), /*rtol=*/0.0, atol);
  return near_crop_edge.logical_and(near_image_edge.logical_not()).any(1);
}

at::Tensor box_xyxy_to_xywh(const at::Tensor& box_xyxy) {
  at::Tensor out = box_xyxy.clone();
  out.select(-1, 2) -= box_xyxy.select(-1, 0);
  out.select(-1, 3) -= box_xyxy.select(-1, 1);
  return out;
}

at::Tensor box_area(const at::Tensor& boxes) {
  return (boxes.select(-1, 2) - boxes.select(-1, 0)) * (boxes.select(-1, 3) - boxes.select(-1, 1));
}

}  // namespace sam2amg
