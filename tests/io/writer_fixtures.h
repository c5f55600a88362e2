#pragma once
// What the io tests of the writers share: a record, a provenance, an image and masks made to order.
#include <opencv2/imgproc.hpp>

#include <array>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "amg/mask_record.h"
#include "amg/rle_host.h"
#include "io/writers.h"
#include "support/fixtures.h"

namespace sam2amg::test {

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

inline MaskRecord record_of(const Rle& rle, float iou) {
  MaskRecord r;
  r.segmentation = rle;
  r.area = area_from_rle(rle);
  r.predicted_iou = iou;
  r.stability_score = 0.97f;
  r.point_coords = {1.5f, 2.5f};
  r.bbox_xywh = {1, 1, 0, 2};
  r.crop_box_xywh = {0, 0, 4, 4};
  return r;
}

inline const Provenance kProv{"9.9.9", "m.pt", "abc123", "points_per_side: 32\n", "apply"};
inline const ImageU8 kImage = make_image(4, 4, kBlack, {});

inline ImageInfo info_of(const std::string& name) { return {{"/data/" + name, name}, 4, 4}; }

// A w x h mask with the given filled rectangles [x0, x1) x [y0, y1) set to `value`, in order.
inline Rle mask_of(int w, int h, const std::vector<std::array<int, 5>>& rects) {
  std::vector<std::uint8_t> m(size_t(w) * h, 0);
  for (const auto& [x0, y0, x1, y1, v] : rects)
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) m[size_t(y) * w + x] = std::uint8_t(v);
  return rle_from_mask(m.data(), h, w);
}

// fillPoly of rings (flat pixel x, y lists): OpenCV's even-odd fill, inclusive of the edges.
inline Rle fill_rings(int w, int h, const std::vector<std::vector<double>>& rings) {
  cv::Mat m(h, w, CV_8UC1, cv::Scalar(0));
  std::vector<std::vector<cv::Point>> pts;
  for (const auto& r : rings) {
    pts.emplace_back();
    for (size_t i = 0; i + 1 < r.size(); i += 2) pts.back().emplace_back(int(std::lround(r[i])), int(std::lround(r[i + 1])));
  }
  cv::fillPoly(m, pts, cv::Scalar(1));
  return rle_from_mask(m.data, h, w);
}

}  // namespace sam2amg::test
