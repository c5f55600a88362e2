#pragma once
/// Decoding images (OpenCV stays inside io/).
#include <cstdint>
#include <string>
#include <vector>

#include "common/image.h"

namespace sam2amg {

/// How images are decoded. Policy (README "Inputs"): 8-bit RGB always; EXIF orientation applied
/// or ignored as asked; grayscale replicated to RGB; alpha dropped (not composited); 16-bit
/// samples reduced to 8 bits; CMYK JPEGs converted to RGB. PNG and JPEG are decoded by libpng and
/// libjpeg with our own message handlers, the other formats by OpenCV.
struct ReadOptions {
  bool apply_exif = true;
  std::int64_t max_pixels = std::int64_t{1} << 28;
  /// Decode PNGs and JPEGs whose decoder reports damaged data (a cut or corrupted scan: the
  /// damaged part comes out grey) instead of refusing them.
  bool accept_damaged = false;
};

/// A message of the image's decoder that did not refuse it, for the log (with the file name).
struct ReadWarning {
  std::string message;  ///< e.g. "libjpeg: Corrupt JPEG data: premature end of data segment"
  bool damage = false;  ///< damaged pixels (accepted by ReadOptions::accept_damaged); else metadata only
};

/// Reads and decodes one image. The header is checked before decoding: empty, truncated and
/// oversized files are refused without decoding; so is a PNG or JPEG whose decoder reports
/// damaged data, unless options.accept_damaged. The decoder's other messages (and the accepted
/// damage) are appended to `warnings` when given; nothing is printed. Throws ImageReadError
/// naming path and reason.
ImageU8 read_image_rgb(const std::string& path, const ReadOptions& options = {},
                       std::vector<ReadWarning>* warnings = nullptr);

/// What the checks before decoding find wrong with a file's bytes: empty, more pixels than
/// `max_pixels` by its header, truncated. "" when nothing; read_image_rgb refuses the others.
std::string image_header_problem(const std::vector<std::uint8_t>& bytes, std::int64_t max_pixels);

/// Width and height from a PNG, JPEG, BMP, TIFF (the first image), WebP or Netpbm header, or
/// {0, 0} for other formats (which read_image_rgb refuses).
std::pair<std::int64_t, std::int64_t> probe_image_size(const std::vector<std::uint8_t>& bytes);

/// The largest file read as an image under `max_pixels`: bigger ones are refused unread.
std::uint64_t image_file_cap(std::int64_t max_pixels);

/// Writes an RGB image (PNG/JPEG by extension). Throws OutputError.
void write_image_rgb(const std::string& path, const ImageU8& image);

}  // namespace sam2amg
