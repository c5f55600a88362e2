// The real binary against inputs and outputs that could lose data: odd names, a second run on
// the same outputs, outputs that name inputs or each other.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A synthetic model and a folder `in` of small images with the given names.
struct SafetyCorpus {
  TempDir dir;
  std::string model = dir.file("synthetic.pt");
  std::string images = dir.file("in");
  explicit SafetyCorpus(const std::vector<std::string>& names) {
    REQUIRE(run_command(cli_binary() + " make-synthetic-model " + model + " 2>/dev/null") == 0);
    fs::create_directory(images);
    for (const std::string& name : names)
      write_image_rgb(images + "/" + name, make_image(64, 48, kBlack, {{4, 4, 30, 20, kRed}, {20, 28, 60, 44, kBlue}}));
  }
  std::string run(const std::string& args) const {
    return cli_binary() + " -q --model " + model + " --device " + test_device() + " --points-per-side 8 " + args;
  }
};

}  // namespace

TEST_CASE("Inputs named '...png' and '..png' write inside --out-dir and touch nothing outside", "[cli][safety]") {
  SafetyCorpus c({"...png", "..png", "plain.png"});
  std::ofstream(c.dir.file("canary.txt")) << "outside";
  const std::string out = c.dir.file("out");
  REQUIRE(run_command(c.run("--input " + c.images + " --out-dir " + out)) == 0);
  CHECK(slurp(c.dir.file("canary.txt")) == "outside");
  CHECK(fs::exists(c.model));
  for (const char* stem : {"%2E%2E", "%2E", "plain"}) {
    INFO(stem);
    CHECK(slurp(out + "/" + stem + "/metadata.csv").find("\n2,") != std::string::npos);  // three masks
  }
  // The RLE modes: "<stem>.json" files, also inside.
  REQUIRE(run_command(c.run("--output-mode coco_rle --input " + c.images + " --out-dir " + c.dir.file("rle"))) == 0);
  CHECK(json::parse(slurp(c.dir.file("rle/%2E%2E.json")))["image"]["file_name"] == "...png");
  CHECK(json::parse(slurp(c.dir.file("rle/%2E.json")))["image"]["file_name"] == "..png");
  CHECK(slurp(c.dir.file("canary.txt")) == "outside");
}
