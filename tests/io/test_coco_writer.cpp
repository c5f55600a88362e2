// The COCO writer: the instances file, its segmentation formats, and resume from its journal.
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "writer_fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

TEST_CASE("COCO writer: a pycocotools-style instances file", "[io][coco]") {
  TempDir dir;
  const std::string path = dir.file("masks.json");
  {
    auto w = make_coco_writer(path, SegmentationFormat::kCompressedRle, kProv, false);
    w->write(info_of("a.png"), kImage, {record_of({4, 4, {5, 3, 8}}, 0.9f), record_of({4, 4, {0, 16}}, 0.8f)});
    w->write(info_of("b.png"), kImage, {});
    w->write(info_of("c.png"), kImage, {record_of({4, 4, {16}}, 0.7f)});
    w->finish(true);
  }
  const json j = read_json(path);
  REQUIRE(j["images"].size() == 3);
  CHECK(j["images"][0]["id"] == 1);
  CHECK(j["images"][2]["file_name"] == "c.png");
  CHECK(j["categories"] == json::array({{{"id", 1}, {"name", "object"}, {"supercategory", "object"}}}));
  CHECK(j["info"]["sam2_amg"]["model_sha256"] == "abc123");
  CHECK(j["info"]["sam2_amg"]["config"] == "points_per_side: 32\n");
  const json& anns = j["annotations"];
  REQUIRE(anns.size() == 3);
  CHECK(anns[0]["id"] == 1);
  CHECK(anns[2]["id"] == 3);
  CHECK(anns[2]["image_id"] == 3);
  CHECK(anns[0]["segmentation"] == json{{"size", {4, 4}}, {"counts", "538"}});
  CHECK(anns[0]["bbox"] == json::array({1.0, 1.0, 1.0, 3.0}));  // pycocotools' toBbox
  CHECK(anns[0]["bbox_xywh_ref"] == json::array({1.0, 1.0, 0.0, 2.0}));
  CHECK(anns[0]["area"] == 3);
  CHECK(anns[0]["iscrowd"] == 0);
  CHECK(anns[0]["score"].get<double>() == double(0.9f));
  CHECK(anns[1]["segmentation"]["counts"] == "0`0");
  CHECK(anns[0]["point_coords"] == json::array({json::array({1.5, 2.5})}));
  // Nothing temporary is left next to the output.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("COCO writer: uncompressed counts with iscrowd 1, polygons, an empty run", "[io][coco]") {
  TempDir dir;
  const Rle square{4, 4, {5, 2, 2, 2, 5}};  // pixels (1..2, 1..2)
  auto u = make_coco_writer(dir.file("u.json"), SegmentationFormat::kUncompressedRle, kProv, false);
  u->write(info_of("a.png"), kImage, {record_of(square, 0.9f)});
  u->finish(true);
  const json ua = read_json(dir.file("u.json"))["annotations"][0];
  CHECK(ua["segmentation"]["counts"] == json::array({5, 2, 2, 2, 5}));
  CHECK(ua["iscrowd"] == 1);

  auto p = make_coco_writer(dir.file("p.json"), SegmentationFormat::kPolygon, kProv, false);
  p->write(info_of("a.png"), kImage, {record_of(square, 0.9f)});
  p->finish(true);
  const json poly = read_json(dir.file("p.json"))["annotations"][0]["segmentation"];
  REQUIRE(poly.size() == 1);
  CHECK(poly[0] == json::array({1, 1, 3, 1, 3, 3, 1, 3}));  // round the square's pixel edges, as pycocotools reads them

  auto e = make_coco_writer(dir.file("empty.json"), SegmentationFormat::kCompressedRle, kProv, false);
  e->finish(true);
  const json ej = read_json(dir.file("empty.json"));
  CHECK(ej["images"].empty());
  CHECK(ej["annotations"].empty());
  CHECK_THROWS_AS(make_coco_writer(dir.file("no/such/dir/x.json"), SegmentationFormat::kCompressedRle, kProv, false),
                  OutputError);
}

TEST_CASE("COCO writer: a killed run resumes from its journal", "[io][coco][resume]") {
  TempDir dir;
  const std::string path = dir.file("m.json");
  {
    auto w = make_coco_writer(path, SegmentationFormat::kCompressedRle, kProv, false);
    w->write(info_of("a.png"), kImage, {record_of({4, 4, {5, 3, 8}}, 0.9f)});
    w->write(info_of("b.png"), kImage, {record_of({4, 4, {0, 16}}, 0.8f)});
    // Destroyed without finish(), as a killed process; a torn line follows the last image.
  }
  std::ofstream(path + ".partial.jsonl", std::ios::app) << "{\"path\": \"/data/c.png\", \"ima";
  CHECK_FALSE(fs::exists(path));
  auto w = make_coco_writer(path, SegmentationFormat::kCompressedRle, kProv, true);
  CHECK(w->done({"/data/a.png", "a.png"}));
  CHECK(w->done({"/data/b.png", "b.png"}));
  CHECK_FALSE(w->done({"/data/c.png", "c.png"}));
  w->write(info_of("c.png"), kImage, {record_of({4, 4, {16}}, 0.7f)});
  w->finish(true);
  const json j = read_json(path);
  REQUIRE(j["images"].size() == 3);
  CHECK(j["images"][2]["file_name"] == "c.png");
  REQUIRE(j["annotations"].size() == 3);
  CHECK(j["annotations"][2]["id"] == 3);
  CHECK(j["annotations"][1]["image_id"] == 2);
  CHECK_FALSE(fs::exists(path + ".partial.jsonl"));  // complete: the journal is gone
}

TEST_CASE("Resuming another run's journal is refused", "[io][coco][resume]") {
  TempDir dir;
  const std::string path = dir.file("m.json");
  const ImageU8 img = make_image(4, 4, kBlack, {});
  {
    auto w = make_coco_writer(path, SegmentationFormat::kCompressedRle, kProv, false);
    w->write(info_of("a.png"), img, {});
  }
  Provenance other = kProv;
  other.config_yaml = "points_per_side: 16\n";
  CHECK_THROWS_AS(make_coco_writer(path, SegmentationFormat::kCompressedRle, other, true), UsageError);
  CHECK_NOTHROW(make_coco_writer(path, SegmentationFormat::kCompressedRle, kProv, true));
}
