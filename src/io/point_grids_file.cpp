#include "io/point_grids_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "io/bounded_read.h"

namespace sam2amg {

std::vector<PointGrid> read_point_grids(const std::string& path) {
  std::vector<std::uint8_t> bytes;  // a regular file below the cap: never a FIFO or a device
  if (const std::string why = read_bounded_file(path, kMaxConfigFileBytes, bytes); !why.empty())
    throw UsageError("cannot read point grids file '" + printable(path) + "': " + why);
  return parse_point_grids(std::string(bytes.begin(), bytes.end()), path);
}

std::vector<PointGrid> parse_point_grids(const std::string& text, const std::string& path) {
  try {
    const auto j = nlohmann::json::parse(text);
    return j.get<std::vector<PointGrid>>();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError("point grids file '" + printable(path) +
                     "' must be a JSON list of grids, each a list of [x, y] pairs in [0, 1]: " + e.what());
  }
}

}  // namespace sam2amg
