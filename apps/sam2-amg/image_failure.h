#pragma once
/// Which failures belong to one image: the loop skips that image (named, counted, exit 4) and
/// goes on; every other failure ends the run with its own exit code.
#include <exception>
#include <optional>

#include "common/error.h"

namespace sam2amg::cli {

/// The per-image error for `e`, thrown while processing one image, or nullopt when `e` must end
/// the run. Per image: running out of host memory (std::bad_alloc, LibTorch's CPU allocator),
/// which a smaller image or batch avoids and a retry of the same image does not. Typed errors
/// keep their own meaning (DeviceError stays exit 75: a busy device may be free later).
std::optional<ImageError> per_image_failure(const std::exception& e);

/// The exit code of an untyped failure that ended the run: 75 (retry) for a device failure
/// (CUDA), 1 (internal, do not retry) for anything else.
int untyped_failure_exit_code(const std::exception& e);

}  // namespace sam2amg::cli
