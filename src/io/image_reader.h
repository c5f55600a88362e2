#pragma once
/// Image inputs: finding them and decoding them (OpenCV stays inside io/).
#include <cstdint>
#include <string>
#include <vector>

#include "common/image.h"
#include "io/run_config.h"

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

/// Width and height from a PNG, JPEG or BMP header, or {0, 0} for other formats.
std::pair<std::int64_t, std::int64_t> probe_image_size(const std::vector<std::uint8_t>& bytes);

/// Writes an RGB image (PNG/JPEG by extension). Throws OutputError.
void write_image_rgb(const std::string& path, const ImageU8& image);

/// True for file names with an image extension OpenCV reads (case-insensitive).
bool has_image_extension(const std::string& path);

/// One input image: where it is, and the name outputs use (relative to its folder input).
struct InputFile {
  std::string path;
  std::string name;
  std::string key;  ///< canonical path, for de-duplication (empty when not computed)
  bool operator==(const InputFile& o) const { return path == o.path; }
};

/// Expands io.input (files, folders, "-" for paths on stdin) and io.input_list into a sorted,
/// de-duplicated list; folders give their image files (sub-folders with io.recursive), filtered
/// by io.glob. Explicit files are kept whatever their extension. Throws UsageError for a path that
/// does not exist.
std::vector<InputFile> collect_inputs(const IoOptions& io);

/// Shell-style match of a file name against a pattern with * and ?.
bool glob_match(const std::string& pattern, const std::string& name);

}  // namespace sam2amg
