#pragma once
/// Geometry shared by the layers (torch-free).
#include <array>
#include <cstdint>

namespace sam2amg {

/// [x0, y0, x1, y1] in image pixels, x1/y1 exclusive.
using CropBoxXyxy = std::array<std::int64_t, 4>;

}  // namespace sam2amg
