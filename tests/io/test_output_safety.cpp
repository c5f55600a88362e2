// Outputs never leave their folder, and nothing is deleted that the run did not create.
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "amg/amg_config.h"
#include "io/inputs.h"
#include "io/safe_files.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

namespace {

MaskRecord square(int size) {
  MaskRecord r;
  r.segmentation = Rle{4, 4, {0, static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(16 - size)}};
  r.area = size;
  r.predicted_iou = 0.9f;
  r.stability_score = 0.95f;
  r.crop_box_xywh = {0, 0, 4, 4};
  return r;
}

const ImageU8 kImage = make_image(4, 4, kBlack, {});
const Provenance kProv{"1", "m", "s", "", "apply"};

// Every file under `dir`, relative, sorted.
std::vector<std::string> tree(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

// The message of the UsageError `f` throws; empty when it throws none (Catch2 v2 and v3 name
// their matchers differently).
template <typename F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("Input names become output names strictly inside the output folder", "[io][safety]") {
  CHECK(safe_relative_name("..") == "%2E%2E");
  CHECK(safe_relative_name(".") == "%2E");
  CHECK(safe_relative_name("a/../b") == "a/%2E%2E/b");
  CHECK(safe_relative_name("/etc/x") == "etc/x");
  CHECK(safe_relative_name("a//b/") == "a/b");
  CHECK(safe_relative_name("") == "%2E");
  CHECK(safe_relative_name("line\nbreak\\x") == "line%0Abreak%5Cx");
  CHECK(safe_relative_name("sub/.hidden") == "sub/.hidden");  // dot files are fine
  CHECK(safe_relative_name("...") == "...");
  CHECK(path_inside("out", "a/b") == "out/a/b");
  for (const char* bad : {"..", ".", "", "/x", "a/../b", "a//b", "a/."}) {
    INFO(bad);
    CHECK_THROWS_AS(path_inside("out", bad), OutputError);
  }
}

TEST_CASE("binary_mask folders named '..' and '.' stay inside --out-dir, nothing outside is touched",
          "[io][safety]") {
  TempDir root;
  const std::string out = root.file("out");
  fs::create_directories(out);
  std::ofstream(root.file("canary.txt")) << "outside";
  std::ofstream(root.file("out/keep.txt")) << "user file inside";
  // Stems "..", "." and "sub/..": the old writer removed the output folder's parent, the folder
  // itself and sub/'s parent.
  const std::vector<InputFile> inputs = {
      {root.file("in/...png"), "...png", ""}, {root.file("in/..png"), "..png", ""},
      {root.file("in/sub/...png"), "sub/...png", ""}};
  auto w = make_per_image_writer(out, OutputMode::kBinaryMask, SegmentationFormat::kCompressedRle, false, kProv, inputs);
  for (const auto& in : inputs) w->write({in, 4, 4}, kImage, {square(3), square(5)});
  w->finish(true);

  CHECK(slurp(root.file("canary.txt")) == "outside");
  CHECK(slurp(root.file("out/keep.txt")) == "user file inside");
  CHECK(tree(root.path()) == std::vector<std::string>{"canary.txt",
                                                      "out",
                                                      "out/%2E",
                                                      "out/%2E%2E",
                                                      "out/%2E%2E/0.png",
                                                      "out/%2E%2E/1.png",
                                                      "out/%2E%2E/metadata.csv",
                                                      "out/%2E%2E/sam2_amg.json",
                                                      "out/%2E/0.png",
                                                      "out/%2E/1.png",
                                                      "out/%2E/metadata.csv",
                                                      "out/%2E/sam2_amg.json",
                                                      "out/keep.txt",
                                                      "out/run.json",
                                                      "out/sub",
                                                      "out/sub/%2E%2E",
                                                      "out/sub/%2E%2E/0.png",
                                                      "out/sub/%2E%2E/1.png",
                                                      "out/sub/%2E%2E/metadata.csv",
                                                      "out/sub/%2E%2E/sam2_amg.json"});
  CHECK(w->done(inputs[0]));
}

TEST_CASE("An existing mask folder is replaced file by file, never removed recursively", "[io][safety]") {
  TempDir root;
  const std::string out = root.file("out");
  const std::vector<InputFile> inputs = {{root.file("in/x.png"), "x.png", ""}};
  {
    auto w = make_per_image_writer(out, OutputMode::kBinaryMask, SegmentationFormat::kCompressedRle, false, kProv, inputs);
    w->write({inputs[0], 4, 4}, kImage, {square(3), square(5)});
  }
  REQUIRE(fs::exists(root.file("out/x/1.png")));
  // An earlier run's folder (only files the writer makes): replaced, the stale 1.png gone.
  {
    auto w = make_per_image_writer(out, OutputMode::kBinaryMask, SegmentationFormat::kCompressedRle, false, kProv, inputs);
    w->write({inputs[0], 4, 4}, kImage, {square(7)});
  }
  CHECK(fs::exists(root.file("out/x/0.png")));
  CHECK_FALSE(fs::exists(root.file("out/x/1.png")));
  CHECK(slurp(root.file("out/x/metadata.csv")).find("\n0,7,") != std::string::npos);

  // A folder holding anything else is the user's: refused, and every file of it kept.
  std::ofstream(root.file("out/x/notes.txt")) << "mine";
  auto w = make_per_image_writer(out, OutputMode::kBinaryMask, SegmentationFormat::kCompressedRle, false, kProv, inputs);
  CHECK_THROWS_AS(w->write({inputs[0], 4, 4}, kImage, {square(2)}), OutputError);
  CHECK(slurp(root.file("out/x/notes.txt")) == "mine");
  CHECK(slurp(root.file("out/x/metadata.csv")).find("\n0,7,") != std::string::npos);
  // The temporary folder of the failed write is gone; nothing else was created.
  CHECK(tree(out) ==
        std::vector<std::string>{"run.json", "x", "x/0.png", "x/metadata.csv", "x/notes.txt", "x/sam2_amg.json"});
}

TEST_CASE("An output lock is exclusive and leaves no file behind", "[io][safety]") {
  TempDir dir;
  const std::string lock = dir.file("m.json.lock");
  {
    OutputLock first(lock, dir.file("m.json"));
    CHECK(fs::exists(lock));
    try {
      OutputLock second(lock, dir.file("m.json"));
      FAIL("a second lock on the same output was granted");
    } catch (const UsageError& e) {
      CHECK(std::string(e.what()).find("another sam2-amg run is writing '" + dir.file("m.json") + "'") !=
            std::string::npos);
      CHECK(e.exit_code() == 2);
    }
  }
  CHECK_FALSE(fs::exists(lock));
  OutputLock again(lock, dir.file("m.json"));  // released: free again
  CHECK(fs::exists(lock));
}

TEST_CASE("Per-image outputs record their image, resume refuses one of another input or run", "[io][safety][resume]") {
  for (const OutputMode mode : {OutputMode::kBinaryMask, OutputMode::kCocoRle}) {
    INFO("output_mode " << enum_name(mode));
    TempDir root;
    const std::string out = root.file("out");
    // The same name from two folder inputs: "x.png" and "x.png~2".
    const InputFile a{root.file("a/x.png"), "x.png", ""}, b{root.file("b/x.png"), "x.png", ""};
    {
      auto w = make_per_image_writer(out, mode, SegmentationFormat::kCompressedRle, false, kProv, {a, b});
      w->write({a, 4, 4}, kImage, {square(3)});
      w->write({b, 4, 4}, kImage, {square(5)});
      w->finish(true);
    }
    const std::string x = out + (mode == OutputMode::kBinaryMask ? "/x.png" : "/x.png.json");
    const std::string before = mode == OutputMode::kBinaryMask ? slurp(x + "/metadata.csv") : slurp(x);
    {
      auto w = make_per_image_writer(out, mode, SegmentationFormat::kCompressedRle, false, kProv, {a, b}, true);
      CHECK(w->done(a));  // this run's output of this input
      CHECK(w->done(b));
    }
    // The input set grows: a new folder input sorts first and takes "x.png", whose masks are a's.
    const InputFile c{root.file("0/x.png"), "x.png", ""};
    auto grown = make_per_image_writer(out, mode, SegmentationFormat::kCompressedRle, false, kProv, {c, a, b}, true);
    try {
      grown->done(c);
      FAIL("an output of another input was taken as done");
    } catch (const UsageError& e) {
      const std::string m = e.what();
      CHECK(m.find("holds the masks of '" + a.path + "', not of '" + c.path + "'") != std::string::npos);
      CHECK(m.find(x) != std::string::npos);
    }
    // Another config: refused per image too (shards share the folder and skip run.json).
    Provenance other = kProv;
    other.config_yaml = "points_per_side: 16\n";
    auto w2 = make_per_image_writer(out, mode, SegmentationFormat::kCompressedRle, false, other, {a, b}, false);
    CHECK(usage_error_of([&] { w2->done(a); }).find("holds results of another model or config") != std::string::npos);
    CHECK((mode == OutputMode::kBinaryMask ? slurp(x + "/metadata.csv") : slurp(x)) == before);
  }
}

TEST_CASE("A per-image output without provenance is not taken as done", "[io][safety][resume]") {
  TempDir root;
  const InputFile a{root.file("in/y.png"), "y.png", ""};
  fs::create_directories(root.file("out/y"));
  std::ofstream(root.file("out/y/metadata.csv")) << "id,area";
  auto w = make_per_image_writer(root.file("out"), OutputMode::kBinaryMask, SegmentationFormat::kCompressedRle, false,
                                 kProv, {a}, true);
  CHECK(usage_error_of([&] { w->done(a); }).find("records no image provenance") != std::string::npos);
  for (const char* garbage : {"not json\n", "[1, 2]\n", "{\"sam2_amg\": 5}\n"}) {
    std::ofstream(root.file("out/y/sam2_amg.json"), std::ios::trunc) << garbage;
    CHECK(usage_error_of([&] { w->done(a); }).find("records no image provenance") != std::string::npos);
  }
}
