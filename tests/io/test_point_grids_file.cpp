// Explicit point grids read from a JSON file.
#include <fstream>

#include "common/error.h"
#include "io/point_grids_file.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

TEST_CASE("read_point_grids reads one grid per layer", "[io][grids]") {
  TempDir dir;
  std::ofstream(dir.file("g.json")) << "[[[0.25, 0.5], [0.75, 0.5]], [[0.5, 0.5]]]";
  const auto grids = read_point_grids(dir.file("g.json"));
  REQUIRE(grids.size() == 2);
  CHECK(grids[0][1] == std::array<double, 2>{0.75, 0.5});
  std::ofstream(dir.file("bad.json")) << "{\"x\": 1}";
  CHECK_THROWS_AS(read_point_grids(dir.file("bad.json")), UsageError);
}
