#include "image_failure.h"

#include <new>
#include <string>

namespace sam2amg::cli {

namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

std::optional<ImageError> per_image_failure(const std::exception& e) {
  if (dynamic_cast<const Error*>(&e)) return std::nullopt;  // typed: its own exit code
  const std::string what = e.what();
  const bool host_memory = dynamic_cast<const std::bad_alloc*>(&e) != nullptr || contains(what, "can't allocate memory") ||
                           contains(what, "DefaultCPUAllocator") || contains(what, "std::bad_alloc");
  if (!host_memory) return std::nullopt;
  return ImageError("not enough memory for this image (" + what.substr(0, what.find('\n')) +
                    "); lower --points-per-batch or downscale it");
}

int untyped_failure_exit_code(const std::exception& e) {
  const std::string what = e.what();
  const bool device = contains(what, "CUDA") || contains(what, "cuda") || contains(what, "cuDNN") ||
                      contains(what, "CUBLAS") || contains(what, "out of memory");
  return static_cast<int>(device ? ExitCode::kTransient : ExitCode::kInternal);
}

}  // namespace sam2amg::cli
