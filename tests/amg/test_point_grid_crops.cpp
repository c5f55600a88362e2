#include "amg/crop_boxes.h"
#include "amg/point_grid.h"
#include "support/catch.h"

using namespace sam2amg;

TEST_CASE("build_point_grid matches numpy.linspace bit for bit, row-major", "[amg][grid]") {
  const at::Tensor g1 = build_point_grid(1);
  REQUIRE(g1.sizes() == at::IntArrayRef({1, 2}));
  CHECK(g1[0][0].item<double>() == 0.5);

  // np.linspace(0.05, 0.95, 10): element 4 is 0.44999999999999996, not 0.45.
  const at::Tensor g10 = build_point_grid(10);
  CHECK(g10[4][0].item<double>() == 0.44999999999999996);
  CHECK(g10[5][0].item<double>() == 0.5499999999999999);
  CHECK(g10[9][0].item<double>() == 0.95);
  // Row-major: point j*n + i is (side[i], side[j]).
  CHECK(g10[10 * 4 + 1][0].item<double>() == 0.15);
  CHECK(g10[10 * 4 + 1][1].item<double>() == 0.44999999999999996);

  const at::Tensor g7 = build_point_grid(7);
  CHECK(g7[2][0].item<double>() == 0.3571428571428572);
  CHECK(g7[6][0].item<double>() == 0.9285714285714286);

  const at::Tensor g32 = build_point_grid(32);
  REQUIRE(g32.size(0) == 1024);
  for (int i = 0; i < 32; ++i) CHECK(g32[i][0].item<double>() == (i + 0.5) / 32);
}

TEST_CASE("build_all_layer_point_grids truncates points_per_side / factor^i", "[amg][grid]") {
  const auto grids = build_all_layer_point_grids(7, 2, 2);
  REQUIRE(grids.size() == 3);
  CHECK(grids[0].size(0) == 49);
  CHECK(grids[1].size(0) == 9);  // int(7 / 2) = 3
  CHECK(grids[2].size(0) == 1);  // int(7 / 4) = 1
  const auto same = build_all_layer_point_grids(32, 1, 1);
  CHECK(same[1].size(0) == 1024);
}

TEST_CASE("point_grids_for uses explicit grids when points_per_side is unset", "[amg][grid]") {
  AmgConfig c;
  c.points_per_side.reset();
  c.point_grids = {{{0.25, 0.75}, {1.0, 0.0}}};
  const auto grids = point_grids_for(c);
  REQUIRE(grids.size() == 1);
  CHECK(grids[0][0][0].item<double>() == 0.25);
  CHECK(grids[0][0][1].item<double>() == 0.75);
  CHECK(grids[0][1][0].item<double>() == 1.0);
}

TEST_CASE("generate_crop_boxes: the spec's worked examples", "[amg][crops]") {
  // H=768, W=1024, one layer: overlap int(512/1500*768) = 262, crop 643 x 515.
  const CropBoxes c1 = generate_crop_boxes(768, 1024, 1, 512.0 / 1500.0);
  REQUIRE(c1.boxes.size() == 5);
  CHECK(c1.boxes[0] == CropBoxXyxy{0, 0, 1024, 768});
  CHECK(c1.boxes[1] == CropBoxXyxy{0, 0, 643, 515});
  CHECK(c1.boxes[2] == CropBoxXyxy{0, 253, 643, 768});  // y varies fastest
  CHECK(c1.boxes[3] == CropBoxXyxy{381, 0, 1024, 515});
  CHECK(c1.boxes[4] == CropBoxXyxy{381, 253, 1024, 768});
  CHECK(c1.layer_idxs == std::vector<int>{0, 1, 1, 1, 1});

  // H=1000, W=1500, two layers: 21 crops; the last column of layer 2 is clipped to width 501.
  const CropBoxes c2 = generate_crop_boxes(1000, 1500, 2, 512.0 / 1500.0);
  REQUIRE(c2.boxes.size() == 21);
  CHECK(c2.boxes[5] == CropBoxXyxy{0, 0, 503, 378});
  CHECK(c2.boxes[5 + 12] == CropBoxXyxy{999, 0, 1500, 378});
  CHECK(c2.boxes[20] == CropBoxXyxy{999, 624, 1500, 1000});
  CHECK(c2.layer_idxs[4] == 1);
  CHECK(c2.layer_idxs[5] == 2);

  // Layer 1 crops of the 256x256 test scene.
  const CropBoxes c3 = generate_crop_boxes(256, 256, 1, 512.0 / 1500.0);
  CHECK(c3.boxes[1] == CropBoxXyxy{0, 0, 172, 172});
  CHECK(c3.boxes[4] == CropBoxXyxy{85, 85, 256, 256});
}

TEST_CASE("uncrop transforms shift by the crop origin", "[amg][crops]") {
  const CropBoxXyxy crop{10, 20, 60, 90};
  const at::Tensor boxes = at::tensor({1, 2, 3, 4}, at::kLong).view({1, 4});
  CHECK(at::equal(uncrop_boxes_xyxy(boxes, crop), at::tensor({11, 22, 13, 24}, at::kLong).view({1, 4})));
  const at::Tensor pts = at::tensor({0.5f, 1.25f}).view({1, 2});
  const at::Tensor up = uncrop_points(pts, crop);
  CHECK(up.scalar_type() == at::kFloat);
  CHECK(at::equal(up, at::tensor({10.5f, 21.25f}).view({1, 2})));

  const at::Tensor masks = at::ones({2, 70, 50}, at::kBool);
  const at::Tensor full = uncrop_masks(masks, crop, 100, 80);
  REQUIRE(full.sizes() == at::IntArrayRef({2, 100, 80}));
  CHECK(full.sum().item<int64_t>() == 2 * 70 * 50);
  CHECK(full[0][20][10].item<bool>());
  CHECK_FALSE(full[0][19][10].item<bool>());
  CHECK(full[0][89][59].item<bool>());
  CHECK_FALSE(full[0][89][60].item<bool>());
  // The full-image crop returns the masks untouched.
  CHECK(uncrop_masks(masks, {0, 0, 50, 70}, 70, 50).is_same(masks));
}
