#pragma once
/// The extension filters on the final masks (not SAM2AutomaticMaskGenerator parameters): what
/// users otherwise write in Python over the generator's output. They run after every step of the
/// reference, on the records themselves (the area is the record's, counted from its RLE), so no
/// mask is materialised again. All orders are stable: equal values keep the reference's order.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "amg/amg_config.h"
#include "amg/mask_record.h"

namespace sam2amg {

/// True when `config` sets any extension filter or a sort_by other than the reference's.
bool has_mask_filters(const AmgConfig& config);

/// The positions of `records` in `order`: descending by the chosen value, ties (and every
/// position for MaskSort::kReference) in their original order; a NaN score ranks below every
/// number.
std::vector<std::size_t> mask_order(const std::vector<MaskRecord>& records, MaskSort order);

/// Applies the filters of `config` to the records of one `width` x `height` image, in this order:
///  1. min_area and min_area_fraction: keep area >= min_area and area / (width * height) >=
///     min_area_fraction (the ratio in double, so 0.05 of 100x100 is exactly 500 pixels);
///  2. max_area and max_area_fraction: keep area <= max_area and the ratio <= max_area_fraction;
///  3. max_masks_per_image N: keep the first N in max_masks_by order; the kept masks stay in
///     the order they had;
///  4. sort_by: reorder the output.
/// A filter set to 0 is off. With `funnel`, records the count after each filter that is on
/// (FilterFunnel's optional stages) and sets final_masks.
void apply_mask_filters(std::vector<MaskRecord>& records, const AmgConfig& config, std::int64_t width,
                        std::int64_t height, FilterFunnel* funnel = nullptr);

}  // namespace sam2amg
