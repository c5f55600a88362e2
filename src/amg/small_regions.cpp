#include "amg/small_regions.h"

#include <ATen/Parallel.h>

#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "amg/host_reads.h"

namespace sam2amg {

namespace {

// Union-find with path halving over provisional labels.
int32_t find_root(std::vector<int32_t>& parent, int32_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

// Two-pass 8-connected labelling of one h*w mask (nonzero = foreground). Writes final labels
// 1..K in raster order of each component's first pixel and returns the K+1 areas (index 0 unused).
std::vector<int64_t> label_components(const uint8_t* fg, int64_t h, int64_t w, int32_t* labels) {
  std::vector<int32_t> parent{0};
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      labels[i] = 0;
      if (!fg[i]) continue;
      // Already-visited 8-neighbours: W, NW, N, NE.
      int32_t best = 0;
      const int64_t nb[4][2] = {{y, x - 1}, {y - 1, x - 1}, {y - 1, x}, {y - 1, x + 1}};
      for (const auto& q : nb) {
        if (q[0] < 0 || q[1] < 0 || q[1] >= w) continue;
        const int32_t l = labels[q[0] * w + q[1]];
        if (l == 0) continue;
        if (best == 0) {
          best = l;
          continue;
        }
        const int32_t ra = find_root(parent, best), rb = find_root(parent, l);
        if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
      }
      if (best == 0) {
        best = static_cast<int32_t>(parent.size());
        parent.push_back(best);
      }
      labels[i] = best;
    }
  }
  // Roots are always the smallest provisional label of a component, i.e. the first in raster
  // order, so numbering roots in increasing order gives raster-order final labels.
  std::vector<int32_t> final_label(parent.size(), 0);
  int32_t next = 0;
  for (size_t l = 1; l < parent.size(); ++l) {
    const int32_t r = find_root(parent, static_cast<int32_t>(l));
    if (r == static_cast<int32_t>(l)) final_label[l] = ++next;
  }
  for (size_t l = 1; l < parent.size(); ++l) final_label[l] = final_label[find_root(parent, static_cast<int32_t>(l))];
  std::vector<int64_t> areas(next + 1, 0);
  for (int64_t i = 0; i < h * w; ++i) {
    if (labels[i] == 0) continue;
    labels[i] = final_label[labels[i]];
    ++areas[labels[i]];
  }
  return areas;
}

}  // namespace

std::pair<at::Tensor, at::Tensor> get_connected_components(const at::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 4 && mask.size(1) == 1, "get_connected_components: mask must be (N, 1, H, W), got ",
              mask.sizes());
  const int64_t n = mask.size(0), h = mask.size(2), w = mask.size(3);
  const at::Tensor fg = mask.to(at::kCPU).to(at::kByte).contiguous();
  at::Tensor labels = at::empty(mask.sizes(), at::kInt);
  at::Tensor areas = at::empty(mask.sizes(), at::kInt);
  const uint8_t* f = fg.data_ptr<uint8_t>();
  int32_t* lab = labels.data_ptr<int32_t>();
  int32_t* area = areas.data_ptr<int32_t>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      const int64_t off = k * h * w;
      const std::vector<int64_t> a = label_components(f + off, h, w, lab + off);
      for (int64_t i = 0; i < h * w; ++i) area[off + i] = lab[off + i] ? static_cast<int32_t>(a[lab[off + i]]) : 0;
    }
  });
  return {labels.to(mask.device()), areas.to(mask.device())};
}

at::Tensor fill_holes_and_sprinkles(const at::Tensor& masks, double max_hole_area,
                                    double max_sprinkle_area) {
  TORCH_CHECK(masks.dim() == 4, "fill_holes_and_sprinkles: masks must be (B, C, h, w), got ", masks.sizes());
  if (max_hole_area <= 0 && max_sprinkle_area <= 0) return masks;
  const at::Tensor logits = masks.to(at::kFloat);
  const int64_t n = logits.size(0) * logits.size(1), h = logits.size(2), w = logits.size(3);
  // Both halves are decided from the input logits, so one host copy of the signs serves both.
  const at::Tensor fg = read_to_host(logits > 0).to(at::kByte).contiguous().reshape({n, h * w});
  at::Tensor action = at::zeros({n, h * w}, at::kChar);  // +1 fill hole, -1 remove sprinkle
  const uint8_t* f = fg.data_ptr<uint8_t>();
  int8_t* act = action.data_ptr<int8_t>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    std::vector<int32_t> labels(h * w);
    std::vector<uint8_t> bg(h * w);
    for (int64_t k = begin; k < end; ++k) {
      const uint8_t* fk = f + k * h * w;
      int8_t* ak = act + k * h * w;
      if (max_hole_area > 0) {
        for (int64_t i = 0; i < h * w; ++i) bg[i] = !fk[i];
        const std::vector<int64_t> areas = label_components(bg.data(), h, w, labels.data());
        for (int64_t i = 0; i < h * w; ++i)
          if (labels[i] && double(areas[labels[i]]) <= max_hole_area) ak[i] = 1;
      }
      if (max_sprinkle_area > 0) {
        const std::vector<int64_t> areas = label_components(fk, h, w, labels.data());
        for (int64_t i = 0; i < h * w; ++i)
          if (labels[i] && double(areas[labels[i]]) <= max_sprinkle_area) ak[i] = -1;
      }
    }
  });
  const at::Tensor a = upload(action.reshape(logits.sizes()), logits.device());
  at::Tensor out = at::where(a > 0, at::scalar_tensor(10.0, logits.options()), logits);
  return at::where(a < 0, at::scalar_tensor(-10.0, logits.options()), out);
}

std::pair<at::Tensor, bool> remove_small_regions(const at::Tensor& mask, double area_thresh,
                                                 const std::string& mode) {
  TORCH_CHECK(mode == "holes" || mode == "islands", "remove_small_regions: mode must be holes or islands, got ", mode);
  TORCH_CHECK(mask.dim() == 2, "remove_small_regions: mask must be (H, W), got ", mask.sizes());
  const bool correct_holes = mode == "holes";
  const int64_t h = mask.size(0), w = mask.size(1);
  const at::Tensor m = mask.to(at::kCPU).to(at::kBool).contiguous();
  const at::Tensor working = (correct_holes ? m.logical_not() : m).to(at::kByte).contiguous();
  std::vector<int32_t> labels(h * w);
  const std::vector<int64_t> sizes = label_components(working.data_ptr<uint8_t>(), h, w, labels.data());
  const int64_t n_labels = static_cast<int64_t>(sizes.size());  // including background 0
  std::vector<char> small(n_labels, 0);
  bool any_small = false;
  for (int64_t l = 1; l < n_labels; ++l) {
    small[l] = double(sizes[l]) < area_thresh;
    any_small = any_small || small[l];
  }
  if (!any_small) return {mask, false};

  // fill[l]: pixels with label l are foreground in the result.
  std::vector<char> fill(n_labels, 0);
  if (correct_holes) {
    fill[0] = 1;  // label 0 of the inverted mask is the original foreground
    for (int64_t l = 1; l < n_labels; ++l) fill[l] = small[l];
  } else {
    bool any = false;
    for (int64_t l = 1; l < n_labels; ++l) {
      fill[l] = !small[l];
      any = any || fill[l];
    }
    if (!any) {  // every island is small: keep the largest (first on ties, like np.argmax)
      int64_t best = 1;
      for (int64_t l = 2; l < n_labels; ++l)
        if (sizes[l] > sizes[best]) best = l;
      fill[best] = 1;
    }
  }
  at::Tensor out = at::empty({h, w}, at::kBool);
  bool* o = out.data_ptr<bool>();
  for (int64_t i = 0; i < h * w; ++i) o[i] = fill[labels[i]] != 0;
  return {out.to(mask.device()), true};
}

}  // namespace sam2amg
