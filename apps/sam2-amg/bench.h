#pragma once
#include <string>

#include "io/run_config.h"

namespace sam2amg::cli {

/// `sam2-amg bench`: the bench's own options.
struct BenchOptions {
  int repeat = 3;          ///< timed runs per image
  int warmup = 1;          ///< untimed runs on the first image (model loading, first-call costs)
  std::string reference;   ///< command prefix of scripts/bench_reference.py; empty: no reference
  std::string json;        ///< also write the report here
};

/// Times the run's configuration on its inputs: per-stage seconds, p50/p90 per image, images/s
/// over the folder, peak memory and the funnel, with the setup (device, model, precision,
/// parameters, image sizes, threads, BLAS). With `reference`, runs the official generator on
/// the same images and parameters in the same invocation and prints the ratios. The report
/// goes to standard output. Returns the exit code; throws sam2amg::Error.
int run_bench(const RunConfig& config, const BenchOptions& options);

}  // namespace sam2amg::cli
