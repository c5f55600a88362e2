// The bench report's fields for measuring without disturbing: device waits per image, how the
// stages were timed, the prepare stage, and which paths ran ("unknown" where a part cannot say).
#include <nlohmann/json.hpp>

#include <fstream>

#include "io/bench_json.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
using nlohmann::json;

namespace {

json written(const BenchReport& report) {
  TempDir dir;
  write_bench_json(dir.file("bench.json"), report);
  std::ifstream in(dir.file("bench.json"));
  return json::parse(in);
}

BenchReport sample() {
  BenchReport r;
  BenchImage im;
  im.path = "a.png";
  im.width = 40;
  im.height = 30;
  im.seconds = {0.5, 0.25};
  im.median.prepare = 0.125;
  im.median.decoder = 0.0625;
  im.host_reads = 4;
  im.device_syncs = 3;
  r.images.push_back(im);
  im.path = "b.png";
  im.host_reads = 5;
  im.device_syncs = -1;
  r.images.push_back(im);
  r.summary.p50_seconds = 0.25;
  r.loop.host_reads_per_image = 5;
  r.loop.device_syncs_per_image = 3;
  r.loop.stage_clock = "cuda events";
  r.loop.paths = {{"preprocess", "device (fast mode)"}, {"decoder", "unknown"}};
  return r;
}

}  // namespace

TEST_CASE("bench JSON: device waits, stage clock and paths", "[io][bench]") {
  const json j = written(sample());
  const json& s = j.at("summary");
  CHECK(s.at("host_reads_per_image") == 5);
  CHECK(s.at("device_syncs_per_image") == 3);
  CHECK(s.at("stage_clock") == "cuda events");
  CHECK(s.at("p50_seconds") == 0.25);
  CHECK(j.at("paths") == json{{"preprocess", "device (fast mode)"}, {"decoder", "unknown"}});
  const json& a = j.at("images").at(0);
  CHECK(a.at("host_reads") == 4);
  CHECK(a.at("device_syncs") == 3);
  CHECK(a.at("median_stage_seconds").at("prepare") == 0.125);
  CHECK(a.at("median_stage_seconds").at("decoder") == 0.0625);
  // Unknown counts are null, not a number that could be mistaken for a measurement.
  CHECK(j.at("images").at(1).at("device_syncs").is_null());
}

TEST_CASE("bench JSON: unknown sync count is null, and the reference's summary has none of our fields", "[io][bench]") {
  BenchReport r = sample();
  r.loop.device_syncs_per_image = -1;
  r.has_reference = true;
  r.reference.summary.p50_seconds = 1.0;
  const json j = written(r);
  CHECK(j.at("summary").at("device_syncs_per_image").is_null());
  CHECK_FALSE(j.at("reference").at("summary").contains("host_reads_per_image"));
  CHECK(j.at("speedup_p50") == 4.0);
}
