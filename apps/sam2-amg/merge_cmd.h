#pragma once
#include "io/run_config.h"

namespace sam2amg::cli {

/// `sam2-amg merge`: merges the shard COCO files of io.out and/or checks the shard markers of
/// io.out_dir. Returns 0, or 6 (kIncomplete) naming the missing and unfinished shards.
int run_merge(const RunConfig& config);

}  // namespace sam2amg::cli
