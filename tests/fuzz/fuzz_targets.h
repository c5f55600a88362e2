#pragma once
/// Fuzz entry points: each feeds one input to one parser of untrusted bytes. The libFuzzer
/// binaries (scripts/fuzz.sh) and the regression test over tests/data/fuzz/<name>/ call the same
/// functions. An entry point returns normally when the parser accepted the input or refused it
/// with its documented error (a typed sam2amg::Error; std::invalid_argument for the RLE codec);
/// anything else escapes: an untyped exception, a PropertyViolation, or a sanitizer report.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace sam2amg::fuzz {

/// A parser accepted an input but broke a property it promises (e.g. a round trip).
class PropertyViolation : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Input: 2 bytes height, 2 bytes width (big-endian), then a pycocotools counts string.
/// Decodes it (rle_from_string); when accepted, re-encodes, and checks the mask, area and box.
void rle_codec(const std::uint8_t* data, std::size_t size);

/// Input: YAML text for --config (load_yaml_config_text); when accepted and valid, checks that
/// the printed config loads back to itself, as --print-config promises.
void config_yaml(const std::uint8_t* data, std::size_t size);

/// Input: the text of a --point-grids JSON file (parse_point_grids), then the config check.
void point_grids_file(const std::uint8_t* data, std::size_t size);

/// Input: an image file's bytes; the checks read_image_rgb makes before decoding
/// (image_header_problem) with a 2^28-pixel limit, and the probed size.
void image_header(const std::uint8_t* data, std::size_t size);

struct Target {
  const char* name;  ///< also the folder of its reproducers, tests/data/fuzz/<name>/
  void (*run)(const std::uint8_t*, std::size_t);
};

/// Every target, by name.
const std::vector<Target>& targets();

}  // namespace sam2amg::fuzz
