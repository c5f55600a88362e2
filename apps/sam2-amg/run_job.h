#pragma once
#include <string>

#include "io/run_config.h"
#include "progress.h"

namespace sam2amg::cli {

struct JobOptions {
  ProgressSetting progress = ProgressSetting::kAuto;
  bool quiet = false;
};

/// Runs the main job: every input through the generator into every requested writer.
/// Returns the process exit code (see README "Exit codes"); throws sam2amg::Error.
int run_job(const RunConfig& config, const JobOptions& options);

}  // namespace sam2amg::cli
