#pragma once
/// AmgConfig: the one parameter struct of the generator. Field names, defaults and meaning are
/// those of SAM2AutomaticMaskGenerator.__init__ (ref: sam2/automatic_mask_generator.py:36-150 @
/// 2b90b9f). The CLI, the config loader and the tests all fill this struct.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/enum_names.h"

namespace sam2amg {

/// One point grid: normalised (x, y) pairs in [0, 1], in the order they are prompted.
using PointGrid = std::vector<std::array<double, 2>>;

/// How `min_mask_region_area` acts. ref: sam2/automatic_mask_generator.py __init__ (its predictor
/// gets max_hole_area = max_sprinkle_area = min_mask_region_area) and SAM 1
/// postprocess_small_regions.
enum class SmallRegionMode {
  /// SAM 2: holes/sprinkles of area <= A filled on the 256x256 logits before upsampling (the
  /// reference does this only with its CUDA extension; we do it on every device).
  kSam2LowRes,
  /// SAM 1: holes/islands of area < A removed from the full-resolution masks after cross-crop
  /// NMS, then NMS again (ref: segment_anything/automatic_mask_generator.py:323-372).
  kSam1FullRes,
};

constexpr EnumNames<SmallRegionMode, 2> enum_names(SmallRegionMode) {
  return {"min_mask_region_mode", {{{SmallRegionMode::kSam2LowRes, "sam2"}, {SmallRegionMode::kSam1FullRes, "sam1"}}}};
}

/// The segmentation format of the records. ref: automatic_mask_generator.py output_mode.
enum class OutputMode {
  kBinaryMask,       ///< "binary_mask": one boolean array per mask (PNG files in --out-dir)
  kUncompressedRle,  ///< "uncompressed_rle": COCO RLE with the run lengths as a list
  kCocoRle,          ///< "coco_rle": COCO RLE with pycocotools' compressed counts string
};

constexpr EnumNames<OutputMode, 3> enum_names(OutputMode) {
  return {"output_mode",
          {{{OutputMode::kBinaryMask, "binary_mask"}, {OutputMode::kUncompressedRle, "uncompressed_rle"},
            {OutputMode::kCocoRle, "coco_rle"}}}};
}

/// Extension (an I/O option, not a reference parameter): how the generator post-processes the
/// candidates. Both give the same records (tested); they differ in cost.
enum class Postprocess {
  /// Filters and NMS on statistics of the upsampled logits, evaluated on the fly; only the
  /// surviving masks are upsampled again, straight into RLE. Memory does not grow with the
  /// image size or points_per_batch.
  kFused,
  /// The reference's design: every candidate upsampled to the crop size in float32, filtered,
  /// binarised and RLE-encoded per batch, before NMS (ref: automatic_mask_generator.py:294-384).
  kReference,
};

constexpr EnumNames<Postprocess, 2> enum_names(Postprocess) {
  return {"postprocess", {{{Postprocess::kFused, "fused"}, {Postprocess::kReference, "reference"}}}};
}

/// Extension: an order of the output masks, for max_masks_per_image and sort_by. Every order is
/// descending (best or largest first) and stable: equal values keep the reference's order.
enum class MaskSort {
  kReference,       ///< the reference's own order (per-crop NMS keep order, then cross-crop NMS)
  kPredictedIou,    ///< predicted_iou, highest first
  kStabilityScore,  ///< stability_score, highest first
  kArea,            ///< area in pixels, largest first
};

constexpr EnumNames<MaskSort, 4> enum_names(MaskSort) {
  return {"mask_sort",
          {{{MaskSort::kReference, "reference"},
            {MaskSort::kPredictedIou, "predicted_iou"},
            {MaskSort::kStabilityScore, "stability_score"},
            {MaskSort::kArea, "area"}}}};
}

/// The largest points_per_side validate() accepts (4096^2 prompts per image).
inline constexpr int kMaxPointsPerSide = 4096;

struct AmgConfig {
  /// Grid size per side for crop layer 0; nullopt when `point_grids` is given. Must be >= 1.
  std::optional<int> points_per_side = 32;
  /// Points sent to the decoder at once; also the m2m sub-batch. Does not change the result.
  int points_per_batch = 64;
  /// Keep masks whose predicted IoU is strictly greater. Skipped when <= 0.
  double pred_iou_thresh = 0.8;
  /// Keep masks whose stability score is >= this. Skipped when <= 0.
  double stability_score_thresh = 0.95;
  /// Logit offset around mask_threshold used by the stability score.
  double stability_score_offset = 1.0;
  /// Logit cutoff for binarising masks and the stability score (not the hole fill, which is 0).
  double mask_threshold = 0.0;
  /// Box IoU above which a lower-scored mask of the same crop is suppressed. In [0, 1].
  double box_nms_thresh = 0.7;
  /// Number of crop layers; layer i has 4^i crops. 0 = whole image only.
  int crop_n_layers = 0;
  /// Box IoU above which masks from different crops are deduplicated. In [0, 1].
  double crop_nms_thresh = 0.7;
  /// Overlap between neighbouring crops as a fraction of the image's short side (layer 1).
  double crop_overlap_ratio = 512.0 / 1500.0;
  /// Points per side in layer i are points_per_side / factor^i (truncated).
  int crop_n_points_downscale_factor = 1;
  /// Explicit grids, one per crop layer (at least crop_n_layers + 1); needs points_per_side unset.
  std::vector<PointGrid> point_grids;
  /// Holes and islands of at most this area (low-res pixels for kSam2LowRes) are removed. 0 = off.
  double min_mask_region_area = 0.0;
  /// binary_mask, uncompressed_rle or coco_rle: the segmentation format of the records.
  OutputMode output_mode = OutputMode::kBinaryMask;
  /// Re-run each candidate once with its own low-res mask as mask prompt (mask-to-mask refine).
  bool use_m2m = false;
  /// Three masks per point (tokens 1..3) when true; one (token 0 or dynamic fallback) when false.
  bool multimask_output = true;

  /// Extension (not a reference parameter): which small-region removal min_mask_region_area uses.
  SmallRegionMode min_mask_region_mode = SmallRegionMode::kSam2LowRes;

  // Extensions (not reference parameters): filters on the final masks, applied after every step
  // of the reference (src/amg/mask_filters.h). Their defaults change nothing.
  /// Keep masks of at least this many pixels. 0 = off.
  std::int64_t min_area = 0;
  /// Keep masks of at most this many pixels. 0 = off.
  std::int64_t max_area = 0;
  /// Keep masks with area / (width x height) >= this. 0 = off.
  double min_area_fraction = 0.0;
  /// Keep masks with area / (width x height) <= this. 0 = off.
  double max_area_fraction = 0.0;
  /// Keep at most this many masks per image, the first ones in max_masks_by order. 0 = off.
  int max_masks_per_image = 0;
  /// The order max_masks_per_image ranks by.
  MaskSort max_masks_by = MaskSort::kPredictedIou;
  /// The order of the output masks.
  MaskSort sort_by = MaskSort::kReference;

  /// Throws UsageError naming the first invalid field, its value and the accepted range.
  void validate() const;
};

/// The one rule for the two ways to give the prompts, points_per_side and point_grids (the
/// reference takes exactly one; validate() checks it): a layer of settings (a YAML file, then the
/// command line) that gives one of them alone replaces the other. point_grids alone unsets
/// points_per_side; points_per_side alone (a count >= 1) clears point_grids. Given together, both
/// are kept as given (a printed config has both, one of them empty). A grid list with no grid,
/// given alone, cannot be meant: UsageError naming `where` (the file and line, or the flag).
void apply_prompt_choice(AmgConfig& config, bool points_per_side_given, bool point_grids_given,
                         const std::string& where);

/// Calls v(name, member pointer, help) for every AmgConfig field, in the reference's parameter
/// order, with the Python parameter names. The CLI, the config loader and --print-config all walk
/// this one list, so a parameter cannot be forgotten by one of them.
template <typename V>
void for_each_amg_param(V&& v) {
  v("points_per_side", &AmgConfig::points_per_side,
    "Prompt grid of n x n points per image (layer 0). Higher: more, smaller masks; cost grows with n^2. "
    "null with point_grids");
  v("points_per_batch", &AmgConfig::points_per_batch,
    "Prompts per decoder call. Never changes the masks; higher is faster until memory runs out");
  v("pred_iou_thresh", &AmgConfig::pred_iou_thresh,
    "Keep masks whose model-predicted IoU is > this, in [0, 1]; <= 0 turns it off. Lower: more masks");
  v("stability_score_thresh", &AmgConfig::stability_score_thresh,
    "Keep masks whose stability score (IoU of the mask cut at mask_threshold +- offset) is >= this, in [0, 1]; "
    "<= 0 turns it off. Lower: more masks");
  v("stability_score_offset", &AmgConfig::stability_score_offset,
    "Logit shift for the stability score (logits span about +-20). Lower: scores nearer 1, more masks");
  v("mask_threshold", &AmgConfig::mask_threshold,
    "Logit cutoff that makes a pixel part of a mask (0 = probability 0.5). Lower: larger masks; "
    "also moves the stability score");
  v("box_nms_thresh", &AmgConfig::box_nms_thresh,
    "Within a crop, drop a mask whose box overlaps a better one by IoU > this. Higher: more (duplicate) masks");
  v("crop_n_layers", &AmgConfig::crop_n_layers,
    "Also run on 4^i zoomed crops per layer i. Higher: more small masks; cost x(1 + 4 + 16...)");
  v("crop_nms_thresh", &AmgConfig::crop_nms_thresh,
    "Between crops, drop a mask whose box overlaps one from a smaller crop by IoU > this. Higher: more masks");
  v("crop_overlap_ratio", &AmgConfig::crop_overlap_ratio,
    "Overlap of neighbouring crops, as a fraction of the short side (512/1500); only with crop layers");
  v("crop_n_points_downscale_factor", &AmgConfig::crop_n_points_downscale_factor,
    "Layer i uses points_per_side / factor^i points per side. Lower: more masks in crops, more cost");
  v("point_grids", &AmgConfig::point_grids,
    "Explicit prompt grids, one per crop layer, normalised [x, y]; replaces points_per_side");
  v("min_mask_region_area", &AmgConfig::min_mask_region_area,
    "Fill holes and remove islands of at most this area (SAM 2: in 256x256 low-res pixels, before "
    "upsampling). Does not drop masks; 0 = off");
  v("output_mode", &AmgConfig::output_mode,
    "binary_mask (PNG folders with --out-dir), uncompressed_rle or coco_rle; COCO files use RLE always");
  v("use_m2m", &AmgConfig::use_m2m,
    "Refine each mask once, prompting with its own mask. Changes masks and scores; doubles decoder cost");
  v("multimask_output", &AmgConfig::multimask_output,
    "Three candidate masks per point (whole, part, subpart). Off: one per point, fewer masks, cheaper");
  v("min_mask_region_mode", &AmgConfig::min_mask_region_mode,
    "Extension: sam2 (low-res fill before upsampling, the reference) or sam1 (full-res, after NMS)");
  v("min_area", &AmgConfig::min_area, "Extension (output filter): drop masks smaller than this many pixels; 0 = off");
  v("max_area", &AmgConfig::max_area, "Extension (output filter): drop masks larger than this many pixels; 0 = off");
  v("min_area_fraction", &AmgConfig::min_area_fraction,
    "Extension (output filter): drop masks whose area / image area is below this, in [0, 1]; 0 = off");
  v("max_area_fraction", &AmgConfig::max_area_fraction,
    "Extension (output filter): drop masks whose area / image area is above this, in [0, 1]; 0 = off");
  v("max_masks_per_image", &AmgConfig::max_masks_per_image,
    "Extension (output filter): keep at most this many masks per image, the first in max_masks_by order; 0 = off");
  v("max_masks_by", &AmgConfig::max_masks_by,
    "Extension: what max_masks_per_image keeps first: predicted_iou, stability_score, area (highest first; "
    "ties keep the reference order) or reference");
  v("sort_by", &AmgConfig::sort_by,
    "Extension: output order: reference (the reference's), or predicted_iou, stability_score, area (highest "
    "first; ties keep the reference order)");
}

/// The extension filters above: off by default, applied after the reference's steps, ignored by
/// the reference-compatibility paths, and recorded in a run's provenance only when set.
inline bool is_output_filter_param(std::string_view name) {
  for (std::string_view f : {"min_area", "max_area", "min_area_fraction", "max_area_fraction", "max_masks_per_image",
                             "max_masks_by", "sort_by"})
    if (name == f) return true;
  return false;
}

}  // namespace sam2amg
