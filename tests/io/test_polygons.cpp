// Masks as polygons: holes kept (or the RLE), one ring per mask for YOLO.
#include <nlohmann/json.hpp>

#include "io/polygons.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "writer_fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
using nlohmann::json;

TEST_CASE("Polygons never drop a hole: a ring keeps its RLE, other masks are polygons", "[io][polygons]") {
  // A 40x40 square with a 20x20 hole; a square with a separate one-pixel dot.
  const Rle ring = mask_of(64, 48, {{10, 4, 50, 44, 1}, {20, 14, 40, 34, 0}});
  const Rle parts = mask_of(64, 48, {{2, 2, 12, 12, 1}, {30, 30, 31, 31, 1}});
  const MaskOutline o = mask_outline(ring);
  CHECK(o.outer.size() == 1);
  CHECK(o.holes.size() == 1);
  CHECK_FALSE(rle_to_polygons(ring).has_value());
  const auto p = rle_to_polygons(parts);
  REQUIRE(p.has_value());
  REQUIRE(p->size() == 2);  // the dot is kept, as its pixel's outline
  const std::vector<std::uint8_t> filled = rle_to_mask(fill_rings(64, 48, *p));
  CHECK(filled[30 * 64 + 30] == 1);
  CHECK(filled[5 * 64 + 5] == 1);

  TempDir dir;
  auto w = make_coco_writer(dir.file("p.json"), SegmentationFormat::kPolygon, kProv, false);
  ImageInfo info = info_of("a.png");
  info.width = 64;
  info.height = 48;
  w->write(info, kImage, {record_of(ring, 0.9f), record_of(parts, 0.8f)});
  w->finish(true);
  const json anns = read_json(dir.file("p.json"))["annotations"];
  // The ring: compressed RLE (iscrowd 0, as every annotation here), exactly the mask.
  REQUIRE(anns[0]["segmentation"].is_object());
  CHECK(rle_from_string(anns[0]["segmentation"]["counts"], 48, 64) == ring);
  CHECK(anns[0]["iscrowd"] == 0);
  // The two-part mask: one polygon per part.
  REQUIRE(anns[1]["segmentation"].is_array());
  CHECK(anns[1]["segmentation"].size() == 2);
  CHECK(anns[1]["iscrowd"] == 0);
}

TEST_CASE("One ring per mask: parts and holes bridged, an even-odd fill gives the mask back", "[io][polygons]") {
  const Rle ring = mask_of(64, 48, {{10, 4, 50, 44, 1}, {20, 14, 40, 34, 0}});
  // A ring, an island inside its hole, and a separate square with two holes.
  const Rle complex = mask_of(96, 64, {{2, 2, 42, 42, 1}, {10, 10, 34, 34, 0}, {18, 18, 26, 26, 1},
                                       {50, 10, 90, 60, 1}, {55, 15, 65, 25, 0}, {70, 35, 85, 55, 0}});
  for (const auto& [mask, w, h] : {std::tuple{ring, 64, 48}, std::tuple{complex, 96, 64}}) {
    const std::vector<double> r = rle_to_single_ring(mask);
    REQUIRE(r.size() >= 6);
    const double iou = rle_iou(fill_rings(w, h, {r}), mask);
    INFO("IoU " << iou);
    // The hole's top and bottom border rows may be lost to the scanline fill, the bridges may
    // add their own pixels: well above what dropping a hole or a part would give.
    CHECK(iou > 0.95);
    CHECK(iou > rle_iou(fill_rings(w, h, {mask_outline(mask).outer[0]}), mask) + 0.05);
  }
  CHECK(rle_to_single_ring(mask_of(8, 8, {})).empty());
}
