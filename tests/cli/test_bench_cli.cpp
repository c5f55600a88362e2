// `sam2-amg bench` end to end: a folder of distinct images, and the report's fields for the
// device waits per image, the stage clock, the prepare stage and the paths that ran.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

TEST_CASE("bench reports device waits per image, the stage clock and the paths", "[cli][bench]") {
  TempDir dir;
  const std::string images = dir.file("in");
  fs::create_directory(images);
  write_image_rgb(images + "/a.png", four_object_scene());
  write_image_rgb(images + "/b.png", make_image(96, 64, kBlack, {{8, 8, 40, 40, kRed}, {50, 10, 90, 60, kGreen}}));
  const std::string cmd = cli_binary() + " bench --model " + synthetic_model_path() + " --device " + test_device() +
                          " --points-per-side 8 --input " + images + " --repeat 2 --warmup 0 --bench-json " +
                          dir.file("bench.json") + " > " + dir.file("out.txt") + " 2>&1";
  REQUIRE(run_command(cmd) == 0);
  std::ifstream in(dir.file("bench.json"));
  const json j = json::parse(in);
  const json& ims = j.at("images");
  REQUIRE(ims.size() == 2);
  std::int64_t most = 0;
  for (const json& im : ims) {
    INFO(im.at("path"));
    const std::int64_t reads = im.at("host_reads");
    CHECK(reads >= 2);  // the candidates' compaction and the records' copy at least
    CHECK(reads <= 5);
    most = std::max(most, reads);
    CHECK(im.at("seconds").size() == 2);
    CHECK(im.at("median_stage_seconds").at("prepare") > 0.0);  // the decode threads' share, timed apart
    if (test_device() == "cpu") CHECK(im.at("device_syncs").is_null());
  }
  const json& s = j.at("summary");
  CHECK(s.at("host_reads_per_image") == most);
  CHECK(s.at("p50_seconds") <= s.at("p90_seconds"));
  CHECK(s.at("images_per_second") > 0.0);
  if (test_device() == "cpu") {
    CHECK(s.at("stage_clock") == "wall clock");
    CHECK(s.at("device_syncs_per_image").is_null());
  }
  const json& paths = j.at("paths");
  CHECK(paths.at("postprocess") == "fused");
  CHECK(paths.at("decoder") == "exact");  // the synthetic model is an exact (fp32) export
  CHECK(paths.at("decoder_graph") == "eager");
  if (test_device() == "cpu") {
    CHECK(paths.at("preprocess") == "cpu, in the decode workers");
    CHECK(paths.at("postprocess_kernel") == "cpu fused kernel");
  }
  // The printed report says the same.
  const std::string out = slurp(dir.file("out.txt"));
  CHECK(out.find("host reads per image") != std::string::npos);
  CHECK(out.find("postprocess_kernel:") != std::string::npos);
}
