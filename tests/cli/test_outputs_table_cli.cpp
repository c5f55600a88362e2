// --dry-run against the outputs table itself: every row of every flag is listed.
#include <filesystem>

#include "io/inputs.h"
#include "io/outputs.h"
#include "io/run_config.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("Dry run lists every output of every flag, as the outputs table has them", "[cli][dry-run][outputs]") {
  CliFixture f;
  f.add_image("a.png", make_image(32, 24, kBlack, {{4, 4, 20, 20, kRed}}));
  f.add_image("b.png", make_image(32, 24, kBlack, {{4, 4, 20, 20, kBlue}}));
  IoOptions io;
  io.input = {f.images};
  io.out = f.file("o/m.json");
  io.out_dir = f.file("od");
  io.jsonl = f.file("j.jsonl");
  io.yolo = f.file("labels");
  io.overlay_dir = f.file("ov");
  const std::vector<InputFile> inputs = collect_inputs(io);
  for (const std::optional<Shard>& shard : {std::optional<Shard>(), std::optional<Shard>(Shard{0, 2})}) {
    const std::string flags = " --input " + io.input[0] + " --out " + io.out + " --out-dir " + io.out_dir +
                              " --jsonl " + io.jsonl + " --yolo " + io.yolo + " --overlay-dir " + io.overlay_dir +
                              (shard ? " --shard 0/2" : " --shard none");
    const CliResult r = f.run_binary("--dry-run --model " + f.model + flags);
    REQUIRE(r.rc == 0);
    const std::string& listing = r.out;
    INFO(listing);
    const auto table = output_table(plan_outputs(io, shard), shard ? inputs_of_shard(inputs, *shard) : inputs);
    CHECK(table.size() >= 14);
    for (const OutputRow& row : table) {
      INFO(row.flag + " " + row.what);
      CHECK(listing.find(" " + row.path) != std::string::npos);
    }
    CHECK_FALSE(fs::exists(f.file("o")));
  }
}
