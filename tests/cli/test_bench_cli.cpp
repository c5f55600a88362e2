// `sam2-amg bench` end to end: a folder of distinct images, and the report's fields for the
// device waits per image, the stage clock, the prepare stage and the paths that ran.
#include <nlohmann/json.hpp>

#include <fstream>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
using nlohmann::json;

TEST_CASE("bench reports device waits per image, the stage clock and the paths", "[cli][bench]") {
  CliFixture f;
  f.add_image("a.png", four_object_scene());
  f.add_image("b.png", make_image(96, 64, kBlack, {{8, 8, 40, 40, kRed}, {50, 10, 90, 60, kGreen}}));
  const CliResult r = f.capture(
      f.command("bench --input " + f.images + " --repeat 2 --warmup 0 --bench-json " + f.file("bench.json")) + " 2>&1");
  REQUIRE(r.rc == 0);
  std::ifstream in(f.file("bench.json"));
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
  const std::string& out = r.out;
  CHECK(out.find("host reads per image") != std::string::npos);
  CHECK(out.find("postprocess_kernel:") != std::string::npos);
}

TEST_CASE("A model run restarts with passive thread pools unless their wait was chosen, and takes --threads",
          "[cli][threads]") {
  CliFixture f;
  f.add_image("a.png");
  const std::string unset = "env -u OMP_WAIT_POLICY -u OPENBLAS_THREAD_TIMEOUT ";
  CliResult r = f.capture(unset + f.command("-v --input " + f.images + " --out " + f.file("a.json")));
  REQUIRE(r.rc == 0);
  CHECK(r.err.find("pools passive") != std::string::npos);
  // The user's choice stands.
  r = f.capture("env OMP_WAIT_POLICY=active " + f.command("-v --input " + f.images + " --out " + f.file("b.json")));
  REQUIRE(r.rc == 0);
  CHECK(r.err.find("pools spinning") != std::string::npos);
  // OpenMP reads the policy in any case; so does the runtime line.
  r = f.capture("env OMP_WAIT_POLICY=Passive " + f.command("-v --input " + f.images + " --out " + f.file("d.json")));
  REQUIRE(r.rc == 0);
  CHECK(r.err.find("pools passive") != std::string::npos);
  r = f.capture(unset + f.command("-v --threads 1 --input " + f.images + " --out " + f.file("c.json")));
  REQUIRE(r.rc == 0);
  CHECK(r.err.find(", 1 CPU threads (") != std::string::npos);
}
