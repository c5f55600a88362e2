// COCO polygons as readers rasterize them: a port of pycocotools' rleFrPoly (in the test
// support, written for the tests) must give every mask back.
#include <cstdint>
#include <random>
#include <vector>

#include "amg/rle_host.h"
#include "io/polygons.h"
#include "support/catch.h"
#include "support/coco_decoders.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

struct Shape {
  const char* name;
  int w, h;
  std::vector<std::uint8_t> mask;  // row-major 0/1
};

Shape rects(const char* name, int w, int h, const std::vector<std::array<int, 5>>& rs) {
  Shape s{name, w, h, std::vector<std::uint8_t>(size_t(w) * h, 0)};
  for (const auto& [x0, y0, x1, y1, v] : rs)
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) s.mask[size_t(y) * w + x] = std::uint8_t(v);
  return s;
}

Shape disc(int w, int h, double cx, double cy, double r) {
  Shape s{"disc", w, h, std::vector<std::uint8_t>(size_t(w) * h, 0)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) s.mask[size_t(y) * w + x] = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r;
  return s;
}

// Random blobs: a seeded walk of 3x3 stamps.
Shape blob(unsigned seed) {
  Shape s{"blob", 60, 50, std::vector<std::uint8_t>(60 * 50, 0)};
  std::mt19937 rng(seed);
  int x = 30, y = 25;
  for (int i = 0; i < 120; ++i) {
    x = std::clamp(x + int(rng() % 3) - 1, 1, 58);
    y = std::clamp(y + int(rng() % 3) - 1, 1, 48);
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx) s.mask[size_t(y + dy) * 60 + x + dx] = 1;
  }
  return s;
}

}  // namespace

TEST_CASE("Polygons rasterized as pycocotools does give the mask back", "[io][polygons][readers]") {
  std::vector<Shape> shapes{
      rects("70x60 rectangle", 90, 80, {{10, 10, 80, 70, 1}}),
      rects("5x5 square", 12, 12, {{3, 3, 8, 8, 1}}),
      rects("one pixel", 5, 5, {{2, 2, 3, 3, 1}}),
      rects("one-pixel line", 20, 6, {{1, 2, 19, 3, 1}}),
      rects("at the image's edges", 16, 12, {{0, 0, 16, 12, 1}}),
      rects("L shape", 30, 30, {{2, 2, 10, 28, 1}, {2, 20, 28, 28, 1}}),
      rects("two parts", 30, 20, {{1, 1, 8, 8, 1}, {15, 5, 29, 19, 1}}),
      rects("corner-touching pixels", 6, 6, {{1, 1, 2, 2, 1}, {2, 2, 3, 3, 1}, {3, 1, 4, 2, 1}}),
      rects("staircase", 12, 12, {{0, 0, 3, 3, 1}, {3, 3, 6, 6, 1}, {2, 2, 4, 4, 1}, {6, 6, 12, 12, 1}, {5, 5, 7, 7, 1}}),
      disc(64, 64, 31.5, 30.2, 20.3),
      blob(1),
      blob(7),
  };
  for (const Shape& s : shapes) {
    INFO(s.name);
    const Rle rle = rle_from_mask(s.mask.data(), s.h, s.w);
    const auto polygons = rle_to_polygons(rle);
    if (!polygons) continue;  // holes: kept as RLE (tested below)
    for (const auto& p : *polygons) CHECK(p.size() >= 6);  // pycocotools needs 3 points
    const Coverage c = coverage(rasterize_polygons(*polygons, s.h, s.w), s.mask);
    CHECK(c.covered >= 0.99);
    CHECK(c.extra <= 0.01);
    CHECK(rasterize_polygons(*polygons, s.h, s.w) == s.mask);
  }
}

TEST_CASE("Shapes with holes: a ring and a frame keep their hole through COCO", "[io][polygons][readers]") {
  std::vector<Shape> holed{
      rects("ring", 64, 48, {{10, 4, 50, 44, 1}, {20, 14, 40, 34, 0}}),
      rects("frame with two holes", 40, 30, {{0, 0, 40, 30, 1}, {4, 4, 12, 12, 0}, {20, 10, 30, 25, 0}}),
      rects("one-pixel hole", 9, 9, {{1, 1, 8, 8, 1}, {4, 4, 5, 5, 0}}),
  };
  for (const Shape& s : holed) {
    INFO(s.name);
    const Rle rle = rle_from_mask(s.mask.data(), s.h, s.w);
    // Polygons cannot keep a hole open (readers fill each and take the union): RLE instead.
    CHECK_FALSE(rle_to_polygons(rle).has_value());
  }
}
