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

/// --dry-run: checks what run_job would check before any work (config, inputs, the shard,
/// output paths, clobbering and existing outputs, writability) and loads the model, then lists
/// the inputs and output paths on stdout. Writes nothing. Returns 0; throws sam2amg::Error.
int dry_run(const RunConfig& config);

}  // namespace sam2amg::cli
