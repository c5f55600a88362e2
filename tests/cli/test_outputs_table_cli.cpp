// --dry-run against the outputs table itself: every row of every flag is listed.
#include <filesystem>
#include <fstream>

#include "io/image_reader.h"
#include "io/inputs.h"
#include "io/outputs.h"
#include "io/run_config.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("Dry run lists every output of every flag, as the outputs table has them", "[cli][dry-run][outputs]") {
  TempDir dir;
  fs::create_directories(dir.file("in"));
  write_image_rgb(dir.file("in/a.png"), make_image(32, 24, kBlack, {{4, 4, 20, 20, kRed}}));
  write_image_rgb(dir.file("in/b.png"), make_image(32, 24, kBlack, {{4, 4, 20, 20, kBlue}}));
  IoOptions io;
  io.input = {dir.file("in")};
  io.out = dir.file("o/m.json");
  io.out_dir = dir.file("od");
  io.jsonl = dir.file("j.jsonl");
  io.yolo = dir.file("labels");
  io.overlay_dir = dir.file("ov");
  const std::vector<InputFile> inputs = collect_inputs(io);
  for (const std::optional<Shard>& shard : {std::optional<Shard>(), std::optional<Shard>(Shard{0, 2})}) {
    const std::string flags = " --input " + io.input[0] + " --out " + io.out + " --out-dir " + io.out_dir +
                              " --jsonl " + io.jsonl + " --yolo " + io.yolo + " --overlay-dir " + io.overlay_dir +
                              (shard ? " --shard 0/2" : " --shard none");
    const std::string listing_file = dir.file("dry.txt");
    REQUIRE(run_command(cli_binary() + " --dry-run --model " + synthetic_model_path() + flags + " >" + listing_file +
                        " 2>/dev/null") == 0);
    const std::string listing = slurp(listing_file);
    INFO(listing);
    const auto table = output_table(plan_outputs(io, shard), shard ? inputs_of_shard(inputs, *shard) : inputs);
    CHECK(table.size() >= 14);
    for (const OutputRow& row : table) {
      INFO(row.flag + " " + row.what);
      CHECK(listing.find(" " + row.path) != std::string::npos);
    }
    CHECK_FALSE(fs::exists(dir.file("o")));
  }
}
