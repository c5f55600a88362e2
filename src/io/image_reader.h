#pragma once
/// Image decoding (OpenCV stays inside io/).
#include <string>
#include <vector>

#include "common/image.h"

namespace sam2amg {

/// Reads any image OpenCV decodes as 8-bit RGB. Policy: EXIF orientation is applied (the pixels
/// are rotated as viewers show them); grayscale is replicated to RGB; alpha is dropped (not
/// composited); 16-bit samples are scaled to 8 bits. Throws ImageReadError naming the path.
ImageU8 read_image_rgb(const std::string& path);

/// Writes an RGB image (PNG/JPEG by extension); used by tests and tools. Throws OutputError.
void write_image_rgb(const std::string& path, const ImageU8& image);

/// True for file names with an image extension OpenCV reads (case-insensitive).
bool has_image_extension(const std::string& path);

/// Expands files and folders (folders: their image files, not recursive) into a sorted,
/// de-duplicated list. Throws UsageError for a path that does not exist.
std::vector<std::string> collect_inputs(const std::vector<std::string>& paths);

}  // namespace sam2amg
