#pragma once
/// Reads explicit point grids (AmgConfig::point_grids) from a JSON file.
#include <string>
#include <vector>

#include "amg/amg_config.h"

namespace sam2amg {

/// File format: a JSON list with one grid per crop layer, each a list of [x, y] pairs in
/// normalised [0, 1] coordinates, e.g. [[[0.25, 0.5], [0.75, 0.5]]]. Throws UsageError.
std::vector<PointGrid> read_point_grids(const std::string& path);

/// The same format from a file's text; `path` names it in messages. Throws UsageError.
std::vector<PointGrid> parse_point_grids(const std::string& text, const std::string& path);

}  // namespace sam2amg
