// The run's outputs table and the pieces of issue-level behaviour it carries: path lists, the
// settings resume compares, input identity, COCO names, pixel-edge rings.
#include <filesystem>
#include <fstream>
#include <set>

#include "amg/rle_host.h"
#include "common/error.h"
#include "io/inputs.h"
#include "io/outputs.h"
#include "io/polygons.h"
#include "io/provenance.h"
#include "io/run_config.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/coco_decoders.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("Path lists: NUL-separated when they hold a NUL, else one per line", "[io][inputs]") {
  using V = std::vector<std::string>;
  CHECK(split_path_list(std::string("a.png\0b\nc.png\0\0d e.png", 22), false) == V{"a.png", "b\nc.png", "d e.png"});
  CHECK(split_path_list("a.png\r\n\nb.png\n# c.png\n", false) == V{"a.png", "b.png", "# c.png"});
  CHECK(split_path_list("a.png\r\n\nb.png\n# c.png\n", true) == V{"a.png", "b.png"});
  for (const std::string& p : split_path_list(std::string("x\0y\0", 4), false)) CHECK(p.find('\0') == std::string::npos);
}

TEST_CASE("Resume compares the settings that change masks, and names them", "[io][resume]") {
  RunConfig a, b;
  std::string ya = to_yaml(a, YamlKeys::kRecorded);
  // Run-only settings: equal.
  b.io.threads = 3;
  b.io.overlay_dir = "ov";
  b.io.yolo = "labels";
  b.io.input = {"./ds"};
  b.io.device = Device();
  CHECK(differing_settings(ya, to_yaml(b, YamlKeys::kRecorded)).empty());
  // A mask setting: named, with both values.
  b.amg.points_per_side = 5;
  const auto keys = differing_settings(ya, to_yaml(b, YamlKeys::kRecorded));
  REQUIRE(keys.size() == 1);
  CHECK(keys[0] == "points_per_side: 32 -> 5");
  CHECK(differing_settings("not: [a config", ya) == std::vector<std::string>{"config"});

  const Provenance now{"1", "m.pt", "sha", to_yaml(b, YamlKeys::kRecorded), "apply"};
  const Provenance before{"1", "m.pt", "sha", ya, "apply"};
  try {
    check_resumable(provenance_json(before), now, "--out 'x.json'");
    FAIL("not refused");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("points_per_side: 32 -> 5") != std::string::npos);
  }
  b.amg.points_per_side = 32;
  const Provenance same{"1", "m.pt", "sha", to_yaml(b, YamlKeys::kRecorded), "apply"};
  CHECK(check_resumable(provenance_json(before), same, "x") == config_sha256(before));
}

TEST_CASE("An input's identity: canonical key and exact bytes, content stamp", "[io][resume]") {
  TempDir dir;
  fs::create_directories(dir.file("ds"));
  std::ofstream(dir.file("ds/a\xff.png")) << "12345";
  const InputFile plain{dir.file("ds/a\xff.png"), "a\xff.png", ""};
  const InputFile dotted{dir.path() + "/./ds/a\xff.png", "a\xff.png", ""};
  CHECK(escape_bytes("a\xff%b c.png") == "a%FF%25b%20c.png");
  CHECK(input_key(plain) == input_key(dotted));
  const nlohmann::json id = input_identity_json(plain);
  CHECK(id["size"] == 5);
  CHECK(match_input(id, "", dotted) == InputMatch::kSame);
  CHECK(match_input(id, "", InputFile{dir.file("ds/b.png"), "b.png", ""}) == InputMatch::kOther);
  std::ofstream(dir.file("ds/a\xff.png")) << "123456";
  CHECK(match_input(id, "", plain) == InputMatch::kChanged);
  // An older output records only the path: its canonical form is the key.
  CHECK(match_input(nullptr, dotted.path, plain) == InputMatch::kSame);
}

TEST_CASE("COCO file_names: relative to the inputs' common folder, unique", "[io][coco]") {
  const std::vector<InputFile> two{{"/data/d1/same.png", "same.png", ""}, {"/data/d2/same.png", "same.png", ""}};
  const auto names = coco_file_names(two);
  CHECK(names.at("/data/d1/same.png") == "d1/same.png");
  CHECK(names.at("/data/d2/same.png") == "d2/same.png");
  const std::vector<InputFile> one_folder{{"/data/d1/a.png", "a.png", ""}, {"/data/d1/sub/b.png", "sub/b.png", ""}};
  CHECK(coco_file_names(one_folder).at("/data/d1/sub/b.png") == "sub/b.png");
  CHECK(coco_file_names({{"/x/a.png", "a.png", ""}}).at("/x/a.png") == "a.png");
}

TEST_CASE("Pixel-edge rings: parts minus holes give the mask exactly", "[io][polygons]") {
  std::vector<std::uint8_t> m(40 * 30, 0);
  auto fill = [&](int x0, int y0, int x1, int y1, std::uint8_t v) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) m[size_t(y) * 40 + x] = v;
  };
  fill(0, 0, 40, 30, 1);
  fill(4, 4, 12, 12, 0);
  fill(20, 10, 30, 25, 0);
  fill(24, 14, 26, 20, 1);  // an island in a hole
  const PixelEdgeRings r = pixel_edge_rings(rle_from_mask(m.data(), 30, 40));
  CHECK(r.outer.size() == 2);
  CHECK(r.holes.size() == 2);
  // A pixel is in the mask exactly when it is inside an odd number of rings (the island's ring
  // is a part inside a hole).
  std::vector<std::uint8_t> got(m.size(), 0);
  for (const auto* rings : {&r.outer, &r.holes})
    for (const auto& ring : *rings) {
      const auto one = rasterize_polygons({ring}, 30, 40);
      for (size_t i = 0; i < m.size(); ++i) got[i] ^= one[i];
    }
  CHECK(got == m);
}

TEST_CASE("The outputs table: every flag's outputs and side files, one row each", "[io][outputs]") {
  IoOptions io;
  io.out = "o/m.json";
  io.out_dir = "od";
  io.jsonl = "j.jsonl";
  io.yolo = "labels";
  io.overlay_dir = "ov";
  const std::vector<InputFile> inputs{{"in/a.png", "a.png", ""}};
  const auto table = output_table(plan_outputs(io, std::nullopt), inputs);
  std::set<std::string> paths;
  for (const OutputRow& r : table) CHECK(paths.insert(r.path).second);  // no path twice
  for (const char* p : {"o/m.json", "o/m.json.partial.jsonl", "o/m.json.lock", "j.jsonl", "j.jsonl.lock", "od",
                        "od/run.json", "od/.sam2amg.lock", "labels", "labels/sam2_amg.jsonl", "labels/.sam2amg.lock",
                        "ov", "ov/.sam2amg-overlays.lock", "ov/a.overlay.png"})
    CHECK(paths.count(p) == 1);
  // A shard: its own files and its marker.
  const auto sharded = output_table(plan_outputs(io, Shard{1, 4}), inputs);
  std::set<std::string> shard_paths;
  for (const OutputRow& r : sharded) shard_paths.insert(r.path);
  for (const char* p : {"o/m.shard-00001-of-00004.json", "o/m.shard-00001-of-00004.done.json",
                        "labels/sam2_amg.shard-00001-of-00004.jsonl", "od/shard-00001-of-00004.lock"})
    CHECK(shard_paths.count(p) == 1);
  // Adding an output needs a writer row: overlays alone are not an output.
  IoOptions only_overlays;
  only_overlays.overlay_dir = "ov";
  CHECK_FALSE(has_mask_output(only_overlays));
  CHECK(has_mask_output(io));
}
