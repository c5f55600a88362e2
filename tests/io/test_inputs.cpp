// Finding the inputs (collect_inputs), and the review's edge cases of inputs and outputs.
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "io/image_reader.h"
#include "io/inputs.h"
#include "io/polygons.h"
#include "io/run_config.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

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
