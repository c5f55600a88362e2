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
  CHECK(poly[0] == json::array({1, 1, 1, 2, 2, 2, 2, 1}));  // the square's corner pixels

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
  CHECK(csv.find("\n0,3,20.0,20.0,79.0,69.0,20.0,20.5,0.9076904058456421,0.9700000286102295,0.0,0.0,4.0,4.0\n") !=
        std::string::npos);
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
  CHECK(rle_to_polygons(line) == std::vector<std::vector<double>>{{1, 0, 2, 0, 2, 4, 1, 4}});
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
