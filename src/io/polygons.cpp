#include "io/polygons.h"

#include <opencv2/imgproc.hpp>

#include <cstdint>

namespace sam2amg {

std::vector<std::vector<double>> rle_to_polygons(const Rle& rle) {
  std::vector<std::uint8_t> mask = rle_to_mask(rle);
  cv::Mat m(rle.h, rle.w, CV_8UC1, mask.data());
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(m, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  std::vector<std::vector<double>> polys;
  for (const auto& c : contours) {
    if (c.size() < 3) continue;
    std::vector<double> flat;
    for (const cv::Point& p : c) {
      flat.push_back(p.x);
      flat.push_back(p.y);
    }
    polys.push_back(std::move(flat));
  }
  // Lines and dots have no 3-point contour; pycocotools rejects an empty list, so give their
  // pixel outline (the box from the first to the last pixel, inclusive) instead.
  if (polys.empty() && area_from_rle(rle) > 0) {
    const auto b = rle_to_coco_bbox(rle);
    polys.push_back({b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3], b[0], b[1] + b[3]});
  }
  return polys;
}

}  // namespace sam2amg
