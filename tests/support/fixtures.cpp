#include "support/fixtures.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <ftw.h>
#include <sys/wait.h>

#include "model/synthetic_model.h"

namespace sam2amg::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() / ("sam2amg-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p.string();
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

// The tests leave arbitrary trees behind, so the removal walks: POSIX nftw, deepest first, not
// std::filesystem's recursive calls (a CUDA LibTorch may carry its own copy of those,
// pytorch/pytorch#133437). Symbolic links are removed, never followed.
TempDir::~TempDir() {
  const auto remove_one = [](const char* p, const struct stat*, int, struct FTW*) {
    std::remove(p);  // a file or an emptied folder; what cannot go stays
    return 0;
  };
  nftw(path_.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

ImageU8 make_image(int width, int height, Rgb background, const std::vector<Rect>& rects) {
  ImageU8 img;
  img.width = width;
  img.height = height;
  img.rgb.resize(size_t(width) * height * 3);
  for (size_t i = 0; i < size_t(width) * height; ++i)
    for (int c = 0; c < 3; ++c) img.rgb[i * 3 + c] = background[c];
  for (const Rect& r : rects)
    for (int y = r.y0; y < r.y1; ++y)
      for (int x = r.x0; x < r.x1; ++x)
        for (int c = 0; c < 3; ++c) img.rgb[(size_t(y) * width + x) * 3 + c] = r.colour[c];
  return img;
}

Rle colour_mask(const ImageU8& image, Rgb colour) {
  std::vector<std::uint8_t> m(size_t(image.width) * image.height);
  for (size_t i = 0; i < m.size(); ++i)
    m[i] = image.rgb[i * 3] == colour[0] && image.rgb[i * 3 + 1] == colour[1] && image.rgb[i * 3 + 2] == colour[2];
  return rle_from_mask(m.data(), image.height, image.width);
}

ImageU8 two_object_image(int shift) {
  return make_image(64, 48, kBlack, {{4 + shift, 4, 30 + shift, 20, kRed}, {20, 28, 60, 44, kBlue}});
}

ImageU8 four_object_scene() {
  return make_image(256, 256, kBlack,
                    {{20, 20, 100, 90, kRed}, {140, 30, 230, 120, kGreen}, {40, 150, 120, 240, kBlue},
                     {160, 160, 200, 200, kWhite}});
}

std::string test_device() {
  const char* d = std::getenv("SAM2AMG_TEST_DEVICE");
  return d && *d ? d : "cpu";
}

const std::string& synthetic_model_path() {
  static TempDir dir;
  static const std::string path = [] {
    const std::string p = dir.file("synthetic.pt");
    write_synthetic_model(p);
    return p;
  }();
  return path;
}

double rle_iou(const Rle& a, const Rle& b) {
  const auto ma = rle_to_mask(a), mb = rle_to_mask(b);
  if (ma.size() != mb.size()) return 0.0;
  size_t inter = 0, uni = 0;
  for (size_t i = 0; i < ma.size(); ++i) {
    inter += ma[i] && mb[i];
    uni += ma[i] || mb[i];
  }
  return uni ? double(inter) / double(uni) : 1.0;
}

int run_command(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string cli_binary() {
  const char* b = std::getenv("SAM2AMG_BIN");
  return b ? b : "sam2-amg";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace sam2amg::test
