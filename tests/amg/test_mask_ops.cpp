#include <cmath>

#include "amg/mask_ops.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

TEST_CASE("calculate_stability_score counts strictly above t +- offset", "[amg][stability]") {
  const at::Tensor logits = at::tensor({2.f, 0.5f, -0.5f, 1.0f, 1.5f, -2.f}).view({1, 2, 3});
  // I = #(> 1) = {2, 1.5} (1.0 is not > 1); U = #(> -1) = 5.
  CHECK(calculate_stability_score(logits, 0.0, 1.0)[0].item<float>() == 2.f / 5.f);
  // t = 0.5, offset 0.25: I = #(> 0.75) = 3, U = #(> 0.25) = 4.
  CHECK(calculate_stability_score(logits, 0.5, 0.25)[0].item<float>() == 0.75f);
  // U = 0 gives NaN (dropped by any >= filter); I = 0 gives 0.
  const at::Tensor neg = at::full({2, 4, 4}, -5.f);
  neg[1][0][0] = 0.f;
  const at::Tensor s = calculate_stability_score(neg.to(at::Device(test::test_device())), 0.0, 1.0).cpu();
  CHECK(std::isnan(s[0].item<float>()));
  CHECK(s[1].item<float>() == 0.f);
  CHECK(s.scalar_type() == at::kFloat);
  // Rows wider than 32767 pixels: counts do not wrap (the reference's int16 row sums would give
  // -25536 / -25526 here).
  at::Tensor wide = at::full({1, 1, 40010}, 5.f);
  wide.slice(2, 40000).fill_(0.f);
  CHECK(calculate_stability_score(wide, 0.0, 1.0)[0].item<float>() == 40000.f / 40010.f);
}

TEST_CASE("batched_mask_to_box: inclusive max, empty is zeros", "[amg][boxes]") {
  at::Tensor m = at::zeros({3, 4, 5}, at::kBool);
  m[0][1][2] = true;
  m[0][3][4] = true;
  m[1][2][3] = true;  // one pixel: x0 == x1
  const at::Tensor boxes = batched_mask_to_box(m.to(at::Device(test::test_device()))).cpu();
  REQUIRE(boxes.sizes() == at::IntArrayRef({3, 4}));
  CHECK(boxes.scalar_type() == at::kLong);
  CHECK(at::equal(boxes[0], at::tensor({2, 1, 4, 3}, at::kLong)));
  CHECK(at::equal(boxes[1], at::tensor({3, 2, 3, 2}, at::kLong)));
  CHECK(at::equal(boxes[2], at::tensor({0, 0, 0, 0}, at::kLong)));
  // Leading dimensions are kept; an empty input gives float zeros of shape (..., 4).
  CHECK(batched_mask_to_box(at::zeros({2, 3, 4, 5}, at::kBool)).sizes() == at::IntArrayRef({2, 3, 4}));
  const at::Tensor none = batched_mask_to_box(at::zeros({0, 4, 5}, at::kBool));
  CHECK(none.sizes() == at::IntArrayRef({0, 4}));
  CHECK(none.scalar_type() == at::kFloat);
}

TEST_CASE("box_xyxy_to_xywh has no +1 and box_area none either", "[amg][boxes]") {
  const at::Tensor b = at::tensor({10, 0, 89, 99}, at::kLong).view({1, 4});
  CHECK(at::equal(box_xyxy_to_xywh(b), at::tensor({10, 0, 79, 99}, at::kLong).view({1, 4})));
  CHECK(box_area(b)[0].item<int64_t>() == 79 * 99);
}

TEST_CASE("is_box_near_crop_edge: atol 20 inclusive, image edges exempt", "[amg][edge]") {
  const at::Tensor boxes = at::tensor({10, 10, 85, 50,    // x1 15 from the crop edge: dropped
                                       10, 10, 79, 50,    // 21 away: kept
                                       10, 10, 80, 50},   // exactly 20: dropped
                                      at::kLong)
                               .view({3, 4});
  const at::Tensor near = is_box_near_crop_edge(boxes, {0, 0, 100, 100}, {0, 0, 200, 200});
  CHECK(at::equal(near.to(at::kLong), at::tensor({1, 0, 1}, at::kLong)));

  // Bottom-right crop: its right/bottom edges are image edges, its left/top are not.
  const at::Tensor b2 = at::tensor({50, 50, 99, 99,    // image [150,150,199,199]: only image edges
                                    5, 50, 60, 60},    // image x0 105, 5 from the crop's left edge
                                   at::kLong)
                            .view({2, 4});
  CHECK(at::equal(is_box_near_crop_edge(b2, {100, 100, 200, 200}, {0, 0, 200, 200}).to(at::kLong),
                  at::tensor({0, 1}, at::kLong)));
  // The full-image crop never removes anything.
  const at::Tensor b3 = at::tensor({0, 0, 199, 199}, at::kLong).view({1, 4});
  CHECK_FALSE(is_box_near_crop_edge(b3, {0, 0, 200, 200}, {0, 0, 200, 200})[0].item<bool>());
}
