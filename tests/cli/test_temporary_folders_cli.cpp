// The bench's scratch folder goes when it ends: it is removed file by file (no recursive
// std::filesystem call, pytorch/pytorch#133437), so a file it forgot to name would keep it.
#include <filesystem>

#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("bench leaves nothing in the temporary folder", "[cli][bench]") {
  TempDir dir;
  const std::string tmp = dir.file("tmp");
  fs::create_directory(tmp);
  write_image_rgb(dir.file("a.png"), make_image(32, 24, kBlack, {{4, 4, 20, 16, kRed}}));
  // Two images and two timed runs: every scratch file (the timing and folder passes) is written.
  write_image_rgb(dir.file("b.png"), make_image(24, 32, kBlack, {{2, 2, 12, 30, kBlue}}));
  const int rc = run_command("TMPDIR=" + tmp + " " + cli_binary() + " bench --model " + synthetic_model_path() +
                             " --input " + dir.file("a.png") + " " + dir.file("b.png") +
                             " --points-per-side 4 --repeat 2 --device " + test_device() + " > " + dir.file("out.txt") +
                             " 2>&1");
  REQUIRE(rc == 0);
  CHECK(slurp(dir.file("out.txt")).find("per image") != std::string::npos);
  CHECK(fs::is_empty(tmp));
}
