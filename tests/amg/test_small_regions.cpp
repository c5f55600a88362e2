#include "amg/small_regions.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

namespace {

// Builds (1, 1, h, w) logits from rows of '#' (+5) and '.' (-5).
at::Tensor logits_from(const std::vector<std::string>& rows) {
  const int64_t h = rows.size(), w = rows[0].size();
  at::Tensor t = at::empty({1, 1, h, w});
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) t[0][0][y][x] = rows[y][x] == '#' ? 5.f : -5.f;
  return t;
}

float at_yx(const at::Tensor& t, int y, int x) { return t[0][0][y][x].item<float>(); }

}  // namespace

TEST_CASE("get_connected_components: 8-connected, raster-order labels, areas", "[amg][regions]") {
  const at::Tensor m = logits_from({"#..#",
                                    ".#..",
                                    "....",
                                    "##.#"}) > 0;
  const auto [labels, areas] = get_connected_components(m);
  // (0,0) and (1,1) touch diagonally: one component of area 2.
  CHECK(labels[0][0][0][0].item<int>() == 1);
  CHECK(labels[0][0][1][1].item<int>() == 1);
  CHECK(areas[0][0][1][1].item<int>() == 2);
  CHECK(labels[0][0][0][3].item<int>() == 2);
  CHECK(areas[0][0][0][3].item<int>() == 1);
  CHECK(labels[0][0][3][0].item<int>() == 3);
  CHECK(areas[0][0][3][1].item<int>() == 2);
  CHECK(labels[0][0][3][3].item<int>() == 4);
  CHECK(labels[0][0][2][2].item<int>() == 0);
  CHECK(areas[0][0][2][2].item<int>() == 0);
}

TEST_CASE("fill_holes_and_sprinkles: SAM 2's low-res fill, area <= A", "[amg][regions]") {
  const at::Tensor logits = logits_from({"#...........",
                                         "##..........",
                                         "...#####....",
                                         "...#####....",
                                         "...##.##....",
                                         "...#####....",
                                         "...#####....",
                                         ".........###",
                                         ".........#.#",
                                         ".........###"});
  // A = 1: the one-pixel holes at (4,5) and (8,10) are filled with +10; the 3-pixel island at
  // the top-left corner is untouched.
  const at::Tensor a1 = fill_holes_and_sprinkles(logits.to(at::Device(test::test_device())), 1, 1).cpu();
  CHECK(at_yx(a1, 4, 5) == 10.f);
  CHECK(at_yx(a1, 8, 10) == 10.f);
  CHECK(at_yx(a1, 0, 0) == 5.f);
  CHECK(at_yx(a1, 3, 4) == 5.f);
  CHECK(at_yx(a1, 0, 5) == -5.f);
  CHECK(at::equal(fill_holes_and_sprinkles(logits, 0.5, 0.5), logits));  // nothing has area <= 0.5

  // A = 3 also removes the 3-pixel island (sprinkle, -10) but not the 8-pixel ring.
  const at::Tensor a3 = fill_holes_and_sprinkles(logits, 0, 3);
  CHECK(at_yx(a3, 0, 0) == -10.f);
  CHECK(at_yx(a3, 1, 1) == -10.f);
  CHECK(at_yx(a3, 7, 9) == 5.f);
  CHECK(at_yx(a3, 4, 5) == -5.f);  // holes off
}

TEST_CASE("fill_holes_and_sprinkles: border holes count, 8-connectivity, original logits", "[amg][regions]") {
  // The background pixel at (0,0) touches the border and is a hole of area 1. The two diagonal
  // background pixels (2,2) and (3,3) form one 8-connected hole of area 2.
  const at::Tensor logits = logits_from({".#####",
                                         "######",
                                         "##.###",
                                         "###.##",
                                         "######"});
  const at::Tensor a1 = fill_holes_and_sprinkles(logits, 1, 1);
  CHECK(at_yx(a1, 0, 0) == 10.f);
  CHECK(at_yx(a1, 2, 2) == -5.f);
  CHECK(at_yx(a1, 3, 3) == -5.f);
  const at::Tensor a2 = fill_holes_and_sprinkles(logits, 2, 0);
  CHECK(at_yx(a2, 2, 2) == 10.f);
  CHECK(at_yx(a2, 3, 3) == 10.f);
  // Sprinkles are found on the input logits: the big foreground component stays even when
  // its holes are filled, and the result is float32 on the input's device.
  CHECK(at_yx(a2, 1, 1) == 5.f);
  CHECK(a2.scalar_type() == at::kFloat);
}

TEST_CASE("remove_small_regions: SAM 1 semantics, area < A", "[amg][regions]") {
  const at::Tensor mask = logits_from({"#####.",
                                       "#..##.",
                                       "#####.",
                                       "......",
                                       ".....#"})[0][0] > 0;
  // Holes mode: the 2-pixel hole is filled only when 2 < A (strict).
  auto [same, changed0] = remove_small_regions(mask, 2, "holes");
  CHECK_FALSE(changed0);
  CHECK(at::equal(same, mask));
  auto [filled, changed1] = remove_small_regions(mask, 3, "holes");
  CHECK(changed1);
  CHECK(filled[1][1].item<bool>());
  CHECK(filled[1][2].item<bool>());
  CHECK_FALSE(filled[4][0].item<bool>());  // the large background is not a hole
  // Islands mode: the single pixel at (4,5) goes; with every island small, the largest stays.
  auto [cleaned, changed2] = remove_small_regions(mask, 2, "islands");
  CHECK(changed2);
  CHECK_FALSE(cleaned[4][5].item<bool>());
  CHECK(cleaned[0][0].item<bool>());
  // Every island that is not small stays, not just the first one.
  const at::Tensor two = logits_from({"###..###",
                                      "###..###",
                                      "........",
                                      "...#...."})[0][0] > 0;
  auto [both, changed4] = remove_small_regions(two, 3, "islands");
  CHECK(changed4);
  CHECK(both.sum().item<int64_t>() == 12);
  CHECK_FALSE(both[3][3].item<bool>());
  auto [largest, changed3] = remove_small_regions(mask, 100, "islands");
  CHECK(changed3);
  CHECK(largest.sum().item<int64_t>() == 13);
  CHECK_FALSE(largest[4][5].item<bool>());
}
