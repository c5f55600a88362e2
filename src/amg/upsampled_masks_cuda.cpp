#include "amg/upsampled_masks_cuda.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <mutex>

#include "amg/crop_boxes.h"
#include "amg/cuda/upsampled_stats.h"
#include "amg/host_reads.h"
#include "amg/mask_ops.h"
#include "amg/rle_tensor.h"
#include "amg/upsample_field.h"

namespace sam2amg::cuda_kernel {

namespace {

void check(int code, const char* what) {
  TORCH_CHECK(code == 0, "fused CUDA statistics kernel: ", what, ": ", cuda::error_string(code));
}

void* stream_of(const at::Tensor& t) { return c10::cuda::getCurrentCUDAStream(t.device().index()).stream(); }

// The arithmetic variant the probe chose.
field::Arith g_arith;

UpsampledMaskStats run_stats(const at::Tensor& low_res_in, std::int64_t h, std::int64_t w,
                             const std::vector<float>& thresholds, float mask_threshold, const field::Arith& arith) {
  const c10::cuda::CUDAGuard guard(low_res_in.device());
  const at::Tensor x = low_res_in.contiguous();
  const std::int64_t n = x.size(0), s = x.size(1), k = static_cast<std::int64_t>(thresholds.size());
  const auto opts = x.options();
  UpsampledMaskStats out{at::empty({n, k}, opts.dtype(at::kLong)), at::empty({n, 4}, opts.dtype(at::kLong))};
  const at::Tensor box_work = at::empty({n, 4}, opts.dtype(at::kInt));
  const field::Geometry g = field::make_geometry(static_cast<int>(s), static_cast<int>(s), static_cast<int>(h),
                                                 static_cast<int>(w), arith);
  const field::Thresholds th = field::make_thresholds(thresholds.data(), static_cast<int>(k), mask_threshold);
  check(cuda::launch_stats(x.data_ptr<float>(), static_cast<int>(n), g, th, out.counts.data_ptr<std::int64_t>(),
                           box_work.data_ptr<std::int32_t>(), out.boxes.data_ptr<std::int64_t>(), stream_of(x)),
        "statistics launch");
  return out;
}

std::vector<Rle> run_rles(const at::Tensor& low_res_in, const CropPlacement& crop, float mask_threshold,
                          const field::Arith& arith) {
  const c10::cuda::CUDAGuard guard(low_res_in.device());
  const at::Tensor x = low_res_in.contiguous();
  const std::int64_t n = x.size(0), s = x.size(1), w = crop.w;
  std::vector<Rle> out(n);
  if (n == 0) return out;
  const field::Geometry g = field::make_geometry(static_cast<int>(s), static_cast<int>(s), static_cast<int>(crop.h),
                                                 static_cast<int>(crop.w), arith);
  field::Frame f;
  f.x0 = static_cast<int>(crop.x0);
  f.y0 = static_cast<int>(crop.y0);
  f.h = static_cast<int>(crop.h);
  f.w = static_cast<int>(crop.w);
  f.H = static_cast<int>(crop.orig_h);
  f.W = static_cast<int>(crop.orig_w);
  void* stream = stream_of(x);
  const auto opts = x.options();

  // Pass 1: run starts per column; their offsets in the flat output, on the device.
  const at::Tensor column_counts = at::empty({n, w}, opts.dtype(at::kInt));
  check(cuda::launch_rle_count(x.data_ptr<float>(), static_cast<int>(n), g, f, mask_threshold,
                               column_counts.data_ptr<std::int32_t>(), stream),
        "RLE count launch");
  const at::Tensor flat = column_counts.flatten().to(at::kLong);
  const at::Tensor inclusive = at::cumsum(flat, 0);
  // Mask m's entries follow the m end markers of the masks before it.
  const at::Tensor column_first =
      (inclusive - flat + at::arange(n, opts.dtype(at::kLong)).repeat_interleave(w)).contiguous();
  const at::Tensor mask_first =
      at::cat({column_first.view({n, w}).select(1, 0), inclusive.slice(0, n * w - 1) + n}).contiguous();
  // The one read before the runs: how many run starts each mask has, to size the output.
  const at::Tensor per_mask = read_to_host(column_counts.sum(1, false, at::kLong));
  const std::int64_t* starts = per_mask.data_ptr<std::int64_t>();
  std::int64_t total = n;
  for (std::int64_t m = 0; m < n; ++m) total += starts[m];

  // Pass 2: the runs themselves.
  const at::Tensor positions = at::empty({total}, opts.dtype(at::kInt));
  const at::Tensor runs = at::empty({total}, opts.dtype(at::kInt));
  check(cuda::launch_rle_write(x.data_ptr<float>(), static_cast<int>(n), g, f, mask_threshold,
                               column_first.data_ptr<std::int64_t>(), mask_first.data_ptr<std::int64_t>(),
                               reinterpret_cast<std::uint32_t*>(positions.data_ptr<std::int32_t>()),
                               reinterpret_cast<std::uint32_t*>(runs.data_ptr<std::int32_t>()), stream),
        "RLE write launch");
  const at::Tensor host = read_to_host(runs);
  const auto* r = reinterpret_cast<const std::uint32_t*>(host.data_ptr<std::int32_t>());
  std::int64_t at_entry = 0;
  for (std::int64_t m = 0; m < n; ++m) {
    const std::int64_t len = starts[m] + 1;
    out[m] = Rle{f.H, f.W, std::vector<std::uint32_t>(r + at_entry, r + at_entry + len)};
    at_entry += len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The probe. It runs once per process, inside the first CUDA image's loop and on its thread, so
// its reads land in that image's count: run_rles's and mask_to_rle_pytorch's are counted (as
// they are for every image), the at::equal comparisons wait uncounted. A one-off, on the first
// image only.

// Logits spread like a model's (smooth blobs and noise; a fixed seed, independent of the
// caller's random state), with 2x2 patches and single cells at, and one ulp either side of,
// each threshold, and masks that exercise the skipped tiles: empty, full, half and half.
at::Tensor probe_logits(const std::vector<float>& thr) {
  const at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20261201);
  const auto opts = at::TensorOptions().dtype(at::kFloat);
  const std::int64_t n = 7, s = 256;
  at::Tensor coarse = at::randn({n, 1, 16, 16}, gen, opts) * 12.0;
  at::Tensor x = at::upsample_bilinear2d(coarse, {s, s}, false).squeeze(1).contiguous();
  x += at::randn({n, s, s}, gen, opts) * 0.5;
  const at::Tensor pick = at::randint(0, 4 * s * s, {6000}, gen, at::TensorOptions().dtype(at::kLong));
  float* p = x.data_ptr<float>();
  const std::int64_t* idx = pick.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < pick.numel(); ++i) {
    const float t = thr[i % thr.size()];
    const int side = static_cast<int>(i / thr.size()) % 3;
    const float v = side == 0 ? t : std::nextafter(t, side == 1 ? -INFINITY : INFINITY);
    const std::int64_t at = idx[i], row = (at / s) % s, col = at % s;
    p[at] = v;
    if (i % 2 == 0 && row + 1 < s && col + 1 < s) p[at + 1] = p[at + s] = p[at + s + 1] = v;
  }
  x[4].fill_(-5.0);
  x[5].fill_(7.0);
  x[6].slice(1, 0, s / 2).fill_(9.0);
  x[6].slice(1, s / 2, s).fill_(-9.0);
  return x;
}

bool bits_equal(const at::Tensor& a, const at::Tensor& b) {
  return a.sizes() == b.sizes() && at::equal(a.contiguous().view(at::kInt), b.contiguous().view(at::kInt));
}

const char* blend_name(field::Blend b) {
  return b == field::kFuseFirst ? "first product fused" : b == field::kFuseSecond ? "second product fused" : "unfused";
}

Verdict run_probe(const at::Device& device, const std::vector<float>& caller_thr, float mask_threshold) {
  c10::InferenceMode inference;
  std::vector<float> thr = caller_thr;
  thr.resize(std::min(thr.size(), static_cast<size_t>(field::kMaxThresholds)));
  for (float t : {mask_threshold, 0.f, 1.f, -1.f})
    if (thr.size() < static_cast<size_t>(field::kMaxThresholds)) thr.push_back(t);
  const at::Tensor x = probe_logits(thr).to(device);
  const std::int64_t sizes[][2] = {{300, 200}, {259, 1031}, {150, 256}, {256, 256}, {1, 5}, {1536, 2048}};

  // The arithmetic: the first variant whose field equals ATen's at every size.
  std::vector<at::Tensor> reference;
  for (const auto& hw : sizes)
    reference.push_back(at::upsample_bilinear2d(x.unsqueeze(1), {hw[0], hw[1]}, false).squeeze(1));
  int variant = -1;
  for (int v = 0; v < field::kArithVariants && variant < 0; ++v) {
    bool all = true;
    for (size_t i = 0; i < reference.size() && all; ++i) {
      const std::int64_t h = sizes[i][0], w = sizes[i][1];
      const at::Tensor field_out = at::empty({x.size(0), h, w}, x.options());
      const field::Geometry g = field::make_geometry(256, 256, static_cast<int>(h), static_cast<int>(w),
                                                     field::arith_variant(v));
      check(cuda::launch_field(x.data_ptr<float>(), static_cast<int>(x.size(0)), g, field_out.data_ptr<float>(),
                               stream_of(x)),
            "probe field launch");
      all = bits_equal(field_out, reference[i]);
    }
    if (all) variant = v;
  }
  if (variant < 0)
    return {false, "no arithmetic variant of the kernel reproduces this LibTorch's CUDA upsample_bilinear2d"};
  const field::Arith arith = field::arith_variant(variant);

  // The statistics and the runs against ATen's upsample + threshold.
  for (size_t i = 0; i < reference.size(); ++i) {
    const at::Tensor& up = reference[i];
    const UpsampledMaskStats got = run_stats(x, sizes[i][0], sizes[i][1], thr, mask_threshold, arith);
    std::vector<at::Tensor> counts;
    for (float t : thr) counts.push_back((up > t).sum({1, 2}, false, at::kLong));
    if (!at::equal(got.counts, at::stack(counts, 1)) || !at::equal(got.boxes, batched_mask_to_box(up > mask_threshold)))
      return {false, "the kernel's counts or boxes differ from ATen's at " + std::to_string(sizes[i][0]) + "x" +
                         std::to_string(sizes[i][1])};
  }
  const CropPlacement crops[] = {{0, 0, 300, 200, 300, 200},
                                 {37, 11, 150, 100, 400, 250},
                                 {0, 50, 64, 256, 114, 256},
                                 {5, 0, 1, 7, 1, 12},
                                 {100, 0, 259, 300, 259, 500}};
  for (const CropPlacement& c : crops) {
    const at::Tensor up = at::upsample_bilinear2d(x.unsqueeze(1), {c.h, c.w}, false).squeeze(1);
    const std::vector<Rle> want =
        mask_to_rle_pytorch(uncrop_masks(up > mask_threshold, {c.x0, c.y0, c.x0 + c.w, c.y0 + c.h}, c.orig_h, c.orig_w));
    if (run_rles(x, c, mask_threshold, arith) != want)
      return {false, "the kernel's RLE differs from ATen's for a " + std::to_string(c.w) + "x" + std::to_string(c.h) +
                         " crop"};
  }
  g_arith = arith;
  return {true, std::string("arithmetic: source index ") + (arith.index_fma ? "fused" : "unfused") +
                    ", horizontal blends " + blend_name(arith.inner) + ", vertical blend " + blend_name(arith.outer)};
}

}  // namespace

const Verdict& verdict(const at::Device& device, const std::vector<float>& thresholds, float mask_threshold) {
  static std::once_flag once;
  static Verdict v;
  std::call_once(once, [&] {
    try {
      v = run_probe(device, thresholds, mask_threshold);
    } catch (const std::exception& e) {
      const std::string what = e.what();
      v = {false, "the probe failed: " + what.substr(0, what.find('\n'))};
    }
  });
  return v;
}

bool takes(std::int64_t n_thresholds, std::int64_t orig_h, std::int64_t orig_w) {
  return n_thresholds <= field::kMaxThresholds &&
         orig_h * orig_w <= static_cast<std::int64_t>(std::numeric_limits<std::uint32_t>::max());
}

UpsampledMaskStats stats(const at::Tensor& low_res, std::int64_t h, std::int64_t w, const std::vector<float>& thresholds,
                         float mask_threshold) {
  return run_stats(low_res, h, w, thresholds, mask_threshold, g_arith);
}

std::vector<Rle> rles(const at::Tensor& low_res, const CropPlacement& crop, float mask_threshold) {
  return run_rles(low_res, crop, mask_threshold, g_arith);
}

}  // namespace sam2amg::cuda_kernel
