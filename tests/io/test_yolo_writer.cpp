// The YOLO writer: one label file per image, polygons that decode back to the masks.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "io/polygons.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "writer_fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("YOLO labels: one file per image, class 0, polygons that decode back to the masks", "[io][yolo]") {
  TempDir dir;
  const std::string labels = dir.file("labels"), manifest = labels + "/sam2_amg.jsonl";
  const std::vector<InputFile> inputs{{"/d/sub/y.png", "sub/y.png", ""}, {"/d/z.jpg", "z.jpg", ""}};
  const int w = 96, h = 64;
  // A ring, and two squares: one polygon each, holes and all.
  const Rle ring = mask_of(w, h, {{10, 4, 50, 44, 1}, {20, 14, 40, 34, 0}});
  const Rle two = mask_of(w, h, {{60, 5, 70, 15, 1}, {75, 40, 90, 60, 1}});
  {
    auto yw = make_yolo_writer(labels, manifest, kProv, inputs, false);
    yw->write({inputs[0], w, h}, kImage, {record_of(ring, 0.9f), record_of(two, 0.8f)});
    yw->write({inputs[1], w, h}, kImage, {});
    yw->finish(true);
  }
  // Labels mirror the image names (Ultralytics: images/sub/y.png -> labels/sub/y.txt).
  CHECK(slurp(labels + "/z.txt").empty());  // no masks: an empty label file
  std::istringstream in(slurp(labels + "/sub/y.txt"));
  std::vector<Rle> decoded;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string cls;
    fields >> cls;
    CHECK(cls == "0");
    std::vector<double> ring_px;
    for (double x, y; fields >> x >> y;) {
      CHECK(x >= 0.0);
      CHECK(x <= 1.0);
      CHECK(y >= 0.0);
      CHECK(y <= 1.0);
      ring_px.push_back(x * w);
      ring_px.push_back(y * h);
    }
    decoded.push_back(fill_rings(w, h, {ring_px}));  // as Ultralytics: one polygon, fillPoly
  }
  REQUIRE(decoded.size() == 2);
  // Stated tolerance: every mask pixel comes back, and IoU >= 0.9: the fill adds only the pixels
  // of the bridges between parts (here one line of about 25 pixels for 400).
  auto recall = [](const Rle& got, const Rle& want) {
    const auto g = rle_to_mask(got), m = rle_to_mask(want);
    size_t both = 0;
    for (size_t i = 0; i < m.size(); ++i) both += g[i] && m[i];
    return double(both) / double(area_from_rle(want));
  };
  CHECK(rle_iou(decoded[0], ring) >= 0.9);
  CHECK(recall(decoded[0], ring) == 1.0);
  CHECK(rle_iou(decoded[1], two) >= 0.9);
  CHECK(recall(decoded[1], two) == 1.0);
  CHECK(area_from_rle(decoded[0]) < area_from_rle(mask_of(w, h, {{10, 4, 50, 44, 1}})));  // the hole is open

  // Resume: what the manifest lists (with its label) is done; another config is refused.
  {
    auto yw = make_yolo_writer(labels, manifest, kProv, inputs, true);
    CHECK(yw->done(inputs[0]));
    CHECK(yw->done(inputs[1]));
    CHECK_FALSE(yw->done({"/d/new.png", "new.png", ""}));
  }
  fs::remove(labels + "/z.txt");
  CHECK_FALSE(make_yolo_writer(labels, manifest, kProv, inputs, true)->done(inputs[1]));  // label gone: redone
  Provenance other = kProv;
  other.config_yaml = "points_per_side: 16\n";
  CHECK_THROWS_AS(make_yolo_writer(labels, manifest, other, inputs, true), UsageError);
  // x.png and x.jpg would share x.txt, which Ultralytics reads for both: refused.
  CHECK_THROWS_AS(make_yolo_writer(dir.file("l2"), dir.file("l2/m.jsonl"), kProv,
                                   {{"/d/x.png", "x.png", ""}, {"/d/x.jpg", "x.jpg", ""}}, false),
                  UsageError);
}
