#pragma once
/// PNG and JPEG decoding with libpng and libjpeg directly (internal to io/): OpenCV gives those
/// libraries handlers that print to stderr and decode damaged data without a word; ours collect
/// every message per call (images are decoded on several threads, so nothing global).
#include <cstdint>
#include <string>
#include <vector>

#include "common/image.h"

namespace sam2amg {

/// What a codec said while decoding one image.
struct CodecReport {
  /// Messages that mean the pixels are damaged ("libjpeg: Corrupt JPEG data: premature end of
  /// data segment"), in order.
  std::vector<std::string> damage;
  /// Messages about metadata the decoder ignores (libpng's ancillary chunks such as iCCP): the
  /// pixels are whole.
  std::vector<std::string> notes;
  /// The EXIF orientation tag (1..8; 1 when absent or unreadable).
  int exif_orientation = 1;
};

/// True for bytes that start like a PNG or a JPEG file.
bool is_png_data(const std::vector<std::uint8_t>& bytes);
bool is_jpeg_data(const std::vector<std::uint8_t>& bytes);

/// Decodes a PNG or JPEG to 8-bit RGB as OpenCV's IMREAD_COLOR would (the same pixels: gray
/// replicated, alpha and palette transparency dropped, 16-bit samples cut to their high byte,
/// CMYK converted like OpenCV), without applying the orientation. With `stop_at_damage`, decoding
/// ends at the first damage message (the returned image is then empty). Throws ImageReadError
/// naming `path` for what the codec cannot decode at all.
ImageU8 decode_png_jpeg_rgb(const std::vector<std::uint8_t>& bytes, const std::string& path, bool stop_at_damage,
                            CodecReport& report);

/// The orientation tag of a TIFF-structured EXIF block (the bytes after "Exif\0\0"): 1..8, or 1.
int exif_orientation(const std::uint8_t* tiff, std::size_t size);

}  // namespace sam2amg
