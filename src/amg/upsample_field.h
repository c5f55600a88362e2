#pragma once
/// The per-pixel arithmetic of the fused CUDA statistics kernel, written once for host and
/// device code (src/amg/cuda/upsampled_stats.cu runs it on the GPU; the unit tests run it on
/// the CPU). No ATen, no CUDA runtime: plain functions on raw float pointers.
///
/// The field is ATen's CUDA upsample_bilinear2d with align_corners=false (ref:
/// ATen/native/cuda/UpSampleBilinear2d.cu upsample_bilinear2d_out_frame, UpSample.cuh
/// area_pixel_compute_scale / area_pixel_compute_source_index):
///   scale = float(in) / float(out)                    (on the host, float32)
///   src   = max(0, scale * (float(d) + 0.5) - 0.5)    (float32)
///   i0 = int(src), i1 = i0 + (i0 < in - 1), l1 = src - float(i0), l0 = 1 - l1
///   v = h0 * (w0 * a + w1 * b) + h1 * (w0 * c + w1 * d)   (float32)
/// and a plain copy when the output size equals the input size. nvcc contracts the products and
/// sums into fused multiply-adds, and which product of a sum it fuses depends on the code
/// around it, so the contraction is a parameter (`Arith`): the probe in upsampled_masks.cpp
/// finds the variant that reproduces the linked LibTorch bit for bit, or falls back to ATen.
///
/// Every rounding is explicit: on the device through the _rn intrinsics (never contracted), on
/// the host through std::fma and plain float operations. Host translation units that evaluate
/// the field must be compiled with -ffp-contract=off (src/CMakeLists.txt, tests/CMakeLists.txt).
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define SAM2AMG_HD __host__ __device__
#else
#define SAM2AMG_HD
#endif

namespace sam2amg::field {

/// How a two-term blend `wa * a + wb * b` is rounded.
enum Blend : std::uint8_t {
  kFuseFirst = 0,   ///< fma(wa, a, wb * b)
  kFuseSecond = 1,  ///< fma(wb, b, wa * a)
  kPlain = 2,       ///< (wa * a) + (wb * b), each rounded
};

/// One rounding of the field's arithmetic: the source index and the two blend levels.
struct Arith {
  bool index_fma = true;      ///< src = fma(d + 0.5, scale, -0.5), else (scale * (d + 0.5)) - 0.5
  Blend inner = kFuseFirst;   ///< the horizontal blends (w0 * a + w1 * b)
  Blend outer = kFuseFirst;   ///< the vertical blend (h0 * top + h1 * bottom)
};

/// The variants the probe tries, most likely first: what nvcc 13.0 -O3 makes of ATen's kernel
/// (checked in its PTX: every sum fuses its first product), then the others.
constexpr int kArithVariants = 18;
SAM2AMG_HD inline Arith arith_variant(int i) {
  const Blend order[3] = {kFuseFirst, kFuseSecond, kPlain};
  Arith a;
  a.index_fma = i < 9;
  a.inner = order[(i % 9) / 3];
  a.outer = order[i % 3];
  return a;
}

SAM2AMG_HD inline float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
SAM2AMG_HD inline float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
SAM2AMG_HD inline float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
SAM2AMG_HD inline float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

SAM2AMG_HD inline float blend(float wa, float a, float wb, float b, Blend mode) {
  if (mode == kFuseFirst) return fma_rn(wa, a, mul_rn(wb, b));
  if (mode == kFuseSecond) return fma_rn(wb, b, mul_rn(wa, a));
  return add_rn(mul_rn(wa, a), mul_rn(wb, b));
}

/// Source taps and weights of one output coordinate along one axis.
struct Tap {
  int i0 = 0, i1 = 0;
  float l0 = 1.f, l1 = 0.f;
};

/// Size of the low-res input, the upsampling target, and the arithmetic.
struct Geometry {
  int in_h = 0, in_w = 0;     ///< low-res logits (rows, columns)
  int out_h = 0, out_w = 0;   ///< target size (the crop)
  float scale_y = 0.f, scale_x = 0.f;  ///< in / out in float32, as ATen computes them on the host
  bool copy = false;          ///< in == out on both axes: ATen copies instead of blending
  Arith arith;
};

/// ref: UpSample.cuh area_pixel_compute_scale (align_corners=false, no scale factor given).
inline Geometry make_geometry(int in_h, int in_w, int out_h, int out_w, Arith arith) {
  Geometry g;
  g.in_h = in_h;
  g.in_w = in_w;
  g.out_h = out_h;
  g.out_w = out_w;
  g.scale_y = static_cast<float>(in_h) / static_cast<float>(out_h);
  g.scale_x = static_cast<float>(in_w) / static_cast<float>(out_w);
  g.copy = in_h == out_h && in_w == out_w;
  g.arith = arith;
  return g;
}

/// ref: UpSample.cuh area_pixel_compute_source_index; UpSampleBilinear2d.cu (h1, h1p, h1lambda).
SAM2AMG_HD inline Tap axis_tap(float scale, int d, int in, bool copy, bool index_fma) {
  Tap t;
  if (copy) {
    t.i0 = t.i1 = d;
    return t;
  }
  const float dh = add_rn(static_cast<float>(d), 0.5f);
  float src = index_fma ? fma_rn(dh, scale, -0.5f) : sub_rn(mul_rn(scale, dh), 0.5f);
  if (src < 0.f) src = 0.f;
  t.i0 = static_cast<int>(src);
  t.i1 = t.i0 + (t.i0 < in - 1 ? 1 : 0);
  t.l1 = sub_rn(src, static_cast<float>(t.i0));
  t.l0 = sub_rn(1.f, t.l1);
  return t;
}
SAM2AMG_HD inline Tap row_tap(const Geometry& g, int y) {
  return axis_tap(g.scale_y, y, g.in_h, g.copy, g.arith.index_fma);
}
SAM2AMG_HD inline Tap col_tap(const Geometry& g, int x) {
  return axis_tap(g.scale_x, x, g.in_w, g.copy, g.arith.index_fma);
}

/// The upsampled value at the output pixel with taps (ty, tx) of one (in_h, in_w) mask.
SAM2AMG_HD inline float field_value(const float* mask, const Geometry& g, const Tap& ty, const Tap& tx) {
  const float* r0 = mask + static_cast<std::int64_t>(ty.i0) * g.in_w;
  if (g.copy) return r0[tx.i0];
  const float* r1 = mask + static_cast<std::int64_t>(ty.i1) * g.in_w;
  const float top = blend(tx.l0, r0[tx.i0], tx.l1, r0[tx.i1], g.arith.inner);
  const float bottom = blend(tx.l0, r1[tx.i0], tx.l1, r1[tx.i1], g.arith.inner);
  return blend(ty.l0, top, ty.l1, bottom, g.arith.outer);
}
SAM2AMG_HD inline float field_at(const float* mask, const Geometry& g, int y, int x) {
  return field_value(mask, g, row_tap(g, y), col_tap(g, x));
}

// ---------------------------------------------------------------------------------------------
// Statistics: counts above thresholds and the box above mask_threshold, tile by tile.

/// Most count thresholds one launch takes (two per stability offset); more run on ATen.
constexpr int kMaxThresholds = 16;

/// The thresholds of one statistics pass (strict `>`, float32 as the reference compares).
struct Thresholds {
  int k = 0;                   ///< number of count thresholds
  float t[kMaxThresholds] = {};
  float mask = 0.f;            ///< mask_threshold: the box is that of pixels above it
  float lo = 0.f, hi = 0.f;    ///< min and max of t[0..k) and mask
};

/// At most kMaxThresholds of `t` are taken (callers check the limit first).
inline Thresholds make_thresholds(const float* t, int k, float mask_threshold) {
  Thresholds th;
  th.k = k < kMaxThresholds ? k : kMaxThresholds;
  k = th.k;
  th.mask = th.lo = th.hi = mask_threshold;
  for (int i = 0; i < k; ++i) {
    th.t[i] = t[i];
    th.lo = t[i] < th.lo ? t[i] : th.lo;
    th.hi = t[i] > th.hi ? t[i] : th.hi;
  }
  return th;
}

/// Output tiles: the unit of block skipping (and one CUDA block each).
constexpr int kTileH = 64, kTileW = 64;

/// A tile's output pixels [y0, y1) x [x0, x1) and the source rectangle its pixels read
/// (rows sy0..sy1, columns sx0..sx1, inclusive). Source taps grow with the output coordinate,
/// so the first pixel's i0 and the last pixel's i1 bound it.
struct Tile {
  int y0 = 0, y1 = 0, x0 = 0, x1 = 0;
  int sy0 = 0, sy1 = 0, sx0 = 0, sx1 = 0;
};

SAM2AMG_HD inline int tiles_x(const Geometry& g) { return (g.out_w + kTileW - 1) / kTileW; }
SAM2AMG_HD inline int tiles_y(const Geometry& g) { return (g.out_h + kTileH - 1) / kTileH; }

SAM2AMG_HD inline Tile make_tile(const Geometry& g, int index) {
  Tile t;
  const int tx = index % tiles_x(g), ty = index / tiles_x(g);
  t.y0 = ty * kTileH;
  t.x0 = tx * kTileW;
  t.y1 = t.y0 + kTileH < g.out_h ? t.y0 + kTileH : g.out_h;
  t.x1 = t.x0 + kTileW < g.out_w ? t.x0 + kTileW : g.out_w;
  t.sy0 = row_tap(g, t.y0).i0;
  t.sy1 = row_tap(g, t.y1 - 1).i1;
  t.sx0 = col_tap(g, t.x0).i0;
  t.sx1 = col_tap(g, t.x1 - 1).i1;
  return t;
}

/// Range of source values, NaN-aware: a NaN makes the range (-inf, inf), so the tile is evaluated.
struct Range {
  float lo = INFINITY, hi = -INFINITY;
  SAM2AMG_HD void add(float v) {
    if (!(v == v)) {
      lo = -INFINITY;
      hi = INFINITY;
      return;
    }
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  SAM2AMG_HD void merge(const Range& o) {
    lo = o.lo < lo ? o.lo : lo;
    hi = o.hi > hi ? o.hi : hi;
  }
};

/// Worker `w` of `n_workers` scans its share of the tile's source rectangle.
SAM2AMG_HD inline Range tile_source_range(const float* mask, const Geometry& g, const Tile& t, int w, int n_workers) {
  Range r;
  const int cols = t.sx1 - t.sx0 + 1, n = (t.sy1 - t.sy0 + 1) * cols;
  for (int i = w; i < n; i += n_workers)
    r.add(mask[static_cast<std::int64_t>(t.sy0 + i / cols) * g.in_w + t.sx0 + i % cols]);
  return r;
}

/// What a tile needs, from the range of the source values it blends.
enum TileKind : int {
  kTileEvaluate = 0,  ///< some pixel may lie on either side of some threshold
  kTileNone = 1,      ///< every pixel is at or below every threshold
  kTileAll = 2,       ///< every pixel is above every threshold
};

/// A blend of two-tap blends stays within [lo, hi] up to a few float32 roundings (weights sum
/// to 1 within 2^-24); the margin is far larger than that.
SAM2AMG_HD inline float skip_margin(float t, float v) {
  return 1e-5f * (1.f + (t < 0.f ? -t : t) + (v < 0.f ? -v : v));
}
SAM2AMG_HD inline TileKind tile_kind(const Range& r, const Thresholds& th) {
  if (r.hi < th.lo - skip_margin(th.lo, r.hi)) return kTileNone;
  // hi finite: a zero weight on an infinite value blends to NaN, which is above nothing.
  if (r.lo > th.hi + skip_margin(th.hi, r.lo) && r.hi < INFINITY) return kTileAll;
  return kTileEvaluate;
}

/// One worker's share of a tile's counts and box (crop frame, inclusive; empty: right < left).
struct TileStats {
  std::uint32_t counts[kMaxThresholds] = {};
  int left = 0x7fffffff, top = 0x7fffffff, right = -1, bottom = -1;
  SAM2AMG_HD void include(int y, int x) {
    left = x < left ? x : left;
    right = x > right ? x : right;
    top = y < top ? y : top;
    bottom = y > bottom ? y : bottom;
  }
};

/// A whole tile above every threshold.
SAM2AMG_HD inline void tile_all_stats(const Tile& t, const Thresholds& th, TileStats& s) {
  const auto area = static_cast<std::uint32_t>((t.y1 - t.y0) * (t.x1 - t.x0));
  // Constant indices (unrolled, guarded) keep the counters in registers on the device.
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
  for (int k = 0; k < kMaxThresholds; ++k)
    if (k < th.k) s.counts[k] += area;
  s.include(t.y0, t.x0);
  s.include(t.y1 - 1, t.x1 - 1);
}

/// Worker `w` of `n_workers` evaluates pixels w, w + n_workers, ... of the tile (row-major).
SAM2AMG_HD inline void tile_pixel_stats(const float* mask, const Geometry& g, const Thresholds& th, const Tile& t,
                                        int w, int n_workers, TileStats& s) {
  const int tw = t.x1 - t.x0, n = (t.y1 - t.y0) * tw;
  for (int i = w; i < n; i += n_workers) {
    const int y = t.y0 + i / tw, x = t.x0 + i % tw;
    const float v = field_at(mask, g, y, x);
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int k = 0; k < kMaxThresholds; ++k)
      if (k < th.k) s.counts[k] += v > th.t[k] ? 1u : 0u;
    if (v > th.mask) s.include(y, x);
  }
}

// ---------------------------------------------------------------------------------------------
// RLE: the mask binarised at mask_threshold, zero-padded into the image, read column-major
// (index x * H + y, COCO order). A run starts wherever a pixel differs from the one before it
// (the pixel before the first is 0), so each crop column has h + 1 "slots": slot cy < h is the
// crop pixel (cy, cx), slot h the pixel right after the crop's part of the column.

/// Where the crop sits in the image.
struct Frame {
  int x0 = 0, y0 = 0;   ///< crop origin in the image
  int h = 0, w = 0;     ///< crop size (= Geometry out_h, out_w)
  int H = 0, W = 0;     ///< image size
};

SAM2AMG_HD inline bool pixel_on(const float* mask, const Geometry& g, float mask_threshold, int cy, int cx) {
  return field_at(mask, g, cy, cx) > mask_threshold;
}

/// Whether the pixel before slot 0 of crop column cx is on: only when the crop spans the
/// image's height is it a crop pixel (the last one of the previous column).
SAM2AMG_HD inline bool on_before_column(const float* mask, const Geometry& g, const Frame& f, float mask_threshold,
                                        int cx) {
  return f.h == f.H && cx > 0 && pixel_on(mask, g, mask_threshold, f.h - 1, cx - 1);
}

/// Image position of slot `cy` of crop column `cx`.
SAM2AMG_HD inline std::uint32_t slot_position(const Frame& f, int cx, int cy) {
  return static_cast<std::uint32_t>(f.x0 + cx) * static_cast<std::uint32_t>(f.H) + static_cast<std::uint32_t>(f.y0 + cy);
}

/// Visits the run starts among slots [s0, s1) of crop column cx, in order, calling
/// `emit(position)`; returns how many there were. Each slot's pixel is evaluated once.
template <class Emit>
SAM2AMG_HD inline int column_transitions(const float* mask, const Geometry& g, const Frame& f, float mask_threshold,
                                         int cx, int s0, int s1, Emit&& emit) {
  if (s0 >= s1) return 0;
  bool prev = s0 == 0 ? on_before_column(mask, g, f, mask_threshold, cx)
                      : pixel_on(mask, g, mask_threshold, s0 - 1, cx);
  int n = 0;
  const Tap tx = col_tap(g, cx);
  for (int cy = s0; cy < s1; ++cy) {
    bool on = false;
    if (cy < f.h) {
      on = field_value(mask, g, row_tap(g, cy), tx) > mask_threshold;
    } else {
      // Slot h is off (padding), unless it lies past the image's end, or is the next crop
      // column's first pixel (a full-height crop), which that column's slot 0 compares.
      const bool next_in_crop = f.h == f.H && cx < f.w - 1;
      const bool past_end = static_cast<std::uint64_t>(slot_position(f, cx, cy)) >=
                            static_cast<std::uint64_t>(f.H) * static_cast<std::uint64_t>(f.W);
      if (next_in_crop || past_end) break;
    }
    if (on != prev) {
      emit(slot_position(f, cx, cy));
      ++n;
    }
    prev = on;
  }
  return n;
}

}  // namespace sam2amg::field
