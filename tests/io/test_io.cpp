#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/image_reader.h"
#include "io/inputs.h"
#include "io/run_config.h"
#include "io/point_grids_file.h"
#include "io/sha256.h"
#include "io/amg_csv.h"
#include "io/polygons.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"

#include <opencv2/imgproc.hpp>

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
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

const Provenance kProv{"9.9.9", "m.pt", "abc123", "points_per_side: 32\n", "apply"};
const ImageU8 kImage = make_image(4, 4, kBlack, {});

ImageInfo info_of(const std::string& name) { return {{"/data/" + name, name}, 4, 4}; }

// A w x h mask with the given filled rectangles [x0, x1) x [y0, y1) set to `value`, in order.
Rle mask_of(int w, int h, const std::vector<std::array<int, 5>>& rects) {
  std::vector<std::uint8_t> m(size_t(w) * h, 0);
  for (const auto& [x0, y0, x1, y1, v] : rects)
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) m[size_t(y) * w + x] = std::uint8_t(v);
  return rle_from_mask(m.data(), h, w);
}

// fillPoly of rings (flat pixel x, y lists): OpenCV's even-odd fill, inclusive of the edges.
Rle fill_rings(int w, int h, const std::vector<std::vector<double>>& rings) {
  cv::Mat m(h, w, CV_8UC1, cv::Scalar(0));
  std::vector<std::vector<cv::Point>> pts;
  for (const auto& r : rings) {
    pts.emplace_back();
    for (size_t i = 0; i + 1 < r.size(); i += 2) pts.back().emplace_back(int(std::lround(r[i])), int(std::lround(r[i + 1])));
  }
  cv::fillPoly(m, pts, cv::Scalar(1));
  return rle_from_mask(m.data, h, w);
}

}  // namespace

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

TEST_CASE("Images are read as 8-bit RGB whatever the file holds", "[io][image]") {
  TempDir dir;
  const ImageU8 img = make_image(7, 5, kBlack, {{1, 1, 3, 4, kRed}, {4, 0, 7, 2, kBlue}});
  write_image_rgb(dir.file("x.png"), img);
  const ImageU8 back = read_image_rgb(dir.file("x.png"));
  CHECK(back.width == 7);
  CHECK(back.height == 5);
  CHECK(back.rgb == img.rgb);  // RGB order survives OpenCV's BGR

  cv::Mat gray(3, 2, CV_8UC1, cv::Scalar(77));
  cv::imwrite(dir.file("g.png"), gray);
  const ImageU8 g = read_image_rgb(dir.file("g.png"));
  CHECK(g.rgb == std::vector<std::uint8_t>(3 * 2 * 3, 77));  // replicated to three channels

  cv::Mat rgba(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // BGRA, fully transparent
  cv::imwrite(dir.file("a.png"), rgba);
  const ImageU8 a = read_image_rgb(dir.file("a.png"));
  CHECK(a.rgb[0] == 30);  // alpha dropped, not composited
  CHECK(a.rgb[2] == 10);

  cv::Mat deep(2, 2, CV_16UC1, cv::Scalar(65535));
  cv::imwrite(dir.file("d.png"), deep);
  CHECK(read_image_rgb(dir.file("d.png")).rgb[0] == 255);  // 16-bit reduced to 8-bit
}

TEST_CASE("Broken image files are refused with their reason", "[io][image]") {
  TempDir dir;
  const ImageU8 img = make_image(64, 48, kBlack, {{8, 8, 40, 40, kRed}});
  write_image_rgb(dir.file("ok.png"), img);
  write_image_rgb(dir.file("ok.jpg"), img);
  const std::string png = slurp(dir.file("ok.png")), jpg = slurp(dir.file("ok.jpg"));
  auto put = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.file(name), std::ios::binary) << bytes;
  };
  put("empty.png", "");
  put("text.png", "hello, not an image");
  put("cut.png", png.substr(0, png.size() / 2));
  put("cut.jpg", jpg.substr(0, jpg.size() / 2));
  // A valid PNG signature and IHDR claiming 100000 x 100000 pixels: refused before decoding.
  std::string huge = png;
  for (int k : {16, 20}) {
    huge[k] = 0;
    huge[k + 1] = 0x01;
    huge[k + 2] = char(0x86);
    huge[k + 3] = char(0xA0);
  }
  put("huge.png", huge);
  auto reason = [&](const std::string& name) {
    try {
      read_image_rgb(dir.file(name));
    } catch (const ImageReadError& e) {
      CHECK(e.exit_code() == 4);
      CHECK(e.path() == dir.file(name));
      return std::string(e.what());
    }
    return std::string("read fine");
  };
  CHECK(reason("empty.png").find("empty file") != std::string::npos);
  CHECK(reason("text.png").find("not a readable image") != std::string::npos);
  CHECK(reason("cut.png").find("truncated PNG") != std::string::npos);
  CHECK(reason("cut.jpg").find("truncated JPEG") != std::string::npos);
  CHECK(reason("huge.png").find("100000x100000") != std::string::npos);
  CHECK(reason("missing.png").find("no such file") != std::string::npos);
  CHECK(reason("ok.jpg") == "read fine");
  std::vector<std::uint8_t> jb(jpg.begin(), jpg.end());
  CHECK(probe_image_size(jb) == std::pair<std::int64_t, std::int64_t>{64, 48});
  // Found by fuzzing: 2^32-1 x 2^32-1 overflowed the pixel count, which could then pass.
  std::vector<std::uint8_t> widest(png.begin(), png.end());
  std::fill(widest.begin() + 16, widest.begin() + 24, 0xFF);
  CHECK(image_header_problem(widest, std::int64_t{1} << 28).find("4294967295x4294967295 pixels is above") !=
        std::string::npos);
  CHECK(image_header_problem(std::vector<std::uint8_t>(png.begin(), png.end()), 64 * 48) == "");
  CHECK(image_header_problem(std::vector<std::uint8_t>(png.begin(), png.end()), 64 * 48 - 1).find("64x48") !=
        std::string::npos);
}

TEST_CASE("collect_inputs: folders, recursion, globs, list files, sorted", "[io][inputs]") {
  TempDir dir;
  fs::create_directories(dir.file("sub"));
  for (const char* n : {"b.png", "a.JPG", "c.txt", "10.png", "2.png", "sub/z.png"}) std::ofstream(dir.file(n)) << "x";
  IoOptions io;
  io.input = {dir.path()};
  auto files = collect_inputs(io);
  REQUIRE(files.size() == 4);
  CHECK(files[0].name == "10.png");
  CHECK(files[1].name == "2.png");
  CHECK(files[2].name == "a.JPG");
  CHECK(files[3].name == "b.png");
  io.recursive = true;
  files = collect_inputs(io);
  REQUIRE(files.size() == 5);
  CHECK(files[4].name == "sub/z.png");
  io.glob = "*.png";
  CHECK(collect_inputs(io).size() == 4);
  io = IoOptions{};
  std::ofstream(dir.file("list.txt")) << dir.file("b.png") << "\n# comment\n" << dir.file("2.png") << "\n";
  io.input_list = dir.file("list.txt");
  io.input = {dir.file("b.png")};
  files = collect_inputs(io);
  REQUIRE(files.size() == 2);  // de-duplicated
  CHECK(files[0].name == "2.png");
  io.input = {dir.file("missing")};
  CHECK_THROWS_AS(collect_inputs(io), UsageError);
  CHECK(glob_match("*.jp*g", "photo.jpeg"));
  CHECK(glob_match("img_??.png", "img_07.png"));
  CHECK_FALSE(glob_match("img_??.png", "img_7.png"));
  CHECK_FALSE(glob_match("*.jpg", "IMG_1.JPG"));
  CHECK(glob_match("*.jpg", "IMG_1.JPG", /*ignore_case=*/true));
  CHECK_FALSE(glob_match("*.jpg", "IMG_1.JPEG", /*ignore_case=*/true));
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

TEST_CASE("sha256 matches the FIPS 180-2 examples", "[io]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("Review cases: thumbnails, symlinks, repeated names, thin polygons", "[io][edge]") {
  TempDir dir;
  const ImageU8 img = make_image(64, 48, kBlack, {{8, 8, 40, 40, kRed}});
  write_image_rgb(dir.file("ok.jpg"), img);
  const std::string jpg = slurp(dir.file("ok.jpg"));
  // An APP1 segment that carries a complete thumbnail (its own SOS and EOI) before a main image
  // that is cut in half: still truncated.
  const std::string thumb = std::string("\xFF\xD8\xFF\xDA\x00\x02\xFF\xD9", 8);
  const std::string app1 = std::string("\xFF\xE1", 2) + char(0) + char(2 + thumb.size()) + thumb;
  const std::string with_thumb = jpg.substr(0, 2) + app1 + jpg.substr(2);
  std::ofstream(dir.file("thumb.jpg"), std::ios::binary) << with_thumb;
  CHECK_NOTHROW(read_image_rgb(dir.file("thumb.jpg")));
  std::ofstream(dir.file("cut.jpg"), std::ios::binary) << with_thumb.substr(0, with_thumb.size() - 40);
  std::string cut_error;  // a plain substring check: Catch2 v2 and v3 name their matchers differently
  try {
    read_image_rgb(dir.file("cut.jpg"));
  } catch (const std::exception& e) {
    cut_error = e.what();
  }
  CHECK(cut_error.find("truncated JPEG") != std::string::npos);

  // A symlinked image keeps its name inside the folder; the same name in two folders is two
  // outputs, never one overwriting the other.
  fs::create_directories(dir.file("a"));
  fs::create_directories(dir.file("b"));
  write_image_rgb(dir.file("b/x.png"), img);
  fs::create_symlink(dir.file("ok.jpg"), dir.file("a/link.jpg"));
  write_image_rgb(dir.file("a/x.png"), img);
  IoOptions io;
  io.input = {dir.file("a"), dir.file("b"), dir.file("a/../a")};
  const auto inputs = collect_inputs(io);
  REQUIRE(inputs.size() == 3);  // a/../a is a again
  CHECK(inputs[0].name == "link.jpg");
  const Provenance prov{"1", "m", "s", "", "apply"};
  auto w = make_per_image_writer(dir.file("out"), OutputMode::kCocoRle, SegmentationFormat::kCompressedRle, false, prov, inputs);
  for (const auto& in : inputs) w->write({in, 64, 48}, img, {});
  CHECK(fs::exists(dir.file("out/x.png.json")));  // stems collide: the extension stays...
  CHECK(fs::exists(dir.file("out/x.png~2.json")));  // ...and the second one is numbered
  CHECK(fs::exists(dir.file("out/link.json")));

  // A one-pixel-wide line has no 3-point contour: its outline box is written instead.
  const Rle line{4, 4, {4, 4, 8}};  // column 1, all rows
  CHECK(*rle_to_polygons(line) == std::vector<std::vector<double>>{{1, 0, 2, 0, 2, 4, 1, 4}});
}

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

TEST_CASE("JSON lines: the run record once, then one line per image with its hashes", "[io][jsonl]") {
  TempDir dir;
  const std::string path = dir.file("m.jsonl");
  {
    auto w = make_jsonl_writer(path, SegmentationFormat::kCompressedRle, kProv, false);
    w->write(info_of("a.png"), kImage, {record_of({4, 4, {5, 3, 8}}, 0.9f)});
    w->write(info_of("b.png"), kImage, {});
    // Killed: no finish(), and a torn line after the last image.
  }
  std::ofstream(path, std::ios::app) << "{\"annotations\": [], \"ima";
  std::vector<json> lines;
  {
    std::istringstream in(slurp(path));
    for (std::string s; std::getline(in, s);) lines.push_back(json::parse(s, nullptr, false));
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines[0]["type"] == "run");
  CHECK(lines[0]["sam2_amg"]["config"] == "points_per_side: 32\n");
  CHECK(lines[0]["sam2_amg"]["config_sha256"] == sha256_hex("points_per_side: 32\n"));
  CHECK(lines[0]["sam2_amg"]["model_sha256"] == "abc123");
  CHECK(lines[1]["type"] == "image");
  CHECK(lines[1]["image"]["file_name"] == "a.png");
  CHECK(lines[1]["annotations"].size() == 1);
  // Each line: the image's provenance (hashes, path), never the config itself.
  CHECK(lines[1]["sam2_amg"] == json{{"config_sha256", sha256_hex("points_per_side: 32\n")},
                                     {"file_name", "a.png"},
                                     {"model_sha256", "abc123"},
                                     {"path", "/data/a.png"}});
  CHECK(lines[2]["sam2_amg"]["path"] == "/data/b.png");

  {
    auto w = make_jsonl_writer(path, SegmentationFormat::kCompressedRle, kProv, true);
    CHECK(w->done({"/data/a.png", "a.png"}));
    CHECK(w->done({"/data/b.png", "b.png"}));
    CHECK_FALSE(w->done({"/data/c.png", "c.png"}));
    w->write(info_of("c.png"), kImage, {});
    w->finish(true);
  }
  const std::string resumed = slurp(path);
  CHECK(std::count(resumed.begin(), resumed.end(), '\n') == 4);  // run record + 3 images: torn line cut, no second record
  CHECK(resumed.find("\"ima\n") == std::string::npos);

  // Another config, or a file without a run record: refused, the file untouched.
  Provenance other = kProv;
  other.config_yaml = "points_per_side: 16\n";
  CHECK_THROWS_AS(make_jsonl_writer(path, SegmentationFormat::kCompressedRle, other, true), UsageError);
  std::ofstream(dir.file("old.jsonl")) << "{\"image\": {\"path\": \"/data/a.png\"}, \"annotations\": []}\n";
  CHECK_THROWS_AS(make_jsonl_writer(dir.file("old.jsonl"), SegmentationFormat::kCompressedRle, kProv, true), UsageError);
  std::ofstream(dir.file("num.jsonl")) << "5\n[1]\n";  // valid JSON, not objects: bad input, not a crash
  CHECK_THROWS_AS(make_jsonl_writer(dir.file("num.jsonl"), SegmentationFormat::kCompressedRle, kProv, true), UsageError);
  CHECK(slurp(path) == resumed);
  // Killed while writing the run record: started afresh.
  std::ofstream(dir.file("torn.jsonl")) << "{\"sam2_amg\":{\"con";
  make_jsonl_writer(dir.file("torn.jsonl"), SegmentationFormat::kCompressedRle, kProv, true)->finish(true);
  CHECK(json::parse(slurp(dir.file("torn.jsonl")))["type"] == "run");
}

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

TEST_CASE("The model hash is cached per file and recomputed when the file changes", "[io]") {
  TempDir dir;
  const std::string model = dir.file("model.pt"), cache = dir.file("cache");
  { std::ofstream(model, std::ios::binary) << "abc"; }
  setenv("SAM2AMG_CACHE_DIR", cache.c_str(), 1);
  const std::string abc = sha256_hex("abc");
  CHECK(sha256_file_cached(model) == abc);
  // The entry is what a second start reads: a planted digest comes back while size and mtime
  // match, which proves the file was not hashed again.
  REQUIRE(fs::is_directory(cache));
  std::vector<fs::path> entries{fs::directory_iterator(cache), fs::directory_iterator()};
  REQUIRE(entries.size() == 1);
  std::string p, k, d;
  {
    std::ifstream in(entries[0]);
    std::getline(in, p);
    std::getline(in, k);
    std::getline(in, d);
  }
  CHECK(d == abc);
  const std::string planted(64, 'f');
  { std::ofstream(entries[0], std::ios::trunc) << p << "\n" << k << "\n" << planted << "\n"; }
  CHECK(sha256_file_cached(model) == planted);
  // Another content (size and mtime change): hashed again.
  { std::ofstream(model, std::ios::binary | std::ios::trunc) << "abcd"; }
  fs::last_write_time(model, fs::last_write_time(model) + std::chrono::seconds(5));
  CHECK(sha256_file_cached(model) == sha256_hex("abcd"));
  // An unusable cache location costs a hash, not an error.
  setenv("SAM2AMG_CACHE_DIR", "/proc/not-a-cache", 1);
  CHECK(sha256_file_cached(model) == sha256_hex("abcd"));
  unsetenv("SAM2AMG_CACHE_DIR");
}
