#pragma once
#include <string>
#include <vector>

#include "io/run_config.h"

namespace sam2amg::cli {

/// `sam2-amg tune`: values to sweep (empty = the config's own value) and the rows to draw (into
/// --overlay-dir).
struct TuneOptions {
  std::vector<double> pred_iou_thresh;
  std::vector<double> stability_score_thresh;
  std::vector<double> stability_score_offset;
  std::vector<double> box_nms_thresh;
  std::vector<int> overlay_rows;     ///< 1-based rows of the printed table
};

/// Runs the model once per input, replays every combination of the swept values, and prints a
/// table of mask counts (total, per image, mean area) per setting on stdout. Returns the exit code.
int run_tune(const RunConfig& config, const TuneOptions& tune, bool quiet);

}  // namespace sam2amg::cli
