// Runs the real sam2-amg binary (path from SAM2AMG_BIN, set by CTest).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::string bin() {
  const char* b = std::getenv("SAM2AMG_BIN");
  return b ? b : "sam2-amg";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("--help lists every AMG flag with its reference default", "[cli]") {
  TempDir dir;
  REQUIRE(run_command(bin() + " --help > " + dir.file("help.txt") + " 2>&1") == 0);
  const std::string help = slurp(dir.file("help.txt"));
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--points-per-side", "32"},        {"--points-per-batch", "64"},
      {"--pred-iou-thresh", "0.8"},       {"--stability-score-thresh", "0.95"},
      {"--stability-score-offset", "1"},  {"--mask-threshold", "0"},
      {"--box-nms-thresh", "0.7"},        {"--crop-n-layers", "0"},
      {"--crop-nms-thresh", "0.7"},       {"--crop-overlap-ratio", "0.341333"},
      {"--crop-n-points-downscale-factor", "1"}, {"--point-grids", ""},
      {"--min-mask-region-area", "0"},    {"--output-mode", "binary_mask"},
      {"--use-m2m", "false"},             {"--multimask-output", "true"}};
  for (const auto& [flag, def] : flags) {
    INFO(flag);
    const size_t at = help.find(flag);
    REQUIRE(at != std::string::npos);
    const std::string line = help.substr(at, help.find('\n', at) - at);
    CHECK(line.find(def) != std::string::npos);
  }
}

TEST_CASE("sam2-amg runs a folder with the synthetic model and skips a bad image", "[cli][e2e]") {
  TempDir dir;
  const std::string model = dir.file("synthetic.pt");
  REQUIRE(run_command(bin() + " make-synthetic-model " + model + " 2>/dev/null") == 0);
  std::filesystem::create_directory(dir.file("in"));
  write_image_rgb(dir.file("in/b.png"), four_object_scene());
  write_image_rgb(dir.file("in/a.png"), make_image(64, 48, kBlack, {{8, 8, 40, 40, kRed}}));
  std::ofstream(dir.file("in/c.png")) << "corrupt";

  const std::string out = dir.file("masks.json");
  const int rc = run_command(bin() + " --model " + model + " --input " + dir.file("in") + " --out " + out +
                             " --device " + test_device() + " --points_per_side 16 2> " + dir.file("log.txt"));
  CHECK(rc == 4);  // the bad image is reported with its own exit code, after a complete run
  const std::string log = slurp(dir.file("log.txt"));
  CHECK(log.find("c.png") != std::string::npos);

  std::ifstream in(out);
  const auto j = nlohmann::json::parse(in);
  REQUIRE(j["images"].size() == 2);
  CHECK(j["images"][0]["file_name"] == "a.png");  // sorted order
  CHECK(j["images"][1]["width"] == 256);
  int per_image[3] = {0, 0, 0};
  for (const auto& a : j["annotations"]) ++per_image[a["image_id"].get<int>()];
  CHECK(per_image[1] == 2);  // background and the red square
  CHECK(per_image[2] == 5);
  CHECK(j["annotations"][0]["id"] == 1);
}

TEST_CASE("Invalid values exit with code 2 and a message", "[cli]") {
  TempDir dir;
  write_image_rgb(dir.file("a.png"), four_object_scene());
  const std::string base = bin() + " --model " + dir.file("x.pt") + " --input " + dir.file("a.png") + " --out " +
                           dir.file("o.json");
  CHECK(run_command(base + " --box-nms-thresh 2 2>" + dir.file("e1.txt")) == 2);
  CHECK(slurp(dir.file("e1.txt")).find("box_nms_thresh") != std::string::npos);
  CHECK(run_command(base + " --output-mode png 2>/dev/null") == 2);
  CHECK(run_command(base + " --no-such-flag 2>/dev/null") == 2);
  CHECK(run_command(bin() + " --input " + dir.path() + " 2>/dev/null") == 2);  // --model and --out missing
  CHECK(run_command(base + " 2>" + dir.file("e2.txt")) == 3);    // model file missing
  CHECK(slurp(dir.file("e2.txt")).find("x.pt") != std::string::npos);
}
