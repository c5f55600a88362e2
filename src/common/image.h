#pragma once
/// The only image type that crosses io -> pipeline: 8-bit RGB, interleaved HWC, row-major.
#include <cstdint>
#include <vector>

namespace sam2amg {

struct ImageU8 {
  int width = 0;                 ///< pixels
  int height = 0;                ///< pixels
  std::vector<std::uint8_t> rgb; ///< height*width*3 bytes, RGB order, no row padding

  bool empty() const noexcept { return width == 0 || height == 0; }
};

}  // namespace sam2amg
