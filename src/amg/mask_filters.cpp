#include "amg/mask_filters.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sam2amg {

namespace {

// Sort key: higher first. NaN (a stability score of an empty mask) is below every number, which
// keeps the comparison a strict weak order.
bool ranks_before(double a, double b) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a > b;
}

double key(const MaskRecord& r, MaskSort order) {
  switch (order) {
    case MaskSort::kPredictedIou:
      return r.predicted_iou;
    case MaskSort::kStabilityScore:
      return r.stability_score;
    case MaskSort::kArea:
      return static_cast<double>(r.area);
    case MaskSort::kReference:
      break;
  }
  return 0.0;
}

template <typename Keep>
void keep_if(std::vector<MaskRecord>& records, Keep keep) {
  records.erase(std::remove_if(records.begin(), records.end(), [&](const MaskRecord& r) { return !keep(r); }),
                records.end());
}

void reorder(std::vector<MaskRecord>& records, const std::vector<std::size_t>& order) {
  std::vector<MaskRecord> out;
  out.reserve(order.size());
  for (std::size_t i : order) out.push_back(std::move(records[i]));
  records = std::move(out);
}

}  // namespace

bool has_mask_filters(const AmgConfig& c) {
  return c.min_area > 0 || c.max_area > 0 || c.min_area_fraction > 0 || c.max_area_fraction > 0 ||
         c.max_masks_per_image > 0 || c.sort_by != MaskSort::kReference;
}

std::vector<std::size_t> mask_order(const std::vector<MaskRecord>& records, MaskSort order) {
  std::vector<std::size_t> idx(records.size());
  std::iota(idx.begin(), idx.end(), std::size_t{0});
  if (order == MaskSort::kReference) return idx;
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return ranks_before(key(records[a], order), key(records[b], order));
  });
  return idx;
}

void apply_mask_filters(std::vector<MaskRecord>& records, const AmgConfig& c, std::int64_t width, std::int64_t height,
                        FilterFunnel* funnel) {
  const double image_area = static_cast<double>(width) * static_cast<double>(height);
  auto fraction = [&](const MaskRecord& r) { return static_cast<double>(r.area) / image_area; };
  FilterFunnel f;
  if (c.min_area > 0 || c.min_area_fraction > 0) {
    keep_if(records, [&](const MaskRecord& r) {
      return r.area >= c.min_area && (c.min_area_fraction <= 0 || fraction(r) >= c.min_area_fraction);
    });
    f.after_min_area = static_cast<std::int64_t>(records.size());
  }
  if (c.max_area > 0 || c.max_area_fraction > 0) {
    keep_if(records, [&](const MaskRecord& r) {
      return (c.max_area <= 0 || r.area <= c.max_area) &&
             (c.max_area_fraction <= 0 || fraction(r) <= c.max_area_fraction);
    });
    f.after_max_area = static_cast<std::int64_t>(records.size());
  }
  if (c.max_masks_per_image > 0) {
    const std::size_t n = static_cast<std::size_t>(c.max_masks_per_image);
    if (records.size() > n) {
      std::vector<std::size_t> top = mask_order(records, c.max_masks_by);
      top.resize(n);
      std::sort(top.begin(), top.end());  // the kept masks keep the order they had
      reorder(records, top);
    }
    f.after_max_masks = static_cast<std::int64_t>(records.size());
  }
  if (c.sort_by != MaskSort::kReference) reorder(records, mask_order(records, c.sort_by));
  if (funnel) {
    funnel->after_min_area = f.after_min_area;
    funnel->after_max_area = f.after_max_area;
    funnel->after_max_masks = f.after_max_masks;
    funnel->final_masks = static_cast<std::int64_t>(records.size());
  }
}

}  // namespace sam2amg
