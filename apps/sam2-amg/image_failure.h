#pragma once
/// Which failures belong to one image: the loop skips that image (named, counted, exit 4) and
/// goes on; every other failure ends the run with its own exit code.
#include <exception>
#include <optional>

#include "common/error.h"

namespace sam2amg::cli {

/// The per-image error for `e`, thrown while processing one image, or nullopt when `e` must end
/// the run. Typed errors keep their own meaning: the model layer already turned LibTorch's host
/// allocation failures into ImageError (exit 4) and its device failures into DeviceError (exit
/// 75: a busy device may be free later). Per image here: a std::bad_alloc from anywhere else.
std::optional<ImageError> per_image_failure(const std::exception& e);

}  // namespace sam2amg::cli
