#include "io/point_grids_file.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"

namespace sam2amg {

std::vector<PointGrid> read_point_grids(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UsageError("cannot open point grids file '" + printable(path) + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse_point_grids(text.str(), path);
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
