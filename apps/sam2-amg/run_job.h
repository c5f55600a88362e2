#pragma once
#include "common/error.h"
#include "io/inputs.h"
#include "io/run_config.h"

namespace sam2amg::cli {

struct JobOptions {
  std::string progress = "auto";
  bool quiet = false;
};

/// Logs an input that was skipped, naming it once whether or not the error already does.
void log_skipped(const InputFile& input, const ImageReadError& error);

/// Runs the main job: every input through the generator into every requested writer.
/// Returns the process exit code (see README "Exit codes"); throws sam2amg::Error.
int run_job(const RunConfig& config, const JobOptions& options);

}  // namespace sam2amg::cli
