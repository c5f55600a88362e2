#include "amg/rle_host.h"

#include <algorithm>
#include <stdexcept>

namespace sam2amg {

std::int64_t area_from_rle(const Rle& rle) {
  std::int64_t area = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) area += rle.counts[i];
  return area;
}

std::vector<std::uint8_t> rle_to_mask(const Rle& rle) {
  std::vector<std::uint8_t> mask(static_cast<size_t>(rle.h) * rle.w, 0);
  std::int64_t t = 0;
  bool value = false;
  for (std::uint32_t run : rle.counts) {
    for (std::uint32_t k = 0; k < run; ++k, ++t) {
      if (!value) continue;
      const std::int64_t x = t / rle.h, y = t % rle.h;  // column-major position
      mask[static_cast<size_t>(y * rle.w + x)] = 1;
    }
    value = !value;
  }
  return mask;
}

Rle rle_from_mask(const std::uint8_t* mask, int h, int w) {
  Rle rle{h, w, {}};
  bool value = false;
  std::uint32_t run = 0;
  for (int x = 0; x < w; ++x) {
    for (int y = 0; y < h; ++y) {
      const bool v = mask[static_cast<size_t>(y) * w + x] != 0;
      if (v != value) {
        rle.counts.push_back(run);
        run = 0;
        value = v;
      }
      ++run;
    }
  }
  rle.counts.push_back(run);
  return rle;
}

std::string rle_to_string(const Rle& rle) {
  // ref: cocoapi common/maskApi.c rleToString.
  std::string s;
  const auto& cnts = rle.counts;
  for (size_t i = 0; i < cnts.size(); ++i) {
    std::int64_t x = cnts[i];
    if (i > 2) x -= static_cast<std::int64_t>(cnts[i - 2]);
    bool more = true;
    while (more) {
      char c = static_cast<char>(x & 0x1f);
      x >>= 5;  // arithmetic shift keeps the sign
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      s.push_back(static_cast<char>(c + 48));
    }
  }
  return s;
}

Rle rle_from_string(const std::string& s, int h, int w) {
  // ref: cocoapi common/maskApi.c rleFrString.
  Rle rle{h, w, {}};
  size_t p = 0;
  std::int64_t total = 0;
  while (p < s.size()) {
    std::int64_t x = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p >= s.size()) throw std::invalid_argument("truncated RLE string");
      // 7 characters hold 35 bits, enough for any delta of 32-bit runs; more would shift past 64.
      if (k == 7) throw std::invalid_argument("RLE string has a value longer than 7 characters");
      const std::int64_t c = static_cast<std::int64_t>(s[p]) - 48;
      if (c < 0 || c > 63) throw std::invalid_argument("RLE string has a byte outside 48..111");
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) x |= -(std::int64_t{1} << (5 * k));
    }
    const size_t m = rle.counts.size();
    if (m > 2) x += rle.counts[m - 2];
    if (x < 0 || x > 0xffffffffLL) throw std::invalid_argument("RLE string decodes to a bad run");
    rle.counts.push_back(static_cast<std::uint32_t>(x));
    total += x;
  }
  if (total != static_cast<std::int64_t>(h) * w)
    throw std::invalid_argument("RLE runs sum to " + std::to_string(total) + ", expected " +
                                std::to_string(static_cast<std::int64_t>(h) * w));
  return rle;
}

std::array<double, 4> rle_to_coco_bbox(const Rle& rle) {
  // ref: cocoapi common/maskApi.c rleToBbox.
  const size_t m = rle.counts.size() & ~size_t{1};  // ignore a trailing zero run
  if (m == 0) return {0, 0, 0, 0};
  const std::int64_t h = rle.h;
  std::int64_t xs = rle.w, ys = h, xe = 0, ye = 0, cc = 0, xp = 0;
  for (size_t j = 0; j < m; ++j) {
    cc += rle.counts[j];
    std::int64_t t = cc - static_cast<std::int64_t>(j % 2);
    std::int64_t y = t % h, x = (t - y) / h;
    if (j % 2 == 0) {
      xp = x;
    } else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    xs = std::min(xs, x);
    xe = std::max(xe, x);
    ys = std::min(ys, y);
    ye = std::max(ye, y);
  }
  return {double(xs), double(ys), double(xe - xs + 1), double(ye - ys + 1)};
}

}  // namespace sam2amg
