#pragma once
#include <string>

namespace sam2amg::cli {

/// `sam2-amg --version`: the tool's version with the source's git revision at configure time
/// ("unknown" outside a git checkout), then the LibTorch runtime line.
std::string version_text();

}  // namespace sam2amg::cli
