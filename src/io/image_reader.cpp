#include "io/image_reader.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace sam2amg {

namespace fs = std::filesystem;

ImageU8 read_image_rgb(const std::string& path) {
  if (!fs::is_regular_file(path)) throw ImageReadError(path, "no such file");
  cv::Mat bgr;
  try {
    // IMREAD_COLOR: 3-channel 8-bit output, EXIF orientation applied.
    bgr = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw ImageReadError(path, e.what());
  }
  if (bgr.empty()) throw ImageReadError(path, "not a readable image (unknown format or corrupt data)");
  ImageU8 out;
  out.width = bgr.cols;
  out.height = bgr.rows;
  out.rgb.resize(size_t(out.width) * out.height * 3);
  cv::Mat rgb(out.height, out.width, CV_8UC3, out.rgb.data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return out;
}

void write_image_rgb(const std::string& path, const ImageU8& image) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, bgr);
  } catch (const cv::Exception& e) {
    throw OutputError(path, e.what());
  }
  if (!ok) throw OutputError(path, "OpenCV could not encode or write the file");
}

bool has_image_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"})
    if (ext == e) return true;
  return false;
}

std::vector<std::string> collect_inputs(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& p : paths) {
    if (fs::is_directory(p)) {
      for (const auto& entry : fs::directory_iterator(p))
        if (entry.is_regular_file() && has_image_extension(entry.path().string())) out.push_back(entry.path().string());
    } else if (fs::exists(p)) {
      out.push_back(p);
    } else {
      throw UsageError("input '" + p + "' does not exist");
    }
  }
  // Never filesystem order: runs must be reproducible.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace sam2amg
