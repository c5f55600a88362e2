#include "io/overlay.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdint>

#include "common/error.h"
#include "io/json_files.h"

namespace sam2amg {

void write_overlay(const std::string& path, const ImageU8& image, const std::vector<MaskRecord>& records) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
  cv::Mat out;
  cv::cvtColor(rgb, out, cv::COLOR_RGB2BGR);
  // Largest masks first so small ones stay visible; colours from a fixed hash of the index.
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return records[a].area > records[b].area; });
  for (size_t k = 0; k < order.size(); ++k) {
    const MaskRecord& r = records[order[k]];
    const std::vector<std::uint8_t> mask = rle_to_mask(r.segmentation);
    const std::uint32_t hsh = static_cast<std::uint32_t>(order[k] + 1) * 2654435761u;
    const cv::Vec3b colour(hsh & 0xff, (hsh >> 8) & 0xff, (hsh >> 16) & 0xff);
    for (int y = 0; y < image.height; ++y) {
      cv::Vec3b* row = out.ptr<cv::Vec3b>(y);
      for (int x = 0; x < image.width; ++x)
        if (mask[size_t(y) * image.width + x])
          for (int c = 0; c < 3; ++c) row[x][c] = static_cast<std::uint8_t>((row[x][c] + colour[c]) / 2);
    }
  }
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(".jpg", out, buf)) throw OutputError(path, "JPEG encoding failed");
  write_file_atomically(path, std::string(buf.begin(), buf.end()));
}

}  // namespace sam2amg
