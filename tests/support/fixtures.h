#pragma once
/// Test fixtures: temporary folders, palette images with known objects, the synthetic model.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "amg/rle_host.h"
#include "common/image.h"

namespace sam2amg::test {

/// A fresh folder under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

using Rgb = std::array<std::uint8_t, 3>;
inline constexpr Rgb kBlack{0, 0, 0}, kRed{255, 0, 0}, kGreen{0, 255, 0}, kBlue{0, 0, 255},
    kWhite{255, 255, 255}, kYellow{255, 255, 0};

/// A filled rectangle [x0, x1) x [y0, y1).
struct Rect {
  int x0, y0, x1, y1;
  Rgb colour;
};

/// An image of `background` with `rects` drawn in order (later ones on top).
ImageU8 make_image(int width, int height, Rgb background, const std::vector<Rect>& rects);

/// The RLE of all pixels of `colour` in `image`: the synthetic model's answer for that colour.
Rle colour_mask(const ImageU8& image, Rgb colour);

/// The 256x256 scene used across tests: black background, red, green, blue, white rectangles.
ImageU8 four_object_scene();

/// Device for model and pipeline tests: $SAM2AMG_TEST_DEVICE (e.g. "cuda"), else "cpu".
std::string test_device();

/// Path of a synthetic model written once per test process (make-synthetic-model).
const std::string& synthetic_model_path();

/// Intersection over union of two RLE masks of the same size.
double rle_iou(const Rle& a, const Rle& b);

/// Runs a shell command, returns its exit status.
int run_command(const std::string& command);

/// The sam2-amg binary under test (SAM2AMG_BIN, set by CTest).
std::string cli_binary();

/// A file's bytes.
std::string slurp(const std::string& path);

}  // namespace sam2amg::test
