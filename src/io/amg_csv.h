#pragma once
/// SAM 1 scripts/amg.py's metadata.csv, byte for byte (ref: segment_anything scripts/amg.py,
/// write_masks_to_folder).
#include <string>
#include <vector>

#include "amg/mask_record.h"

namespace sam2amg {

/// The header line of SAM 1's metadata.csv.
inline constexpr const char* kAmgCsvHeader =
    "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
    "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h";

/// Python's str() of a float (shortest round-trip repr, ".0" for integral values).
std::string python_float_str(double v);

/// The whole metadata.csv of one image's records, as amg.py's str() writes them: area and boxes
/// as integers, points and scores as Python floats; lines joined by "\n", no final newline.
std::string amg_metadata_csv(const std::vector<MaskRecord>& records);

}  // namespace sam2amg
