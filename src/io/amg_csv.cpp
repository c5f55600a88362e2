#include "io/amg_csv.h"

#include <charconv>
#include <cmath>

namespace sam2amg {

std::string python_float_str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const double a = std::fabs(v);
  // Python's repr: positional for 1e-4 <= |v| < 1e16, scientific otherwise; shortest digits.
  const bool fixed = a == 0.0 || (a >= 1e-4 && a < 1e16);
  const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, fixed ? std::chars_format::fixed : std::chars_format::scientific);
  std::string s(buf, p);
  if (fixed && s.find('.') == std::string::npos) s += ".0";
  return s;  // scientific: C++ and Python both write 1e-05 and 1e+16
}

std::string amg_metadata_csv(const std::vector<MaskRecord>& records) {
  std::string csv = kAmgCsvHeader;
  for (size_t i = 0; i < records.size(); ++i) {
    const MaskRecord& r = records[i];
    csv += "\n" + std::to_string(i) + "," + std::to_string(r.area);
    // The reference's boxes are integer tensors (batched_mask_to_box, the crop boxes), so str()
    // prints them without a fraction; points and scores are floats.
    for (float v : r.bbox_xywh) csv += "," + std::to_string(std::llround(v));
    for (float v : r.point_coords) csv += "," + python_float_str(v);
    csv += "," + python_float_str(r.predicted_iou) + "," + python_float_str(r.stability_score);
    for (float v : r.crop_box_xywh) csv += "," + std::to_string(std::llround(v));
  }
  return csv;
}

}  // namespace sam2amg
