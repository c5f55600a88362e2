// The JSON-lines writer: the run record once, then one line per image.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/sha256.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "writer_fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
using nlohmann::json;

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
