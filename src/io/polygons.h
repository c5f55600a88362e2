#pragma once
/// Masks as polygons: COCO polygons (Label Studio, CVAT, X-AnyLabeling) and the single ring of a
/// YOLO segmentation label. COCO polygons run along pixel edges (pixel (x, y) is the square
/// [x, x+1] x [y, y+1]), which is how pycocotools rasterizes them; YOLO rings and mask_outline use
/// the boundary pixels' centres, as OpenCV's findContours and fillPoly do.
#include <optional>
#include <vector>

#include "amg/rle_host.h"

namespace sam2amg {

/// A mask's boundary: the outer ring of each connected part (8-connected) and the ring of each
/// hole, as flat x, y lists. A part or hole too thin for a 3-point ring (a dot, a line) gets the
/// outline of its pixels' box instead, so no part is ever dropped.
struct MaskOutline {
  std::vector<std::vector<double>> outer;
  std::vector<std::vector<double>> holes;
};

/// The outline of a mask (findContours, two-level hierarchy: parts and their holes; a part inside
/// a hole is a part again).
MaskOutline mask_outline(const Rle& rle);

/// The rings that separate a mask's pixels from the outside, along pixel edges (corners only, as
/// flat x, y lists, clockwise on screen for parts): one per 4-connected part, and one per hole.
/// Filling the parts and opening the holes gives the mask exactly.
struct PixelEdgeRings {
  std::vector<std::vector<double>> outer;
  std::vector<std::vector<double>> holes;
};
PixelEdgeRings pixel_edge_rings(const Rle& rle);

/// The mask as COCO polygons: one per (4-connected) part, along pixel edges (pixel_edge_rings), so
/// pycocotools' rasterization (frPyObjects, rleFrPoly) gives the mask back. nullopt when the mask has a hole: COCO polygons are
/// filled and their union taken (pycocotools frPyObjects), so no polygon list can keep a hole
/// open; the caller keeps RLE for such a mask.
std::optional<std::vector<std::vector<double>>> rle_to_polygons(const Rle& rle);

/// The whole mask as one ring, for formats with one polygon per object (YOLO segmentation): the
/// parts and holes are joined by zero-width bridges between their nearest points (the way
/// Ultralytics merges multi-part masks), so an even-odd fill (OpenCV fillPoly) gives back the
/// parts with their holes open; only the bridges' own pixels may be added. Empty for an empty mask.
std::vector<double> rle_to_single_ring(const Rle& rle);

}  // namespace sam2amg
