#pragma once
/// Masks as COCO polygons (Label Studio, CVAT).
#include <vector>

#include "amg/rle_host.h"

namespace sam2amg {

/// Outer contours of a mask as COCO polygons (flat x, y lists, >= 3 points each).
std::vector<std::vector<double>> rle_to_polygons(const Rle& rle);

}  // namespace sam2amg
