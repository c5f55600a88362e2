#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "io/coco_writer.h"
#include "io/image_reader.h"
#include "io/point_grids_file.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

MaskRecord record_of(const Rle& rle, float iou) {
  MaskRecord r;
  r.segmentation = rle;
  r.area = area_from_rle(rle);
  r.predicted_iou = iou;
  r.stability_score = 0.97f;
  r.point_coords = {1.5f, 2.5f};
  r.bbox_xywh = {1, 1, 0, 2};
  r.crop_box_xywh = {0, 0, 4, 4};
  return r;
}

}  // namespace

TEST_CASE("CocoWriter writes a COCO instances file pycocotools can load", "[io][coco]") {
  TempDir dir;
  const std::string path = dir.file("masks.json");
  {
    CocoWriter w(path, {"coco_rle", "test run"});
    w.add_image("a.png", 4, 4, {record_of({4, 4, {5, 3, 8}}, 0.9f), record_of({4, 4, {0, 16}}, 0.8f)});
    w.add_image("b.png", 4, 4, {});
    w.add_image("c.png", 4, 4, {record_of({4, 4, {16}}, 0.7f)});
    w.close();
  }
  const auto j = read_json(path);
  REQUIRE(j["images"].size() == 3);
  CHECK(j["images"][0]["id"] == 1);
  CHECK(j["images"][2]["file_name"] == "c.png");
  CHECK(j["categories"][0]["id"] == 1);
  const auto& anns = j["annotations"];
  REQUIRE(anns.size() == 3);
  CHECK(anns[0]["id"] == 1);
  CHECK(anns[2]["id"] == 3);
  CHECK(anns[2]["image_id"] == 3);
  CHECK(anns[0]["segmentation"]["counts"] == "538");
  CHECK(anns[0]["segmentation"]["size"] == nlohmann::json::array({4, 4}));
  CHECK(anns[0]["bbox"] == nlohmann::json::array({1.0, 1.0, 1.0, 3.0}));  // pycocotools' toBbox
  CHECK(anns[0]["bbox_xywh_ref"] == nlohmann::json::array({1.0, 1.0, 0.0, 2.0}));
  CHECK(anns[0]["area"] == 3);
  CHECK(anns[0]["iscrowd"] == 0);
  CHECK(anns[0]["score"].get<double>() == double(0.9f));
  CHECK(anns[1]["segmentation"]["counts"] == "0`0");
  CHECK(anns[0]["point_coords"] == nlohmann::json::array({nlohmann::json::array({1.5, 2.5})}));
  // Nothing temporary is left next to the output.
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("CocoWriter: uncompressed counts, and a run without masks", "[io][coco]") {
  TempDir dir;
  {
    CocoWriter w(dir.file("u.json"), {"uncompressed_rle", ""});
    w.add_image("a.png", 4, 4, {record_of({4, 4, {5, 3, 8}}, 0.9f)});
    w.close();
  }
  CHECK(read_json(dir.file("u.json"))["annotations"][0]["segmentation"]["counts"] ==
        nlohmann::json::array({5, 3, 8}));
  {
    CocoWriter w(dir.file("empty.json"), {});
    w.close();
  }
  const auto e = read_json(dir.file("empty.json"));
  CHECK(e["images"].empty());
  CHECK(e["annotations"].empty());
  CHECK_THROWS_AS(CocoWriter(dir.file("no/such/dir/x.json"), {}), OutputError);
}

TEST_CASE("Images are read as 8-bit RGB and bad files raise ImageReadError", "[io][image]") {
  TempDir dir;
  const ImageU8 img = make_image(7, 5, kBlack, {{1, 1, 3, 4, kRed}, {4, 0, 7, 2, kBlue}});
  write_image_rgb(dir.file("x.png"), img);
  const ImageU8 back = read_image_rgb(dir.file("x.png"));
  CHECK(back.width == 7);
  CHECK(back.height == 5);
  CHECK(back.rgb == img.rgb);  // RGB order survives OpenCV's BGR

  std::ofstream(dir.file("bad.png")) << "this is not a png";
  CHECK_THROWS_AS(read_image_rgb(dir.file("bad.png")), ImageReadError);
  CHECK_THROWS_AS(read_image_rgb(dir.file("none.png")), ImageReadError);
}

TEST_CASE("collect_inputs expands folders in sorted order", "[io][inputs]") {
  TempDir dir;
  for (const char* n : {"b.png", "a.JPG", "c.txt", "10.png", "2.png"}) std::ofstream(dir.file(n)) << "x";
  const auto files = collect_inputs({dir.path()});
  REQUIRE(files.size() == 4);
  CHECK(fs::path(files[0]).filename() == "10.png");
  CHECK(fs::path(files[1]).filename() == "2.png");
  CHECK(fs::path(files[2]).filename() == "a.JPG");
  CHECK(fs::path(files[3]).filename() == "b.png");
  CHECK(collect_inputs({dir.file("b.png"), dir.path()}).size() == 4);  // de-duplicated
  CHECK_THROWS_AS(collect_inputs({dir.file("missing")}), UsageError);
}

TEST_CASE("read_point_grids reads one grid per layer", "[io][grids]") {
  TempDir dir;
  std::ofstream(dir.file("g.json")) << "[[[0.25, 0.5], [0.75, 0.5]], [[0.5, 0.5]]]";
  const auto grids = read_point_grids(dir.file("g.json"));
  REQUIRE(grids.size() == 2);
  CHECK(grids[0][1] == std::array<double, 2>{0.75, 0.5});
  std::ofstream(dir.file("bad.json")) << "{\"x\": 1}";
  CHECK_THROWS_AS(read_point_grids(dir.file("bad.json")), UsageError);
}
