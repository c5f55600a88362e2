#pragma once
/// Comparing the generator's records in tests: every field, the floats bit for bit.
#include <cstring>
#include <vector>

#include "amg/mask_record.h"
#include "support/catch.h"

namespace sam2amg::test {

/// The same records in the same order: masks, boxes, points, crops, and the scores' bits (NaN
/// stability included).
inline void require_same_records(const std::vector<MaskRecord>& a, const std::vector<MaskRecord>& b) {
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    INFO("record " << i);
    CHECK(a[i].segmentation == b[i].segmentation);
    CHECK(a[i].bbox_xywh == b[i].bbox_xywh);
    CHECK(a[i].point_coords == b[i].point_coords);
    CHECK(a[i].crop_box_xywh == b[i].crop_box_xywh);
    CHECK(std::memcmp(&a[i].predicted_iou, &b[i].predicted_iou, sizeof(float)) == 0);
    CHECK(std::memcmp(&a[i].stability_score, &b[i].stability_score, sizeof(float)) == 0);
  }
}

}  // namespace sam2amg::test
