#include "model/transforms.h"

namespace sam2amg {

at::Tensor preprocess_image(const at::Tensor& crop_hwc_u8, int64_t resolution,
                            const std::array<float, 3>& mean, const std::array<float, 3>& std) {
  TORCH_CHECK(crop_hwc_u8.dim() == 3 && crop_hwc_u8.size(2) == 3 && crop_hwc_u8.scalar_type() == at::kByte,
              "preprocess_image: expected (H, W, 3) uint8, got ", crop_hwc_u8.sizes(), " ", crop_hwc_u8.scalar_type());
  // ToTensor: CHW float32 computed as x / 255.
  at::Tensor x = crop_hwc_u8.permute({2, 0, 1}).to(at::kFloat).div(255).unsqueeze(0).contiguous();
  // Resize((S, S)): torchvision >= 0.17 uses antialias=True; returns early at the target size.
  if (x.size(2) != resolution || x.size(3) != resolution)
    x = at::_upsample_bilinear2d_aa(x, {resolution, resolution}, /*align_corners=*/false);
  at::Tensor ms = at::tensor({mean[0], mean[1], mean[2], std[0], std[1], std[2]}, at::kFloat);
  if (!x.device().is_cpu()) ms = ms.pin_memory().to(at::TensorOptions().device(x.device()), /*non_blocking=*/true);
  const at::Tensor m = ms.slice(0, 0, 3).view({1, 3, 1, 1}), s = ms.slice(0, 3, 6).view({1, 3, 1, 1});
  return (x - m) / s;
}

at::Tensor transform_coords(const at::Tensor& coords, int64_t h, int64_t w, int64_t resolution) {
  at::Tensor c = coords.clone();
  c.select(-1, 0).div_(static_cast<double>(w));
  c.select(-1, 1).div_(static_cast<double>(h));
  return c * static_cast<double>(resolution);
}

}  // namespace sam2amg
