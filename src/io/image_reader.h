#pragma once
/// Decoding images (OpenCV stays inside io/).
#include <cstdint>
#include <string>
#include <vector>

#include "common/image.h"

namespace sam2amg {

/// How images are decoded. Policy (README "Inputs"): 8-bit RGB always; EXIF orientation applied
/// or ignored as asked; grayscale replicated to RGB; alpha dropped (not composited); 16-bit
/// samples reduced to 8 bits by OpenCV; CMYK JPEGs converted to RGB by libjpeg.
struct ReadOptions {
  bool apply_exif = true;
  std::int64_t max_pixels = std::int64_t{1} << 28;
};

/// Reads and decodes one image. The header is checked before decoding: empty, truncated and
/// oversized files are refused without decoding. Throws ImageReadError naming path and reason.
ImageU8 read_image_rgb(const std::string& path, const ReadOptions& options = {});

/// What the checks before decoding find wrong with a file's bytes: empty, more pixels than
/// `max_pixels` by its header, truncated. "" when nothing; read_image_rgb refuses the others.
std::string image_header_problem(const std::vector<std::uint8_t>& bytes, std::int64_t max_pixels);

/// Width and height from a PNG, JPEG or BMP header, or {0, 0} for other formats.
std::pair<std::int64_t, std::int64_t> probe_image_size(const std::vector<std::uint8_t>& bytes);

/// Writes an RGB image (PNG/JPEG by extension). Throws OutputError.
void write_image_rgb(const std::string& path, const ImageU8& image);

}  // namespace sam2amg
