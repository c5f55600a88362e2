// The fused statistics kernels: counts, boxes and RLE of upsampled masks, evaluated on the fly
// from the low-res logits (the full-resolution field is never written, except by the probe's
// launch_field). The arithmetic is amg/upsample_field.h; this file only maps it onto blocks.
#include "amg/cuda/upsampled_stats.h"

#include <cuda_runtime.h>

#include <climits>

namespace sam2amg::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGridY = 65535;

// One warp's reduction by `op` (every lane ends with the result).
template <class T, class Op>
__device__ T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
struct Min {
  __device__ float operator()(float a, float b) const { return fminf(a, b); }
  __device__ int operator()(int a, int b) const { return min(a, b); }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
  __device__ int operator()(int a, int b) const { return max(a, b); }
};
struct Sum {
  __device__ unsigned operator()(unsigned a, unsigned b) const { return a + b; }
};

// Exclusive prefix sum over the block (kThreads threads); `total` gets the sum.
__device__ int block_exclusive_scan(int v, int& total) {
  __shared__ int warp_totals[kWarps];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  int inc = v;
  for (int o = 1; o < 32; o <<= 1) {
    const int u = __shfl_up_sync(0xffffffffu, inc, o);
    if (lane >= o) inc += u;
  }
  if (lane == 31) warp_totals[warp] = inc;
  __syncthreads();
  int before = 0, sum = 0;
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before += warp_totals[w];
    sum += warp_totals[w];
  }
  total = sum;
  return before + inc - v;
}

__global__ void field_kernel(const float* low_res, int n, field::Geometry g, float* out) {
  const std::int64_t plane = static_cast<std::int64_t>(g.out_h) * g.out_w, total = plane * n;
  const std::int64_t in_plane = static_cast<std::int64_t>(g.in_h) * g.in_w;
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x) {
    const std::int64_t m = i / plane, p = i % plane;
    out[i] = field::field_at(low_res + m * in_plane, g, static_cast<int>(p / g.out_w), static_cast<int>(p % g.out_w));
  }
}

__global__ void init_boxes_kernel(int n, std::int32_t* box_work) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n * 4) box_work[i] = (i % 4) < 2 ? INT_MAX : -1;
}

__global__ void finish_boxes_kernel(int n, const std::int32_t* box_work, std::int64_t* boxes) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n * 4) return;
  const bool empty = box_work[(i / 4) * 4 + 2] < 0;
  boxes[i] = empty ? 0 : box_work[i];
}

// One block per (tile, mask): skip the tile when its source values lie on one side of every
// threshold, else evaluate its pixels and add the block's counts and box with atomics.
__global__ void stats_kernel(const float* low_res, int mask_base, field::Geometry g, field::Thresholds th,
                             unsigned long long* counts, int* box_work) {
  __shared__ float s_lo[kWarps], s_hi[kWarps];
  __shared__ int s_kind;
  __shared__ unsigned s_counts[field::kMaxThresholds];
  __shared__ int s_box[4];
  const int m = mask_base + blockIdx.y;
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const float* mask = low_res + static_cast<std::int64_t>(m) * g.in_h * g.in_w;
  const field::Tile t = field::make_tile(g, blockIdx.x);

  field::Range r = field::tile_source_range(mask, g, t, threadIdx.x, blockDim.x);
  r.lo = warp_reduce(r.lo, Min{});
  r.hi = warp_reduce(r.hi, Max{});
  if (lane == 0) {
    s_lo[warp] = r.lo;
    s_hi[warp] = r.hi;
  }
  if (threadIdx.x < field::kMaxThresholds) s_counts[threadIdx.x] = 0;
  if (threadIdx.x == 0) {
    s_box[0] = s_box[1] = INT_MAX;
    s_box[2] = s_box[3] = -1;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    field::Range all;
    for (int w = 0; w < kWarps; ++w) all.merge(field::Range{s_lo[w], s_hi[w]});
    s_kind = field::tile_kind(all, th);
  }
  __syncthreads();
  const int kind = s_kind;
  if (kind == field::kTileNone) return;

  field::TileStats s;
  if (kind == field::kTileAll) {
    if (threadIdx.x == 0) field::tile_all_stats(t, th, s);
  } else {
    field::tile_pixel_stats(mask, g, th, t, threadIdx.x, blockDim.x, s);
  }
#pragma unroll
  for (int k = 0; k < field::kMaxThresholds; ++k) {
    if (k >= th.k) break;
    const unsigned c = warp_reduce(s.counts[k], Sum{});
    if (lane == 0 && c) atomicAdd(&s_counts[k], c);
  }
  const int left = warp_reduce(s.left, Min{}), top = warp_reduce(s.top, Min{});
  const int right = warp_reduce(s.right, Max{}), bottom = warp_reduce(s.bottom, Max{});
  if (lane == 0 && right >= 0) {
    atomicMin(&s_box[0], left);
    atomicMin(&s_box[1], top);
    atomicMax(&s_box[2], right);
    atomicMax(&s_box[3], bottom);
  }
  __syncthreads();
  if (threadIdx.x < th.k && s_counts[threadIdx.x])
    atomicAdd(&counts[static_cast<std::int64_t>(m) * th.k + threadIdx.x], static_cast<unsigned long long>(s_counts[threadIdx.x]));
  if (threadIdx.x == 0 && s_box[2] >= 0) {
    int* b = box_work + static_cast<std::int64_t>(m) * 4;
    atomicMin(&b[0], s_box[0]);
    atomicMin(&b[1], s_box[1]);
    atomicMax(&b[2], s_box[2]);
    atomicMax(&b[3], s_box[3]);
  }
}

// The slots [s0, s1) of a column that this thread walks: contiguous segments, in order.
__device__ void thread_slots(const field::Frame& f, int& s0, int& s1) {
  const int slots = f.h + 1, per = (slots + kThreads - 1) / kThreads;
  s0 = min(slots, static_cast<int>(threadIdx.x) * per);
  s1 = min(slots, s0 + per);
}

struct NoEmit {
  __device__ void operator()(std::uint32_t) const {}
};

// One block per (crop column, mask).
__global__ void rle_count_kernel(const float* low_res, int mask_base, field::Geometry g, field::Frame f,
                                 float mask_threshold, std::int32_t* column_counts) {
  const int m = mask_base + blockIdx.y, cx = blockIdx.x;
  const float* mask = low_res + static_cast<std::int64_t>(m) * g.in_h * g.in_w;
  int s0, s1;
  thread_slots(f, s0, s1);
  const int c = field::column_transitions(mask, g, f, mask_threshold, cx, s0, s1, NoEmit{});
  int total = 0;
  block_exclusive_scan(c, total);
  if (threadIdx.x == 0) column_counts[static_cast<std::int64_t>(m) * f.w + cx] = total;
}

struct StoreEmit {
  std::uint32_t* out;
  __device__ void operator()(std::uint32_t pos) { *out++ = pos; }
};

__global__ void rle_write_kernel(const float* low_res, int mask_base, field::Geometry g, field::Frame f,
                                 float mask_threshold, const std::int64_t* column_first, const std::int64_t* mask_first,
                                 std::uint32_t* positions) {
  const int m = mask_base + blockIdx.y, cx = blockIdx.x;
  const float* mask = low_res + static_cast<std::int64_t>(m) * g.in_h * g.in_w;
  int s0, s1;
  thread_slots(f, s0, s1);
  const int c = field::column_transitions(mask, g, f, mask_threshold, cx, s0, s1, NoEmit{});
  int total = 0;
  const int before = block_exclusive_scan(c, total);
  StoreEmit emit{positions + column_first[static_cast<std::int64_t>(m) * f.w + cx] + before};
  field::column_transitions(mask, g, f, mask_threshold, cx, s0, s1, emit);
  // The mask's last entry: the end of the image, so that its last run gets a length.
  if (cx == f.w - 1 && threadIdx.x == 0)
    positions[mask_first[m + 1] - 1] = static_cast<std::uint32_t>(f.H) * static_cast<std::uint32_t>(f.W);
}

// COCO counts from run starts: counts[0] = start[0] (the leading zeros, possibly none), then
// the distances between successive starts.
__global__ void rle_runs_kernel(int mask_base, const std::int64_t* mask_first, const std::uint32_t* positions,
                                std::uint32_t* runs) {
  const int m = mask_base + blockIdx.x;
  const std::int64_t first = mask_first[m], end = mask_first[m + 1];
  for (std::int64_t i = first + threadIdx.x; i < end; i += blockDim.x)
    runs[i] = positions[i] - (i == first ? 0u : positions[i - 1]);
}

int blocks_for(std::int64_t items) {
  const std::int64_t b = (items + kThreads - 1) / kThreads;
  return static_cast<int>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

}  // namespace

int launch_field(const float* low_res, int n, const field::Geometry& g, float* out, void* stream) {
  if (n <= 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  field_kernel<<<blocks_for(static_cast<std::int64_t>(n) * g.out_h * g.out_w), kThreads, 0, s>>>(low_res, n, g, out);
  return static_cast<int>(cudaGetLastError());
}

int launch_stats(const float* low_res, int n, const field::Geometry& g, const field::Thresholds& th,
                 std::int64_t* counts, std::int32_t* box_work, std::int64_t* boxes, void* stream) {
  if (n <= 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  if (th.k > 0) {
    const cudaError_t e = cudaMemsetAsync(counts, 0, sizeof(std::int64_t) * n * th.k, s);
    if (e != cudaSuccess) return static_cast<int>(e);
  }
  init_boxes_kernel<<<blocks_for(std::int64_t{4} * n), kThreads, 0, s>>>(n, box_work);
  const int n_tiles = field::tiles_x(g) * field::tiles_y(g);
  for (int base = 0; base < n; base += kMaxGridY) {
    const int rows = n - base < kMaxGridY ? n - base : kMaxGridY;
    stats_kernel<<<dim3(n_tiles, rows), kThreads, 0, s>>>(low_res, base, g, th,
                                                          reinterpret_cast<unsigned long long*>(counts), box_work);
  }
  finish_boxes_kernel<<<blocks_for(std::int64_t{4} * n), kThreads, 0, s>>>(n, box_work, boxes);
  return static_cast<int>(cudaGetLastError());
}

int launch_rle_count(const float* low_res, int n, const field::Geometry& g, const field::Frame& f,
                     float mask_threshold, std::int32_t* column_counts, void* stream) {
  if (n <= 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  for (int base = 0; base < n; base += kMaxGridY) {
    const int rows = n - base < kMaxGridY ? n - base : kMaxGridY;
    rle_count_kernel<<<dim3(f.w, rows), kThreads, 0, s>>>(low_res, base, g, f, mask_threshold, column_counts);
  }
  return static_cast<int>(cudaGetLastError());
}

int launch_rle_write(const float* low_res, int n, const field::Geometry& g, const field::Frame& f,
                     float mask_threshold, const std::int64_t* column_first, const std::int64_t* mask_first,
                     std::uint32_t* positions, std::uint32_t* runs, void* stream) {
  if (n <= 0) return 0;
  const auto s = static_cast<cudaStream_t>(stream);
  for (int base = 0; base < n; base += kMaxGridY) {
    const int rows = n - base < kMaxGridY ? n - base : kMaxGridY;
    rle_write_kernel<<<dim3(f.w, rows), kThreads, 0, s>>>(low_res, base, g, f, mask_threshold, column_first,
                                                          mask_first, positions);
  }
  for (int base = 0; base < n; base += kMaxGridY) {
    const int rows = n - base < kMaxGridY ? n - base : kMaxGridY;
    rle_runs_kernel<<<rows, kThreads, 0, s>>>(base, mask_first, positions, runs);
  }
  return static_cast<int>(cudaGetLastError());
}

const char* error_string(int code) { return cudaGetErrorString(static_cast<cudaError_t>(code)); }

}  // namespace sam2amg::cuda
