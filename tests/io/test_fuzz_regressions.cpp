// Every input the fuzzers (scripts/fuzz.sh) ever crashed on, kept in tests/data/fuzz/<target>/,
// goes through the same entry point: a typed refusal or success, never a crash. Under the
// sanitizer build (scripts/run-sanitized-tests.sh) this also catches memory errors and UB.
#include <algorithm>
#include <filesystem>

#include "fuzz/fuzz_targets.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
namespace fs = std::filesystem;

namespace {

void feed(const fuzz::Target& target, const std::string& bytes) {
  target.run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

TEST_CASE("Fuzz reproducers: every committed crash input is handled", "[io][fuzz]") {
  const fs::path root = fs::path(SAM2AMG_SOURCE_DIR) / "tests" / "data" / "fuzz";
  int fed = 0;
  for (const fuzz::Target& target : fuzz::targets()) {
    const fs::path dir = root / target.name;
    if (!fs::is_directory(dir)) continue;
    for (const auto& entry : fs::directory_iterator(dir)) {
      INFO(entry.path().string());
      CHECK_NOTHROW(feed(target, test::slurp(entry.path().string())));
      ++fed;
    }
  }
  CHECK(fed >= 3);  // the folder was found (one reproducer per finding of docs/fuzzing.md)
}

TEST_CASE("Fuzz entry points accept valid inputs and check their properties", "[io][fuzz]") {
  // Valid inputs reach the property checks; a broken round trip would throw PropertyViolation.
  const auto& t = fuzz::targets();
  auto by_name = [&](const std::string& name) {
    return *std::find_if(t.begin(), t.end(), [&](const fuzz::Target& x) { return x.name == name; });
  };
  CHECK_NOTHROW(feed(by_name("rle_codec"), std::string("\x00\x03\x00\x02", 4) + "123"));
  CHECK_NOTHROW(feed(by_name("config_yaml"), "points_per_side: null\npoint_grids: [[[0.25, 0.5]]]\n"
                                             "crop_overlap_ratio: 512/1500\nout: \"m.json\"\n"));
  CHECK_NOTHROW(feed(by_name("point_grids_file"), "[[[0.25, 0.5], [0.75, 0.5]], [[0.5, 0.5]]]"));
  CHECK_NOTHROW(feed(by_name("image_header"), test::slurp(std::string(SAM2AMG_SOURCE_DIR) + "/tests/data/images/shapes.png")));
}
