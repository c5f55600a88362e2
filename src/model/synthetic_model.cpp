#include "model/synthetic_model.h"

#include <torch/script.h>

#include "common/error.h"

namespace sam2amg {

namespace {

constexpr const char* kSource = R"TS(
def encode_image(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    s = image.size(2)
    lr = s // 4
    colours = image.reshape([1, 3, lr, 4, lr, 4]).mean([3, 5])
    feat_s0 = torch.cat([colours, torch.zeros([1, 29, lr, lr], dtype=image.dtype, device=image.device)], 1)
    feat_s1 = torch.zeros([1, 64, s // 8, s // 8], dtype=image.dtype, device=image.device)
    image_embed = torch.zeros([1, 256, s // 16, s // 16], dtype=image.dtype, device=image.device)
    return image_embed, feat_s0, feat_s1

def _decode(self, feat_s0: Tensor, point_coords: Tensor, mask_input: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    assert self.fail_from_batch == 0 or point_coords.size(0) < self.fail_from_batch, self.fail_message
    lr = feat_s0.size(2)
    bits = (feat_s0[0, 0:3] > self.channel_cut.to(feat_s0.dtype).view([3, 1, 1])).long()
    classes = bits[0] + 2 * bits[1] + 4 * bits[2]
    p = point_coords[:, 0, :].float() + 0.5
    ix = torch.clamp(torch.floor(p[:, 0] / 4.0), 0.0, float(lr - 1)).long()
    iy = torch.clamp(torch.floor(p[:, 1] / 4.0), 0.0, float(lr - 1)).long()
    point_class = classes[iy, ix]
    region = classes.unsqueeze(0) == point_class.view([-1, 1, 1])
    frac = region.float().mean([1, 2])
    region_logits = region.float() * 32.0 - 16.0
    full = torch.full_like(region_logits, 16.0)
    empty = torch.full_like(region_logits, -16.0)
    iou0 = 0.85 + 0.1 * frac
    single = region_logits
    if mask_input is not None:
        prior = mask_input[:, 0].float() > 0.0
        single = (region & prior).float() * 32.0 - 16.0
        iou0 = torch.full_like(frac, 0.93)
    logits = torch.stack([single, region_logits, full, empty], 1)
    iou = torch.stack([iou0, 0.9 + 0.09 * frac, torch.full_like(frac, 0.5), torch.full_like(frac, 0.2)], 1)
    return logits.to(feat_s0.dtype), iou.to(feat_s0.dtype)

def predict_masks(self, image_embed: Tensor, feat_s0: Tensor, feat_s1: Tensor, point_coords: Tensor, point_labels: Tensor) -> Tuple[Tensor, Tensor]:
    return self._decode(feat_s0, point_coords, None)

def predict_masks_with_mask_input(self, image_embed: Tensor, feat_s0: Tensor, feat_s1: Tensor, point_coords: Tensor, point_labels: Tensor, mask_input: Tensor) -> Tuple[Tensor, Tensor]:
    return self._decode(feat_s0, point_coords, mask_input)
)TS";

constexpr const char* kMetadata = R"({
  "contract_version": 1,
  "architecture": "synthetic",
  "image_size": 1024,
  "pixel_mean": [0.485, 0.456, 0.406],
  "pixel_std": [0.229, 0.224, 0.225],
  "precision": "fp32",
  "device": "any",
  "dynamic_multimask_via_stability": {"enabled": true, "delta": 0.05, "thresh": 0.98},
  "source": "sam2-amg make-synthetic-model"
})";

}  // namespace

void write_synthetic_model(const std::string& path, int fail_from_batch, const std::string& fail_message) {
  torch::jit::Module m("sam2amg_synthetic");
  // A channel is "on" above 0.5 on the [0, 1] scale; the model sees normalised values.
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  at::Tensor cut = at::empty({3}, at::kFloat);
  for (int c = 0; c < 3; ++c) cut[c] = (0.5f - mean[c]) / stdv[c];
  m.register_buffer("channel_cut", cut);
  m.register_attribute("fail_from_batch", c10::IntType::get(), static_cast<int64_t>(fail_from_batch));
  m.register_attribute("fail_message", c10::StringType::get(), fail_message);
  m.define(kSource);
  try {
    m.save(path, {{"sam2_amg.json", kMetadata}});
  } catch (const c10::Error& e) {
    throw OutputError(path, e.what_without_backtrace());
  }
}

}  // namespace sam2amg
