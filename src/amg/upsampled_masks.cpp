#include "amg/upsampled_masks.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include "amg/crop_boxes.h"
#include "amg/mask_ops.h"
#include "amg/rle_tensor.h"
#ifdef SAM2AMG_CUDA_KERNEL
#include "amg/upsampled_masks_cuda.h"
#endif

// This file is compiled with -ffp-contract=off (src/CMakeLists.txt): every fused multiply-add
// below is written out, so the arithmetic is the one we chose, whatever the compiler flags.

namespace sam2amg {

namespace {

// Source indices and weights of one axis.
// ref: ATen/native/UpSample.h (LibTorch 1.13) area_pixel_compute_scale and
// compute_source_index_and_lambda: the scale in float32, the source index in double (the CPU
// accumulate type), lambda1 rounded to float32 and lambda0 = 1 - lambda1 in float32.
struct Axis {
  std::vector<std::int32_t> i0, i1;
  std::vector<float> l0, l1;
};

Axis linear_axis(std::int64_t in, std::int64_t out) {
  Axis a;
  a.i0.resize(out);
  a.i1.resize(out);
  a.l0.resize(out);
  a.l1.resize(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    if (in == out) {
      a.i0[o] = a.i1[o] = static_cast<std::int32_t>(o);
      a.l0[o] = 1.f;
      a.l1[o] = 0.f;
      continue;
    }
    double src = static_cast<double>(scale) * (static_cast<double>(o) + 0.5) - 0.5;
    if (src < 0) src = 0;
    const auto i0 = static_cast<std::int64_t>(src);
    a.i0[o] = static_cast<std::int32_t>(i0);
    a.i1[o] = static_cast<std::int32_t>(i0 + (i0 < in - 1 ? 1 : 0));
    a.l1[o] = static_cast<float>(src - static_cast<double>(i0));
    a.l0[o] = 1.f - a.l1[o];
  }
  return a;
}

// The two spellings of ATen's generic kernel: out = t0*wy0 + t1*wy1 with t = a*wx0 + b*wx1,
// and the same with each sum contracted into one fused multiply-add (what an FMA build of
// LibTorch computes). Which one this LibTorch uses is found by fused_cpu_kernel_matches.
enum class Arith { kFma, kPlain };

// Horizontal pass for one source row: t[x] = a*wx0 + b*wx1 (or fma(a, wx0, b*wx1)).
// Output columns [x0, x0 + w) of source row `src`, into t[0..w).
__attribute__((target_clones("arch=haswell", "default"))) void interp_row(const float* src, const Axis& ax,
                                                                         std::int64_t x0, std::int64_t w, Arith arith,
                                                                         float* t) {
  const std::int32_t* i0 = ax.i0.data() + x0;
  const std::int32_t* i1 = ax.i1.data() + x0;
  const float* l0 = ax.l0.data() + x0;
  const float* l1 = ax.l1.data() + x0;
  if (arith == Arith::kFma) {
    for (std::int64_t x = 0; x < w; ++x) t[x] = std::fma(src[i0[x]], l0[x], src[i1[x]] * l1[x]);
  } else {
    for (std::int64_t x = 0; x < w; ++x) t[x] = src[i0[x]] * l0[x] + src[i1[x]] * l1[x];
  }
}

// Vertical pass for one output row: v[x] = t0[x]*wy0 + t1[x]*wy1 (or fma(t0, wy0, t1*wy1)).
__attribute__((target_clones("arch=haswell", "default"))) void combine_rows(const float* t0, const float* t1, float wy0,
                                                                           float wy1, std::int64_t w, Arith arith,
                                                                           float* v) {
  if (arith == Arith::kFma) {
    for (std::int64_t x = 0; x < w; ++x) v[x] = std::fma(t0[x], wy0, t1[x] * wy1);
  } else {
    for (std::int64_t x = 0; x < w; ++x) v[x] = t0[x] * wy0 + t1[x] * wy1;
  }
}

__attribute__((target_clones("arch=haswell", "default"))) std::int64_t count_above(const float* v, std::int64_t w,
                                                                                  float t) {
  std::int64_t n = 0;
  for (std::int64_t x = 0; x < w; ++x) n += v[x] > t;
  return n;
}

// Per-thread scratch for one mask: the horizontally interpolated source rows and one output
// row (or block).
struct Scratch {
  std::vector<float> rows;  // s x w
  std::vector<char> used;   // source rows some output row reads
  std::vector<float> out;
};

// A value is certainly not above `t` when every value it is blended from is below `t` by more
// than the rounding of a two-tap blend can make up (weights sum to 1 within 2^-23).
bool certainly_not_above(float hi, float t) {
  return static_cast<double>(hi) < static_cast<double>(t) - 1e-5 * (1.0 + std::fabs(t) + std::fabs(hi));
}
bool certainly_above(float lo, float t) {
  return static_cast<double>(lo) > static_cast<double>(t) + 1e-5 * (1.0 + std::fabs(t) + std::fabs(lo));
}

// The horizontal pass of every source row that some output row reads.
void interp_source_rows(const float* mask, std::int64_t s, const Axis& ay, const Axis& ax, std::int64_t h,
                        std::int64_t w, Arith arith, Scratch& sc) {
  sc.rows.resize(s * w);
  sc.used.assign(s, 0);
  for (std::int64_t y = 0; y < h; ++y) sc.used[ay.i0[y]] = sc.used[ay.i1[y]] = 1;
  for (std::int64_t j = 0; j < s; ++j) {
    if (!sc.used[j]) continue;
    float* t = sc.rows.data() + j * w;
    interp_row(mask + j * s, ax, 0, w, arith, t);
  }
}

// Output columns are processed in blocks; a block whose source values all lie on one side of
// every threshold is counted without evaluating its pixels.
constexpr std::int64_t kBlock = 64;

// Per-mask block bounds: for source row j and output column block b, the range of the source
// values the block blends (lo/hi), and whether the block's horizontal pass is computed.
struct BlockBounds {
  std::int64_t n_blocks = 0;
  std::vector<float> lo, hi;  // s x n_blocks
  std::vector<char> done;     // s x n_blocks
};

void block_bounds(const float* mask, std::int64_t s, const Axis& ax, std::int64_t w, BlockBounds& bb) {
  bb.n_blocks = (w + kBlock - 1) / kBlock;
  bb.lo.resize(s * bb.n_blocks);
  bb.hi.resize(s * bb.n_blocks);
  bb.done.assign(s * bb.n_blocks, 0);
  for (std::int64_t b = 0; b < bb.n_blocks; ++b) {
    const std::int64_t x0 = b * kBlock, x1 = std::min(w, x0 + kBlock) - 1;
    // Source indices grow with x, so the block reads source columns [i0(x0), i1(x1)].
    const std::int32_t c0 = std::min(ax.i0[x0], ax.i1[x0]), c1 = std::max(ax.i0[x1], ax.i1[x1]);
    for (std::int64_t j = 0; j < s; ++j) {
      const float* row = mask + j * s;
      const auto [lo, hi] = std::minmax_element(row + c0, row + c1 + 1);
      bb.lo[j * bb.n_blocks + b] = *lo;
      bb.hi[j * bb.n_blocks + b] = *hi;
    }
  }
}

// One mask's counts and box with the fused kernel. `thr` holds the K count thresholds.
void fused_mask_stats(const float* mask, std::int64_t s, const Axis& ay, const Axis& ax, std::int64_t h,
                      std::int64_t w, const std::vector<float>& thr, float mask_threshold, Arith arith, Scratch& sc,
                      BlockBounds& bb, std::int64_t* counts, std::int64_t* box) {
  block_bounds(mask, s, ax, w, bb);
  sc.rows.resize(s * w);
  sc.out.resize(kBlock);
  const size_t k_count = thr.size();
  float t_min = mask_threshold, t_max = mask_threshold;
  for (float t : thr) {
    t_min = std::min(t_min, t);
    t_max = std::max(t_max, t);
  }
  // The horizontal pass of source row j over block b, computed on first use.
  auto source_block = [&](std::int32_t j, std::int64_t b) {
    float* t = sc.rows.data() + j * w + b * kBlock;
    char& done = bb.done[j * bb.n_blocks + b];
    if (!done) {
      const std::int64_t x0 = b * kBlock, n = std::min(w, x0 + kBlock) - x0;
      interp_row(mask + j * s, ax, x0, n, arith, t);
      done = 1;
    }
    return t;
  };
  for (size_t k = 0; k < k_count; ++k) counts[k] = 0;
  std::int64_t left = w, right = -1, top = h, bottom = -1;
  for (std::int64_t y = 0; y < h; ++y) {
    const std::int32_t j0 = ay.i0[y], j1 = ay.i1[y];
    bool row_fg = false;
    for (std::int64_t b = 0; b < bb.n_blocks; ++b) {
      const std::int64_t x0 = b * kBlock, n = std::min(w, x0 + kBlock) - x0;
      const float lo = std::min(bb.lo[j0 * bb.n_blocks + b], bb.lo[j1 * bb.n_blocks + b]);
      const float hi = std::max(bb.hi[j0 * bb.n_blocks + b], bb.hi[j1 * bb.n_blocks + b]);
      if (certainly_not_above(hi, t_min)) continue;  // nothing above any threshold here
      if (certainly_above(lo, t_max)) {               // everything above every threshold
        for (size_t k = 0; k < k_count; ++k) counts[k] += n;
        left = std::min(left, x0);
        right = std::max(right, x0 + n - 1);
        row_fg = true;
        continue;
      }
      float* v = sc.out.data();
      combine_rows(source_block(j0, b), source_block(j1, b), ay.l0[y], ay.l1[y], n, arith, v);
      for (size_t k = 0; k < k_count; ++k) counts[k] += count_above(v, n, thr[k]);
      std::int64_t first = 0;
      while (first < n && !(v[first] > mask_threshold)) ++first;
      if (first == n) continue;
      std::int64_t last = n - 1;
      while (!(v[last] > mask_threshold)) --last;
      left = std::min(left, x0 + first);
      right = std::max(right, x0 + last);
      row_fg = true;
    }
    if (row_fg) {
      top = std::min(top, y);
      bottom = y;
    }
  }
  if (right < 0) {
    box[0] = box[1] = box[2] = box[3] = 0;
  } else {
    box[0] = left;
    box[1] = top;
    box[2] = right;
    box[3] = bottom;
  }
}

// Appends a run of `len` pixels of value `value` to an RLE under construction.
struct RunWriter {
  Rle& rle;
  bool value = false;
  std::uint64_t run = 0;
  void push(bool v, std::uint64_t len) {
    if (len == 0) return;
    if (v != value) {
      rle.counts.push_back(static_cast<std::uint32_t>(run));
      value = v;
      run = 0;
    }
    run += len;
  }
  void finish() { rle.counts.push_back(static_cast<std::uint32_t>(run)); }
};

// One mask's full-image RLE with the fused kernel: column-major, crop padded with zeros.
void fused_mask_rle(const float* mask, std::int64_t s, const Axis& ay, const Axis& ax, const CropPlacement& crop,
                    float mask_threshold, Arith arith, Scratch& sc, Rle& rle) {
  const std::int64_t h = crop.h, w = crop.w;
  interp_source_rows(mask, s, ay, ax, h, w, arith, sc);
  // Column-major access: transpose the interpolated rows once (w x s), then each output column
  // reads one contiguous block.
  std::vector<float> cols(static_cast<size_t>(w) * s);
  for (std::int64_t j = 0; j < s; ++j) {
    if (!sc.used[j]) continue;
    const float* t = sc.rows.data() + j * w;
    for (std::int64_t x = 0; x < w; ++x) cols[x * s + j] = t[x];
  }
  rle = Rle{static_cast<int>(crop.orig_h), static_cast<int>(crop.orig_w), {}};
  RunWriter out{rle};
  const auto H = static_cast<std::uint64_t>(crop.orig_h);
  out.push(false, H * crop.x0);
  for (std::int64_t x = 0; x < w; ++x) {
    out.push(false, crop.y0);
    const float* c = cols.data() + x * s;
    for (std::int64_t y = 0; y < h; ++y) {
      const float t0 = c[ay.i0[y]], t1 = c[ay.i1[y]];
      const float v = arith == Arith::kFma ? std::fma(t0, ay.l0[y], t1 * ay.l1[y]) : t0 * ay.l0[y] + t1 * ay.l1[y];
      out.push(v > mask_threshold, 1);
    }
    out.push(false, crop.orig_h - crop.y0 - h);
  }
  out.push(false, H * (crop.orig_w - crop.x0 - w));
  out.finish();
}

// Which arithmetic reproduces ATen's generic kernel, found once on a probe.
struct Calibration {
  bool matches = false;
  Arith arith = Arith::kFma;
};

Calibration calibrate_generic() {
  // Values spread like logits (a fixed probe, independent of the caller's random state),
  // upsampled and downsampled along each axis.
  const at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(20241215);
  const at::Tensor probe = at::randn({3, 256, 256}, gen, at::TensorOptions().dtype(at::kFloat)) * 20.0;
  const std::int64_t sizes[][2] = {{300, 200}, {259, 1031}, {150, 256}};
  for (Arith arith : {Arith::kFma, Arith::kPlain}) {
    bool all = true;
    for (const auto& hw : sizes) {
      const std::int64_t h = hw[0], w = hw[1];
      const at::Tensor ref = upsample_like_reference(probe, h, w, UpsampleLayout::kGeneric).contiguous();
      const Axis ay = linear_axis(256, h), ax = linear_axis(256, w);
      Scratch sc;
      sc.out.resize(w);
      for (std::int64_t m = 0; m < 3 && all; ++m) {
        interp_source_rows(probe.data_ptr<float>() + m * 256 * 256, 256, ay, ax, h, w, arith, sc);
        const float* r = ref.data_ptr<float>() + m * h * w;
        for (std::int64_t y = 0; y < h && all; ++y) {
          combine_rows(sc.rows.data() + ay.i0[y] * w, sc.rows.data() + ay.i1[y] * w, ay.l0[y], ay.l1[y], w, arith,
                       sc.out.data());
          all = std::equal(sc.out.begin(), sc.out.end(), r + y * w, [](float a, float b) {
            return std::memcmp(&a, &b, sizeof(float)) == 0;
          });
        }
      }
    }
    if (all) return {true, arith};
  }
  return {};
}

const Calibration& generic_calibration() {
  static const Calibration c = [] {
    c10::InferenceMode guard;
    return calibrate_generic();
  }();
  return c;
}

bool use_fused(const at::Tensor& low_res, UpsampleLayout layout) {
  return low_res.device().is_cpu() && layout == UpsampleLayout::kGeneric && generic_calibration().matches;
}

// What ran on CUDA tensors (cuda_stats_path) and the one warning for the user.
struct CudaPathLog {
  std::mutex mutex;
  bool kernel = false;
  std::string fallback;  // the first reason, empty when none
  std::string warning;
  bool warned = false;
};
CudaPathLog& cuda_path_log() {
  static CudaPathLog log;
  return log;
}
void note_cuda_path(bool kernel, const std::string& why, bool warn) {
  CudaPathLog& log = cuda_path_log();
  const std::lock_guard<std::mutex> lock(log.mutex);
  if (kernel) log.kernel = true;
  if (!kernel && log.fallback.empty()) log.fallback = why;
  if (warn && !log.warned) {
    log.warning = "the fused CUDA statistics kernel is not used (" + why +
                  "); post-processing runs ATen's upsampling in chunks instead, with the same results, more slowly";
    log.warned = true;
  }
}

// Whether the fused CUDA kernel takes these CUDA tensors (its probe runs on the first call).
bool use_cuda_kernel(const at::Tensor& low_res, const std::vector<float>& thresholds, float mask_threshold,
                     std::int64_t orig_h, std::int64_t orig_w) {
  if (!low_res.is_cuda()) return false;
#ifdef SAM2AMG_CUDA_KERNEL
  const cuda_kernel::Verdict& v = cuda_kernel::verdict(low_res.device(), thresholds, mask_threshold);
  if (!v.ok) {
    note_cuda_path(false, "its probe: " + v.detail, /*warn=*/true);
    return false;
  }
  if (!cuda_kernel::takes(static_cast<std::int64_t>(thresholds.size()), orig_h, orig_w)) {
    note_cuda_path(false, "more thresholds or pixels than the kernel takes", /*warn=*/false);
    return false;
  }
  note_cuda_path(true, "", false);
  return true;
#else
  note_cuda_path(false, "built without the CUDA kernel", /*warn=*/false);
  return false;
#endif
}

std::int64_t chunk_rows(std::int64_t bytes_per_mask, std::int64_t chunk_bytes) {
  return std::max<std::int64_t>(1, chunk_bytes / std::max<std::int64_t>(1, bytes_per_mask));
}

void check_low_res(const at::Tensor& low_res, const char* fn) {
  TORCH_CHECK(low_res.dim() == 3 && low_res.size(1) == low_res.size(2), fn, ": low_res must be (N, s, s), got ",
              low_res.sizes());
  TORCH_CHECK(low_res.scalar_type() == at::kFloat, fn, ": low_res must be float32, got ", low_res.scalar_type());
}

}  // namespace

std::string cuda_stats_path() {
  CudaPathLog& log = cuda_path_log();
  const std::lock_guard<std::mutex> lock(log.mutex);
  if (log.fallback.empty()) return log.kernel ? "kernel" : "unused";
  return (log.kernel ? "kernel and fallback (" : "fallback (") + log.fallback + ")";
}

bool cuda_kernel_built() {
#ifdef SAM2AMG_CUDA_KERNEL
  return true;
#else
  return false;
#endif
}

std::string take_cuda_stats_warning() {
  CudaPathLog& log = cuda_path_log();
  const std::lock_guard<std::mutex> lock(log.mutex);
  return std::exchange(log.warning, std::string());
}

bool fused_cpu_kernel_matches(UpsampleLayout layout) {
  return layout == UpsampleLayout::kGeneric && generic_calibration().matches;
}

at::Tensor upsample_like_reference(const at::Tensor& low_res, std::int64_t h, std::int64_t w, UpsampleLayout layout) {
  check_low_res(low_res, "upsample_like_reference");
  const std::int64_t n = low_res.size(0);
  if (n == 0) return at::empty({0, h, w}, low_res.options());
  if (layout == UpsampleLayout::kChannelsLast || !low_res.device().is_cpu())
    return at::upsample_bilinear2d(low_res.unsqueeze(1), {h, w}, /*align_corners=*/false).squeeze(1);
  // The generic CPU kernel runs for a (1, C > 1) block; a single mask is blended alongside a copy.
  if (n == 1)
    return at::upsample_bilinear2d(low_res.repeat({2, 1, 1}).unsqueeze(0), {h, w}, false).squeeze(0).slice(0, 0, 1);
  return at::upsample_bilinear2d(low_res.unsqueeze(0), {h, w}, /*align_corners=*/false).squeeze(0);
}

UpsampledMaskStats upsampled_mask_stats(const at::Tensor& low_res_in, std::int64_t h, std::int64_t w,
                                        const std::vector<float>& thresholds, float mask_threshold,
                                        UpsampleLayout layout, std::int64_t chunk_bytes) {
  check_low_res(low_res_in, "upsampled_mask_stats");
  const std::int64_t n = low_res_in.size(0), s = low_res_in.size(1);
  const auto k_count = static_cast<std::int64_t>(thresholds.size());
  const auto long_opts = at::TensorOptions().dtype(at::kLong).device(low_res_in.device());
  UpsampledMaskStats out;
  if (n == 0) return {at::zeros({0, k_count}, long_opts), at::zeros({0, 4}, long_opts)};
  if (use_cuda_kernel(low_res_in, thresholds, mask_threshold, h, w)) {
#ifdef SAM2AMG_CUDA_KERNEL
    return cuda_kernel::stats(low_res_in, h, w, thresholds, mask_threshold);
#endif
  }

  if (use_fused(low_res_in, layout)) {
    const at::Tensor low_res = low_res_in.contiguous();
    out.counts = at::empty({n, k_count}, at::kLong);
    out.boxes = at::empty({n, 4}, at::kLong);
    const Axis ay = linear_axis(s, h), ax = linear_axis(s, w);
    const Arith arith = generic_calibration().arith;
    const float* masks = low_res.data_ptr<float>();
    std::int64_t* counts = out.counts.data_ptr<std::int64_t>();
    std::int64_t* boxes = out.boxes.data_ptr<std::int64_t>();
    at::parallel_for(0, n, 1, [&](std::int64_t begin, std::int64_t end) {
      Scratch sc;
      BlockBounds bb;
      for (std::int64_t i = begin; i < end; ++i)
        fused_mask_stats(masks + i * s * s, s, ay, ax, h, w, thresholds, mask_threshold, arith, sc, bb,
                         counts + i * k_count, boxes + i * 4);
    });
    return out;
  }

  // ATen's own upsampling, a bounded number of masks at a time.
  const std::int64_t step = chunk_rows(h * w * 4, chunk_bytes);
  std::vector<at::Tensor> counts, boxes;
  for (std::int64_t b0 = 0; b0 < n; b0 += step) {
    const at::Tensor up = upsample_like_reference(low_res_in.slice(0, b0, std::min(n, b0 + step)), h, w, layout);
    std::vector<at::Tensor> per_thr;
    for (float t : thresholds) per_thr.push_back((up > t).sum({1, 2}, false, at::kLong));
    counts.push_back(k_count ? at::stack(per_thr, 1) : at::zeros({up.size(0), 0}, long_opts));
    boxes.push_back(batched_mask_to_box(up > mask_threshold));
  }
  return {at::cat(counts, 0), at::cat(boxes, 0)};
}

std::vector<Rle> upsampled_masks_to_rle(const at::Tensor& low_res_in, const CropPlacement& crop, float mask_threshold,
                                        UpsampleLayout layout, std::int64_t chunk_bytes) {
  check_low_res(low_res_in, "upsampled_masks_to_rle");
  const std::int64_t n = low_res_in.size(0), s = low_res_in.size(1);
  std::vector<Rle> rles(n);
  if (n == 0) return rles;
  if (use_cuda_kernel(low_res_in, {}, mask_threshold, crop.orig_h, crop.orig_w)) {
#ifdef SAM2AMG_CUDA_KERNEL
    return cuda_kernel::rles(low_res_in, crop, mask_threshold);
#endif
  }
  if (use_fused(low_res_in, layout)) {
    const at::Tensor low_res = low_res_in.contiguous();
    const Axis ay = linear_axis(s, crop.h), ax = linear_axis(s, crop.w);
    const Arith arith = generic_calibration().arith;
    const float* masks = low_res.data_ptr<float>();
    at::parallel_for(0, n, 1, [&](std::int64_t begin, std::int64_t end) {
      Scratch sc;
      for (std::int64_t i = begin; i < end; ++i)
        fused_mask_rle(masks + i * s * s, s, ay, ax, crop, mask_threshold, arith, sc, rles[i]);
    });
    return rles;
  }
  const std::int64_t step = chunk_rows(crop.orig_h * crop.orig_w + crop.h * crop.w * 4, chunk_bytes);
  const CropBoxXyxy box{crop.x0, crop.y0, crop.x0 + crop.w, crop.y0 + crop.h};
  for (std::int64_t b0 = 0; b0 < n; b0 += step) {
    const std::int64_t b1 = std::min(n, b0 + step);
    const at::Tensor up = upsample_like_reference(low_res_in.slice(0, b0, b1), crop.h, crop.w, layout);
    std::vector<Rle> part = mask_to_rle_pytorch(uncrop_masks(up > mask_threshold, box, crop.orig_h, crop.orig_w));
    std::move(part.begin(), part.end(), rles.begin() + b0);
  }
  return rles;
}

}  // namespace sam2amg
