// The per-image writer: SAM 1 amg.py PNG folders with metadata.csv, and SA-1B JSON files.
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/amg_csv.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "writer_fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

TEST_CASE("Per-image writer: SAM 1 amg.py PNG folders and SA-1B JSON", "[io][writers]") {
  TempDir dir;
  const std::vector<InputFile> inputs{{"/d/x.png", "x.png"}, {"/d/x.jpg", "x.jpg"}, {"/d/sub/y.png", "sub/y.png"}};
  MaskRecord r = record_of({4, 4, {5, 3, 8}}, 0.9076904058456421f);
  r.bbox_xywh = {20, 20, 79, 69};
  r.point_coords = {20, 20.5f};
  {
    auto w = make_per_image_writer(dir.path(), OutputMode::kBinaryMask, SegmentationFormat::kCompressedRle, false, kProv, inputs);
    w->write({inputs[0], 4, 4}, kImage, {r, record_of({4, 4, {16}}, 0.5f)});
    w->write({inputs[2], 4, 4}, kImage, {});
    CHECK(w->done(inputs[0]));
    CHECK_FALSE(w->done(inputs[1]));
    w->finish(true);
  }
  // x.png and x.jpg would collide on the stem "x": both keep their extension.
  const std::string csv = slurp(dir.file("x.png/metadata.csv"));
  CHECK(csv.substr(0, csv.find('\n')) == kAmgCsvHeader);
  CHECK(csv.find("\n0,3,20,20,79,69,20.0,20.5,0.9076904058456421,0.9700000286102295,0,0,4,4\n") != std::string::npos);
  CHECK(csv.back() != '\n');  // amg.py joins lines without a final newline
  const cv::Mat png = cv::imread(dir.file("x.png/0.png"), cv::IMREAD_UNCHANGED);
  REQUIRE(png.type() == CV_8UC1);
  CHECK(png.at<std::uint8_t>(1, 1) == 255);
  CHECK(png.at<std::uint8_t>(0, 1) == 0);
  CHECK(fs::exists(dir.file("sub/y/metadata.csv")));
  CHECK(read_json(dir.file("run.json"))["version"] == "9.9.9");

  TempDir dir2;
  auto w = make_per_image_writer(dir2.path(), OutputMode::kCocoRle, SegmentationFormat::kCompressedRle, true, kProv, inputs);
  w->write({inputs[2], 4, 4}, kImage, {r});
  w->finish(true);
  const json sa = read_json(dir2.file("sub/y.json"));
  CHECK(sa["image"] == json{{"image_id", 3}, {"width", 4}, {"height", 4}, {"file_name", "sub/y.png"}});
  const json& a = sa["annotations"][0];
  std::vector<std::string> keys;
  for (auto it = a.begin(); it != a.end(); ++it) keys.push_back(it.key());
  CHECK(keys == std::vector<std::string>{"area", "bbox", "crop_box", "id", "point_coords", "predicted_iou",
                                         "segmentation", "stability_score"});
  CHECK(a["bbox"] == json::array({20.0, 20.0, 79.0, 69.0}));  // SA-1B keeps SAM's own bbox
  CHECK(fs::exists(dir2.file("sub/y.overlay.jpg")));
}

TEST_CASE("metadata.csv is byte for byte what SAM 1's amg.py writes", "[io][writers]") {
  // amg.py: ",".join(str(v)) per row, rows joined by "\n". The reference's bbox and crop_box are
  // integer tensors (str gives "20", not "20.0"), points are float64, scores float32 as floats.
  MaskRecord a = record_of({4, 4, {5, 3, 8}}, 0.9591009616851807f);
  a.bbox_xywh = {0, 0, 255, 255};
  a.point_coords = {4, 4};
  a.stability_score = 1.0f;
  a.crop_box_xywh = {0, 0, 256, 256};
  MaskRecord b = record_of({4, 4, {0, 16}}, 0.8999999761581421f);
  b.bbox_xywh = {1024, 7, 3, 1};
  b.point_coords = {32.8125f, 1500.5f};
  b.stability_score = 0.00001f;
  b.crop_box_xywh = {1000, 0, 1048, 768};
  CHECK(amg_metadata_csv({a, b}) ==
        "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,"
        "crop_box_x0,crop_box_y0,crop_box_w,crop_box_h\n"
        "0,3,0,0,255,255,4.0,4.0,0.9591009616851807,1.0,0,0,256,256\n"
        "1,16,1024,7,3,1,32.8125,1500.5,0.8999999761581421,9.999999747378752e-06,1000,0,1048,768");
  CHECK(amg_metadata_csv({}) == kAmgCsvHeader);  // no masks: the header alone, no newline
}

TEST_CASE("python_float_str matches Python's str(float)", "[io][writers]") {
  CHECK(python_float_str(20.0) == "20.0");
  CHECK(python_float_str(0.0) == "0.0");
  CHECK(python_float_str(double(0.9f)) == "0.8999999761581421");
  CHECK(python_float_str(0.0001) == "0.0001");
  CHECK(python_float_str(0.00001) == "1e-05");
  CHECK(python_float_str(1.5e-7) == "1.5e-07");
  CHECK(python_float_str(1e16) == "1e+16");
  CHECK(python_float_str(123456.0) == "123456.0");
  CHECK(python_float_str(-2.5) == "-2.5");
}
