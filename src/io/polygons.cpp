#include "io/polygons.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <unordered_map>
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

PixelEdgeRings pixel_edge_rings(const Rle& rle) {
  const std::vector<std::uint8_t> mask = rle_to_mask(rle);
  const int w = rle.w, h = rle.h;
  auto in = [&](int x, int y) { return x >= 0 && y >= 0 && x < w && y < h && mask[size_t(y) * w + x] != 0; };
  // Directed pixel sides between a mask pixel and the outside, clockwise round each pixel on
  // screen (y down): top left to right, right side down, bottom right to left, left side up.
  struct Edge {
    int x0, y0, x1, y1;
    std::int64_t pixel;
  };
  std::vector<Edge> edges;
  std::unordered_map<std::int64_t, std::array<int, 2>> leaving;  // vertex -> its (up to 2) edges
  auto vertex = [&](int x, int y) { return std::int64_t(y) * (w + 1) + x; };
  auto add = [&](int x0, int y0, int x1, int y1, std::int64_t pixel) {
    auto [it, fresh] = leaving.try_emplace(vertex(x0, y0), std::array<int, 2>{-1, -1});
    it->second[it->second[0] < 0 ? 0 : 1] = static_cast<int>(edges.size());
    edges.push_back({x0, y0, x1, y1, pixel});
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (!in(x, y)) continue;
      const std::int64_t pixel = std::int64_t(y) * w + x;
      if (!in(x, y - 1)) add(x, y, x + 1, y, pixel);
      if (!in(x + 1, y)) add(x + 1, y, x + 1, y + 1, pixel);
      if (!in(x, y + 1)) add(x + 1, y + 1, x, y + 1, pixel);
      if (!in(x - 1, y)) add(x, y + 1, x, y, pixel);
    }
  // Each side's successor is the side leaving its end; where two leave (two pixels touching at a
  // corner only), the one of the same pixel, so parts touching diagonally stay apart and every
  // ring is simple. Sides then form disjoint rings.
  PixelEdgeRings rings;
  std::vector<char> used(edges.size(), 0);
  for (size_t first = 0; first < edges.size(); ++first) {
    if (used[first]) continue;
    std::vector<int> corners;  // x, y of each vertex where the direction turns
    double area2 = 0;
    for (size_t e = first;;) {
      used[e] = 1;
      const Edge& cur = edges[e];
      area2 += double(cur.x0) * cur.y1 - double(cur.x1) * cur.y0;
      const std::array<int, 2>& next = leaving.at(vertex(cur.x1, cur.y1));
      size_t n = static_cast<size_t>(next[0]);
      if (next[1] >= 0 && edges[n].pixel != cur.pixel) n = static_cast<size_t>(next[1]);
      const Edge& nx = edges[n];
      if ((cur.x1 - cur.x0) != (nx.x1 - nx.x0) || (cur.y1 - cur.y0) != (nx.y1 - nx.y0)) {
        corners.push_back(cur.x1);
        corners.push_back(cur.y1);
      }
      if (n == first) break;
      e = n;
    }
    // The first side's start is the last corner found (when it is a corner at all: a part's
    // first side in scan order is its top-left pixel's top): it goes first.
    std::vector<double> ring;
    ring.reserve(corners.size());
    const size_t m = corners.size();
    for (size_t i = 0; i < m; ++i) ring.push_back(corners[(i + m - 2) % m]);
    (area2 > 0 ? rings.outer : rings.holes).push_back(std::move(ring));
  }
  return rings;
}

std::optional<std::vector<std::vector<double>>> rle_to_polygons(const Rle& rle) {
  PixelEdgeRings r = pixel_edge_rings(rle);
  if (!r.holes.empty()) return std::nullopt;
  return std::move(r.outer);
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
