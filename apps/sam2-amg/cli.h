#pragma once
/// Command-line surface of sam2-amg: flags bound to AmgConfig and CliOptions.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "amg/amg_config.h"

namespace sam2amg::cli {

/// Options of the main job that are not AMG parameters.
struct CliOptions {
  std::string model_path;
  std::vector<std::string> inputs;
  std::string out_json;
  std::string device = "auto";
  std::string point_grids_file;
  std::string min_mask_region_mode = "sam2";
  int points_per_side = 32;
  bool quiet = false;
  bool verbose = false;
  std::string synthetic_model_path;  ///< make-synthetic-model FILE
};

/// Declares every flag. AMG flags are named after the Python parameters, in kebab-case with the
/// snake_case spelling accepted too, and show the reference defaults in --help.
void setup_cli(CLI::App& app, CliOptions& opts, AmgConfig& config);

/// Applies the flags that need more than a plain bind (points_per_side vs point_grids, the
/// small-region mode) to `config`, then validates it. Throws UsageError.
void finalize_config(const CLI::App& app, const CliOptions& opts, AmgConfig& config);

}  // namespace sam2amg::cli
