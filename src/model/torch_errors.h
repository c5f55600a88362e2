#pragma once
// Reading LibTorch's error messages, torch-free so that the pipeline can use it too.
#include <string>

namespace sam2amg {

/// CUDA's caching allocator says "out of memory" ("not enough memory" elsewhere); TorchScript
/// rethrows it with the graph's traceback, so the message is what can be relied on. The host's
/// "can't allocate memory" is not included: in a run it is the image's failure (exit 4).
bool is_out_of_memory(const std::string& what);

/// The line of an error message that says what went wrong: an interpreter error ends with it
/// (after the TorchScript traceback); a compiler error starts with it after a blank line; other
/// errors start with it (before a C++ backtrace).
std::string error_line(const std::string& what);

}  // namespace sam2amg
