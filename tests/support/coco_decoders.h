#pragma once
/// Independent decoders of COCO segmentations, written for the tests from pycocotools' published
/// algorithms (maskApi.c: rleFrString, rleFrPoly, rleDecode), so that outputs are checked the way
/// readers see them, not with the code that wrote them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

namespace sam2amg::test {

/// Column-major run lengths (zeros first) -> a row-major h x w mask of 0/1.
inline std::vector<std::uint8_t> decode_runs(const std::vector<std::uint32_t>& counts, int h, int w) {
  std::vector<std::uint8_t> col(size_t(h) * w, 0);
  size_t at = 0;
  std::uint8_t v = 0;
  for (std::uint32_t c : counts) {
    for (std::uint32_t i = 0; i < c && at < col.size(); ++i) col[at++] = v;
    v = !v;
  }
  std::vector<std::uint8_t> rows(size_t(h) * w, 0);
  for (int x = 0; x < w; ++x)
    for (int y = 0; y < h; ++y) rows[size_t(y) * w + x] = col[size_t(x) * h + y];
  return rows;
}

/// pycocotools' compressed counts string -> run lengths (rleFrString: 5-bit groups from '0',
/// 0x20 continues, 0x10 the sign, deltas from the count two back after the third).
inline std::vector<std::uint32_t> counts_from_string(const std::string& s) {
  std::vector<std::uint32_t> counts;
  size_t p = 0;
  while (p < s.size()) {
    long x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      const long c = static_cast<long>(s[p]) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(1L << (5 * k));  // sign-extend
    }
    if (counts.size() > 2) x += static_cast<long>(counts[counts.size() - 2]);
    counts.push_back(static_cast<std::uint32_t>(x));
  }
  return counts;
}

/// One polygon (flat x, y list) -> run lengths, as pycocotools' rleFrPoly rasterizes it: the
/// outline upsampled 5x, the crossings of each pixel column's centre line, rounded as there.
inline std::vector<std::uint32_t> runs_from_polygon(const std::vector<double>& xy, int h, int w) {
  const size_t k = xy.size() / 2;
  const double scale = 5;
  std::vector<int> x(k + 1), y(k + 1);
  for (size_t j = 0; j < k; ++j) x[j] = static_cast<int>(scale * xy[2 * j] + .5);
  x[k] = x[0];
  for (size_t j = 0; j < k; ++j) y[j] = static_cast<int>(scale * xy[2 * j + 1] + .5);
  y[k] = y[0];
  std::vector<int> u, v;
  for (size_t j = 0; j < k; ++j) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1];
    const int dx = std::abs(xe - xs), dy = std::abs(ys - ye);
    const bool flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      std::swap(xs, xe);
      std::swap(ys, ye);
    }
    const double s = dx >= dy ? static_cast<double>(ye - ys) / dx : static_cast<double>(xe - xs) / dy;
    if (dx >= dy) {
      for (int d = 0; d <= dx; ++d) {
        const int t = flip ? dx - d : d;
        u.push_back(t + xs);
        v.push_back(static_cast<int>(ys + s * t + .5));
      }
    } else {
      for (int d = 0; d <= dy; ++d) {
        const int t = flip ? dy - d : d;
        v.push_back(t + ys);
        u.push_back(static_cast<int>(xs + s * t + .5));
      }
    }
  }
  std::vector<std::uint32_t> a;
  for (size_t j = 1; j < u.size(); ++j) {
    if (u[j] == u[j - 1]) continue;
    double xd = u[j] < u[j - 1] ? u[j] : u[j] - 1;
    xd = (xd + .5) / scale - .5;
    if (std::floor(xd) != xd || xd < 0 || xd > w - 1) continue;
    double yd = v[j] < v[j - 1] ? v[j] : v[j - 1];
    yd = (yd + .5) / scale - .5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = std::ceil(yd);
    a.push_back(static_cast<std::uint32_t>(static_cast<int>(xd) * h + static_cast<int>(yd)));
  }
  a.push_back(static_cast<std::uint32_t>(h * w));
  std::sort(a.begin(), a.end());
  std::uint32_t prev = 0;
  for (auto& t : a) {
    const std::uint32_t cur = t;
    t -= prev;
    prev = cur;
  }
  std::vector<std::uint32_t> b;
  size_t j = 0;
  b.push_back(a[j++]);
  while (j < a.size()) {
    if (a[j] > 0) {
      b.push_back(a[j++]);
    } else {
      ++j;
      if (j < a.size()) b.back() += a[j++];
    }
  }
  return b;
}

/// COCO polygons of one object -> its row-major mask: each polygon rasterized (rleFrPoly), then
/// their union (frPyObjects + merge, as loadRes / annToMask do).
inline std::vector<std::uint8_t> rasterize_polygons(const std::vector<std::vector<double>>& polygons, int h, int w) {
  std::vector<std::uint8_t> mask(size_t(h) * w, 0);
  for (const auto& p : polygons) {
    const std::vector<std::uint8_t> one = decode_runs(runs_from_polygon(p, h, w), h, w);
    for (size_t i = 0; i < mask.size(); ++i) mask[i] |= one[i];
  }
  return mask;
}

/// Share of `truth`'s pixels that `got` covers, and `got`'s pixels outside `truth` per truth pixel.
struct Coverage {
  double covered = 0, extra = 0;
};
inline Coverage coverage(const std::vector<std::uint8_t>& got, const std::vector<std::uint8_t>& truth) {
  double t = 0, both = 0, more = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    t += truth[i] != 0;
    both += truth[i] && got[i];
    more += got[i] && !truth[i];
  }
  return {t > 0 ? both / t : 1.0, t > 0 ? more / t : 0.0};
}

}  // namespace sam2amg::test
