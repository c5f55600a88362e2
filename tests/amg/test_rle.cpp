#include <random>

#include "amg/mask_ops.h"
#include "amg/rle_tensor.h"
#include "amg/rle_host.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

namespace {

struct Vector {
  int h, w;
  std::vector<std::uint32_t> counts;
  std::string coco;
  std::array<double, 4> coco_bbox;
  std::int64_t area;
  std::array<int64_t, 4> amg_bbox_xywh;
};

// The six vectors of the spec (§3.2), checked there against pycocotools' C code.
const std::vector<Vector> kVectors = {
    {4, 4, {5, 3, 8}, "538", {1, 1, 1, 3}, 3, {1, 1, 0, 2}},
    {4, 4, {0, 16}, "0`0", {0, 0, 4, 4}, 16, {0, 0, 3, 3}},
    {4, 4, {16}, "`0", {0, 0, 0, 0}, 0, {0, 0, 0, 0}},
    {10, 10, {12, 3, 7, 2, 76}, "<37OU2", {1, 2, 2, 3}, 5, {1, 2, 1, 2}},
    {100, 100, {1000, 40, 60, 40, 60, 8800}, "Xo0X1l100ha8", {10, 0, 90, 100}, 8880, {10, 0, 89, 99}},
    {2, 3, {1, 1, 1, 1, 1, 1}, "111000", {0, 1, 3, 1}, 3, {0, 1, 2, 0}},
};

at::Tensor to_tensor(const std::vector<std::uint8_t>& m, int h, int w) {
  return at::tensor(std::vector<int64_t>(m.begin(), m.end()), at::kLong).view({h, w}).to(at::kBool);
}

}  // namespace

TEST_CASE("RLE: the spec's six vectors, every representation", "[amg][rle]") {
  for (const Vector& v : kVectors) {
    INFO("vector " << v.coco);
    const Rle rle{v.h, v.w, v.counts};
    CHECK(rle_to_string(rle) == v.coco);
    CHECK(rle_from_string(v.coco, v.h, v.w) == rle);
    CHECK(area_from_rle(rle) == v.area);
    CHECK(rle_to_coco_bbox(rle) == v.coco_bbox);

    // Decode to pixels, encode back on tensors and on the host.
    const std::vector<std::uint8_t> mask = rle_to_mask(rle);
    CHECK(rle_from_mask(mask.data(), v.h, v.w) == rle);
    const at::Tensor t = to_tensor(mask, v.h, v.w);
    const std::vector<Rle> enc = mask_to_rle_pytorch(t.unsqueeze(0));
    REQUIRE(enc.size() == 1);
    CHECK(enc[0] == rle);

    const at::Tensor xywh = box_xyxy_to_xywh(batched_mask_to_box(t.unsqueeze(0)));
    for (int k = 0; k < 4; ++k) CHECK(xywh[0][k].item<int64_t>() == v.amg_bbox_xywh[k]);
  }
}

TEST_CASE("RLE: column-major order and the leading zero run", "[amg][rle]") {
  // 2x3 mask, row-major:  1 0 0 / 1 1 0 -> columns (1,1) (0,1) (0,0) -> counts [0, 2, 1, 1, 2].
  const at::Tensor m = at::tensor({1, 0, 0, 1, 1, 0}, at::kLong).view({1, 2, 3}).to(at::kBool);
  const auto rles = mask_to_rle_pytorch(m);
  CHECK(rles[0].counts == std::vector<std::uint32_t>{0, 2, 1, 1, 2});
  CHECK(rles[0].h == 2);
  CHECK(rles[0].w == 3);
}

TEST_CASE("mask_to_rle_pytorch encodes a batch like the host encoder", "[amg][rle]") {
  std::mt19937 rng(1234);
  const int n = 12, h = 37, w = 23;
  std::vector<std::uint8_t> all(size_t(n) * h * w);
  for (int k = 0; k < n; ++k) {
    // Mostly long runs, with all-zero and all-one masks in the batch.
    std::uint8_t v = k % 2;
    for (int i = 0; i < h * w; ++i) {
      if (k >= 2 && rng() % 9 == 0) v ^= 1;
      all[size_t(k) * h * w + i] = v;
    }
  }
  const at::Tensor t = at::tensor(std::vector<int64_t>(all.begin(), all.end()), at::kLong).view({n, h, w}).to(at::kBool);
  const auto rles = mask_to_rle_pytorch(t.to(at::Device(test::test_device())));
  REQUIRE(rles.size() == size_t(n));
  CHECK(rles[0].counts == std::vector<std::uint32_t>{std::uint32_t(h * w)});
  CHECK(rles[1].counts == std::vector<std::uint32_t>{0, std::uint32_t(h * w)});
  for (int k = 0; k < n; ++k) {
    CHECK(rles[k] == rle_from_mask(all.data() + size_t(k) * h * w, h, w));
    CHECK(rle_to_mask(rles[k]) == std::vector<std::uint8_t>(all.begin() + size_t(k) * h * w,
                                                             all.begin() + size_t(k + 1) * h * w));
    CHECK(rle_from_string(rle_to_string(rles[k]), h, w) == rles[k]);
  }
}

TEST_CASE("rle_from_string rejects malformed strings", "[amg][rle]") {
  CHECK_THROWS_AS(rle_from_string("538", 4, 5), std::invalid_argument);  // sums to 16, not 20
  CHECK_THROWS_AS(rle_from_string("0`", 4, 4), std::invalid_argument);   // continuation never ends
  CHECK_THROWS_AS(rle_from_string("5 8", 4, 4), std::invalid_argument);  // byte outside 48..111
  // Found by fuzzing: a value of 13 characters shifted past 64 bits (undefined behaviour).
  try {
    rle_from_string(std::string(12, 'Q') + "0", 4, 4);
    FAIL("a 13-character value was decoded");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("longer than 7 characters") != std::string::npos);
  }
  // 7 characters still decode: a run of 2^32 - 1 (the largest uint32).
  const Rle big{65535, 65537, {0, 4294967295u}};
  CHECK(rle_from_string(rle_to_string(big), 65535, 65537) == big);
}
