#include "amg/amg_config.h"

#include <cmath>
#include <sstream>

#include "common/error.h"

namespace sam2amg {

namespace {

[[noreturn]] void invalid(const char* field, const std::string& value, const char* expected) {
  throw UsageError(std::string("invalid ") + field + " = " + value + ": expected " + expected);
}

std::string str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

void check_unit_interval(const char* field, double v) {
  if (!(v >= 0.0 && v <= 1.0)) invalid(field, str(v), "a value in [0, 1]");
}

}  // namespace

void AmgConfig::validate() const {
  // ref: automatic_mask_generator.py:100-103 asserts exactly one of the two is set.
  if (points_per_side.has_value() == !point_grids.empty()) {
    throw UsageError(point_grids.empty()
                         ? "no point grid: set points_per_side or give point_grids"
                         : "points_per_side and point_grids are both set: unset points_per_side "
                           "(points_per_side: null in YAML) to use explicit point_grids");
  }
  // 4096^2 = 16.8 million prompts per image; beyond that the point grid alone would not fit.
  if (points_per_side && (*points_per_side < 1 || *points_per_side > kMaxPointsPerSide))
    invalid("points_per_side", std::to_string(*points_per_side), "an integer in [1, 4096]");
  if (points_per_batch < 1)
    invalid("points_per_batch", std::to_string(points_per_batch), "an integer >= 1");
  // Both scores lie in [0, 1]: a threshold above 1 keeps nothing; <= 0 turns the filter off.
  if (!(pred_iou_thresh <= 1.0) || !std::isfinite(pred_iou_thresh))
    invalid("pred_iou_thresh", str(pred_iou_thresh), "a value in [0, 1] (<= 0 turns the filter off)");
  if (!(stability_score_thresh <= 1.0) || !std::isfinite(stability_score_thresh))
    invalid("stability_score_thresh", str(stability_score_thresh), "a value in [0, 1] (<= 0 turns the filter off)");
  if (!(stability_score_offset >= 0.0) || !std::isfinite(stability_score_offset))
    invalid("stability_score_offset", str(stability_score_offset), "a finite number >= 0");
  if (!std::isfinite(mask_threshold)) invalid("mask_threshold", str(mask_threshold), "a finite number");
  check_unit_interval("box_nms_thresh", box_nms_thresh);
  check_unit_interval("crop_nms_thresh", crop_nms_thresh);
  if (crop_n_layers < 0 || crop_n_layers > 6)
    invalid("crop_n_layers", std::to_string(crop_n_layers), "an integer in [0, 6]");
  if (!(crop_overlap_ratio >= 0.0 && crop_overlap_ratio < 1.0))
    invalid("crop_overlap_ratio", str(crop_overlap_ratio), "a fraction in [0, 1), e.g. 0.3413");
  if (crop_n_points_downscale_factor < 1)
    invalid("crop_n_points_downscale_factor", std::to_string(crop_n_points_downscale_factor),
            "an integer >= 1");
  if (points_per_side) {
    // A layer whose grid truncates to 0 points would silently produce nothing.
    const double last = *points_per_side / std::pow(double(crop_n_points_downscale_factor), crop_n_layers);
    if (static_cast<int>(last) < 1)
      throw UsageError("points_per_side " + std::to_string(*points_per_side) +
                       " leaves no points in crop layer " + std::to_string(crop_n_layers) +
                       " with crop_n_points_downscale_factor " +
                       std::to_string(crop_n_points_downscale_factor) +
                       ": raise points_per_side or lower the factor or crop_n_layers");
  } else {
    if (static_cast<int>(point_grids.size()) < crop_n_layers + 1)
      throw UsageError("point_grids has " + std::to_string(point_grids.size()) +
                       " grid(s) but crop_n_layers " + std::to_string(crop_n_layers) + " needs " +
                       std::to_string(crop_n_layers + 1) + " (one per crop layer)");
    for (size_t g = 0; g < point_grids.size(); ++g) {
      if (point_grids[g].empty())
        throw UsageError("point_grids[" + std::to_string(g) + "] is empty");
      for (const auto& p : point_grids[g])
        if (!(p[0] >= 0.0 && p[0] <= 1.0 && p[1] >= 0.0 && p[1] <= 1.0))
          throw UsageError("point_grids[" + std::to_string(g) + "] has point (" + str(p[0]) + ", " +
                           str(p[1]) + ") outside [0, 1]: grids are normalised coordinates");
    }
  }
  if (!(min_mask_region_area >= 0.0) || !std::isfinite(min_mask_region_area))
    invalid("min_mask_region_area", str(min_mask_region_area), "a number >= 0");
  if (min_area < 0) invalid("min_area", std::to_string(min_area), "a pixel count >= 0 (0 turns it off)");
  if (max_area < 0) invalid("max_area", std::to_string(max_area), "a pixel count >= 0 (0 turns it off)");
  check_unit_interval("min_area_fraction", min_area_fraction);
  check_unit_interval("max_area_fraction", max_area_fraction);
  // Bounds that exclude each other would silently drop every mask.
  if (min_area > 0 && max_area > 0 && min_area > max_area)
    throw UsageError("min_area " + std::to_string(min_area) + " is above max_area " + std::to_string(max_area) +
                     ": no mask could be kept");
  if (min_area_fraction > 0 && max_area_fraction > 0 && min_area_fraction > max_area_fraction)
    throw UsageError("min_area_fraction " + str(min_area_fraction) + " is above max_area_fraction " +
                     str(max_area_fraction) + ": no mask could be kept");
  if (max_masks_per_image < 0)
    invalid("max_masks_per_image", std::to_string(max_masks_per_image), "an integer >= 0 (0 turns it off)");
}

void apply_prompt_choice(AmgConfig& config, bool points_per_side_given, bool point_grids_given,
                         const std::string& where) {
  if (point_grids_given && !points_per_side_given) {
    if (config.point_grids.empty())
      throw UsageError(where + ": point_grids holds no grid: give one grid of [x, y] points per crop layer, or "
                               "leave point_grids out to use points_per_side");
    config.points_per_side.reset();
  }
  if (points_per_side_given && !point_grids_given && config.points_per_side.value_or(0) > 0)
    config.point_grids.clear();
}

}  // namespace sam2amg
