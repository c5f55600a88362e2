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

/// Rethrows the exception being handled (call it in a catch block only) as the typed error that
/// LibTorch's message makes it, so that no other layer reads LibTorch's texts:
///   - the host ran out of memory (std::bad_alloc, LibTorch's CPU allocator): ImageError, exit 4,
///     the image's failure (a smaller image or batch avoids it, a retry of the same does not);
///   - CUDA, cuDNN or cuBLAS failed, or the device ran out of memory: DeviceError, exit 75 (a busy
///     device may be free later).
/// Typed errors, and every other exception, are rethrown as they are.
[[noreturn]] void rethrow_as_typed_error();

}  // namespace sam2amg
