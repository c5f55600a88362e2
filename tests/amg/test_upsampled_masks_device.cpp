// upsampled_mask_stats and upsampled_masks_to_rle on the test device ($SAM2AMG_TEST_DEVICE):
// on CUDA the fused CUDA kernel must run (when built) and equal ATen's upsample + threshold on
// that device; on the CPU no CUDA path may be reported.
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "amg/crop_boxes.h"
#include "amg/mask_ops.h"
#include "amg/rle_tensor.h"
#include "amg/upsampled_masks.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using sam2amg::test::test_device;

namespace {

// Blobs and noise, with cells at and one ulp either side of each threshold; mask 0 all off,
// mask 1 all on.
at::Tensor device_logits(std::int64_t n, std::uint64_t seed, const std::vector<float>& thr) {
  const at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  at::Tensor x = at::upsample_bilinear2d(at::randn({n, 1, 16, 16}, gen, opts) * 12.0, {256, 256}, false)
                     .squeeze(1)
                     .contiguous();
  x += at::randn({n, 256, 256}, gen, opts) * 0.5;
  float* p = x.data_ptr<float>();
  const at::Tensor pick = at::randint(0, n * 256 * 256, {3000}, gen, at::TensorOptions().dtype(at::kLong));
  for (std::int64_t i = 0; i < pick.numel(); ++i) {
    const float t = thr[i % thr.size()];
    const int side = static_cast<int>(i / thr.size()) % 3;
    p[pick.data_ptr<std::int64_t>()[i]] = side == 0 ? t : std::nextafter(t, side == 1 ? -INFINITY : INFINITY);
  }
  x[0].fill_(-5.0);
  x[1].fill_(7.0);
  return x.to(at::Device(test_device()));
}

}  // namespace

TEST_CASE("On the test device, the statistics and RLE equal ATen's upsample and threshold there", "[amg][fused]") {
  const at::Device device(test_device());
  const std::vector<float> thr = {1.0f, -1.0f, 0.0f, 0.7f, -0.3f};
  const float mthr = 0.0f;
  const std::int64_t sizes[][2] = {{300, 200}, {259, 1031}, {256, 256}, {1, 5}, {1536, 2048}};
  for (const auto& hw : sizes) {
    const std::int64_t h = hw[0], w = hw[1];
    if (device.is_cpu() && h * w > 1000000) continue;  // the CPU paths have their own tests
    INFO("device " << device << " size " << h << "x" << w);
    const at::Tensor x = device_logits(5, 40 + h, thr);
    const at::Tensor up = upsample_like_reference(x, h, w, UpsampleLayout::kChannelsLast);
    std::vector<at::Tensor> counts;
    for (float t : thr) counts.push_back((up > t).sum({1, 2}, false, at::kLong));
    const UpsampledMaskStats got = upsampled_mask_stats(x, h, w, thr, mthr, UpsampleLayout::kChannelsLast);
    CHECK(got.counts.device() == device);
    CHECK(at::equal(got.counts, at::stack(counts, 1)));
    CHECK(at::equal(got.boxes, batched_mask_to_box(up > mthr)));
  }
  const CropPlacement crops[] = {{0, 0, 300, 200, 300, 200}, {37, 11, 150, 100, 400, 250}, {0, 50, 64, 256, 114, 256}};
  for (const CropPlacement& c : crops) {
    INFO("device " << device << " crop " << c.x0 << "," << c.y0 << " " << c.w << "x" << c.h);
    const at::Tensor x = device_logits(4, 70 + c.w, thr);
    const at::Tensor up = upsample_like_reference(x, c.h, c.w, UpsampleLayout::kChannelsLast);
    const std::vector<Rle> want =
        mask_to_rle_pytorch(uncrop_masks(up > mthr, {c.x0, c.y0, c.x0 + c.w, c.y0 + c.h}, c.orig_h, c.orig_w));
    const std::vector<Rle> got = upsampled_masks_to_rle(x, c, mthr, UpsampleLayout::kChannelsLast);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == want[i]);
  }
  // Which code ran: on CUDA the kernel when this build has it (else the ATen fallback, saying
  // why); on the CPU no CUDA path at all.
  const std::string path = cuda_stats_path();
  INFO("cuda_stats_path: " << path);
  if (device.is_cuda() && cuda_kernel_built()) {
    CHECK(path == "kernel");
    CHECK(take_cuda_stats_warning().empty());
  } else if (device.is_cuda()) {
    CHECK(path == "fallback (built without the CUDA kernel)");
  } else {
    CHECK(path == "unused");
    CHECK(take_cuda_stats_warning().empty());
  }
}
