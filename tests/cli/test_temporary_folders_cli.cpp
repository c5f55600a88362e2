// The bench's scratch folder goes when it ends: it is removed file by file (no recursive
// std::filesystem call, pytorch/pytorch#133437), so a file it forgot to name would keep it.
#include <filesystem>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("bench leaves nothing in the temporary folder", "[cli][bench]") {
  CliFixture f;
  f.points_per_side = 4;
  const std::string tmp = f.file("tmp");
  fs::create_directory(tmp);
  f.add_image("a.png", make_image(32, 24, kBlack, {{4, 4, 20, 16, kRed}}));
  // Two images and two timed runs: every scratch file (the timing and folder passes) is written.
  f.add_image("b.png", make_image(24, 32, kBlack, {{2, 2, 12, 30, kBlue}}));
  const CliResult r =
      f.capture("TMPDIR=" + tmp + " " +
                f.command("bench --input " + f.images + "/a.png " + f.images + "/b.png --repeat 2") + " 2>&1");
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("per image") != std::string::npos);
  CHECK(fs::is_empty(tmp));
}
