#include "io/polygons.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace sam2amg {

namespace {

std::vector<double> flat(const std::vector<cv::Point>& c) {
  // A dot or a line has no 3-point contour (pycocotools rejects fewer than 3 points): the
  // outline of its pixels' box, pixel edges included.
  if (c.size() < 3) {
    const cv::Rect b = cv::boundingRect(c);
    const double x0 = b.x, y0 = b.y, x1 = b.x + b.width, y1 = b.y + b.height;
    return {x0, y0, x1, y0, x1, y1, x0, y1};
  }
  std::vector<double> f;
  f.reserve(2 * c.size());
  for (const cv::Point& p : c) {
    f.push_back(p.x);
    f.push_back(p.y);
  }
  return f;
}

// Index of the point of ring `a` nearest to ring `b`, and of b's point nearest to it.
std::pair<size_t, size_t> nearest_pair(const std::vector<double>& a, const std::vector<double>& b) {
  std::pair<size_t, size_t> best{0, 0};
  double best_d = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < a.size(); i += 2)
    for (size_t j = 0; j < b.size(); j += 2) {
      const double dx = a[i] - b[j], dy = a[i + 1] - b[j + 1], d = dx * dx + dy * dy;
      if (d < best_d) {
        best_d = d;
        best = {i / 2, j / 2};
      }
    }
  return best;
}

}  // namespace

MaskOutline mask_outline(const Rle& rle) {
  std::vector<std::uint8_t> mask = rle_to_mask(rle);
  cv::Mat m(rle.h, rle.w, CV_8UC1, mask.data());
  std::vector<std::vector<cv::Point>> contours;
  std::vector<cv::Vec4i> hierarchy;
  cv::findContours(m, contours, hierarchy, cv::RETR_CCOMP, cv::CHAIN_APPROX_SIMPLE);
  MaskOutline o;
  // Parts in contour order, each followed by nothing else: holes go to their own list.
  for (size_t i = 0; i < contours.size(); ++i) (hierarchy[i][3] < 0 ? o.outer : o.holes).push_back(flat(contours[i]));
  return o;
}

std::optional<std::vector<std::vector<double>>> rle_to_polygons(const Rle& rle) {
  MaskOutline o = mask_outline(rle);
  if (!o.holes.empty()) return std::nullopt;
  return std::move(o.outer);
}

std::vector<double> rle_to_single_ring(const Rle& rle) {
  std::vector<std::uint8_t> mask = rle_to_mask(rle);
  cv::Mat m(rle.h, rle.w, CV_8UC1, mask.data());
  std::vector<std::vector<cv::Point>> contours;
  std::vector<cv::Vec4i> hierarchy;
  cv::findContours(m, contours, hierarchy, cv::RETR_CCOMP, cv::CHAIN_APPROX_SIMPLE);
  // Rings in chain order: each part followed by its holes, so most bridges stay short.
  std::vector<std::vector<double>> rings;
  for (size_t i = 0; i < contours.size(); ++i) {
    if (hierarchy[i][3] >= 0) continue;
    rings.push_back(flat(contours[i]));
    for (int h = hierarchy[i][2]; h >= 0; h = hierarchy[h][0]) rings.push_back(flat(contours[h]));
  }
  if (rings.empty()) return {};
  // Bridge k joins ring k (at exit[k]) to ring k + 1 (at entry[k + 1]). Walk forward: each ring
  // from its entry to its exit, across the bridge; the last ring whole; then back: each ring
  // from its exit round to its entry. Every bridge is walked both ways: zero width.
  const size_t n = rings.size();
  std::vector<size_t> entry(n, 0), exit(n, 0);
  for (size_t k = 0; k + 1 < n; ++k) std::tie(exit[k], entry[k + 1]) = nearest_pair(rings[k], rings[k + 1]);
  std::vector<double> out;
  auto push = [&](size_t k, size_t i) {
    out.push_back(rings[k][2 * i]);
    out.push_back(rings[k][2 * i + 1]);
  };
  for (size_t k = 0; k < n; ++k) {
    const size_t m = rings[k].size() / 2;
    if (k + 1 == n) {
      for (size_t s = 0; s <= m; ++s) push(k, (entry[k] + s) % m);  // whole ring, back to its entry
      break;
    }
    for (size_t s = 0, steps = (exit[k] + m - entry[k]) % m; s <= steps; ++s) push(k, (entry[k] + s) % m);
  }
  for (size_t k = n - 1; k-- > 0;) {
    const size_t m = rings[k].size() / 2;
    // Round to the entry; the whole ring when the bridges meet at one point.
    size_t steps = (entry[k] + m - exit[k]) % m;
    if (steps == 0) steps = m;
    for (size_t s = 0; s <= steps; ++s) push(k, (exit[k] + s) % m);
  }
  return out;
}

}  // namespace sam2amg
