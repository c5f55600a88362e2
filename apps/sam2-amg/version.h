#pragma once
#include <string>

#include "io/writers.h"

namespace sam2amg::cli {

/// `sam2-amg --version`: the tool's version with the source's git revision at configure time
/// ("unknown" outside a git checkout), then the LibTorch runtime line.
std::string version_text();

/// LibTorch, its CUDA and the NVIDIA driver, for the provenance of a run's outputs.
RuntimeVersions runtime_versions();

}  // namespace sam2amg::cli
