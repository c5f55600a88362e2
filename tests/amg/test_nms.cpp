#include "amg/nms.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

static at::Tensor boxes_of(std::vector<float> v) {
  return at::tensor(v).view({-1, 4});
}

static std::vector<int64_t> to_vec(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TEST_CASE("nms: IoU without +1, strict greater-than", "[amg][nms]") {
  // IoU([0,0,10,10], [1,1,11,11]) = 81 / 119 = 0.68.
  const at::Tensor b = boxes_of({0, 0, 10, 10, 1, 1, 11, 11});
  const at::Tensor s = at::tensor({0.9f, 0.8f});
  CHECK(to_vec(nms(b, s, 0.7)) == std::vector<int64_t>{0, 1});
  CHECK(to_vec(nms(b, s, 0.6)) == std::vector<int64_t>{0});
  // IoU exactly 0.5 does not suppress at threshold 0.5.
  const at::Tensor half = boxes_of({0, 0, 10, 10, 0, 0, 10, 5});
  CHECK(to_vec(nms(half, s, 0.5)) == std::vector<int64_t>{0, 1});
  CHECK(to_vec(nms(half, s, 0.49)) == std::vector<int64_t>{0});
  // IoU 4/5 is float(0.8), a hair above 0.8: torchvision suppresses on the CPU (double
  // threshold) and keeps on CUDA (float threshold); we do the same on each device.
  const at::Device dev(test::test_device());
  const at::Tensor fifth = boxes_of({0, 0, 5, 1, 0, 0, 4, 1}).to(dev);
  const auto kept = to_vec(nms(fifth, s.to(dev), 0.8).cpu());
  CHECK(kept.size() == (dev.is_cuda() ? 2u : 1u));
}

TEST_CASE("nms: keep order is descending score, ties by input index", "[amg][nms]") {
  const at::Tensor disjoint = boxes_of({0, 0, 1, 1, 10, 10, 11, 11, 20, 20, 21, 21, 30, 30, 31, 31});
  CHECK(to_vec(nms(disjoint, at::tensor({0.5f, 0.7f, 0.5f, 0.7f}), 0.7)) == std::vector<int64_t>{1, 3, 0, 2});
  // Identical boxes, identical scores: the first one survives.
  const at::Tensor same = boxes_of({5, 5, 50, 50, 5, 5, 50, 50, 5, 5, 50, 50});
  CHECK(to_vec(nms(same, at::tensor({0.3f, 0.3f, 0.3f}), 0.7)) == std::vector<int64_t>{0});
  // Zero-area boxes: IoU is 0/0 = NaN, which never suppresses.
  const at::Tensor empty = boxes_of({0, 0, 0, 0, 0, 0, 0, 0});
  CHECK(to_vec(nms(empty, at::tensor({0.2f, 0.2f}), 0.0)) == std::vector<int64_t>{0, 1});
  CHECK(nms(at::zeros({0, 4}), at::zeros({0}), 0.5).numel() == 0);
}

TEST_CASE("batched_nms only suppresses within a category", "[amg][nms]") {
  const at::Tensor b = boxes_of({0, 0, 10, 10, 0, 0, 10, 10, 0, 0, 10, 10});
  const at::Tensor s = at::tensor({0.9f, 0.8f, 0.7f});
  CHECK(to_vec(batched_nms(b, s, at::tensor({0, 1, 0}, at::kLong), 0.5)) == std::vector<int64_t>{0, 1});
  CHECK(to_vec(batched_nms(b.to(at::kLong), s, at::zeros({3}, at::kLong), 0.5)) == std::vector<int64_t>{0});
}

TEST_CASE("nms on many boxes is the greedy answer", "[amg][nms]") {
  // 5000 boxes exercise the blocked suppression matrix; compare with a direct greedy loop.
  at::manual_seed(7);
  const int64_t n = 5000;
  const at::Tensor xy = at::randint(0, 400, {n, 2}).to(at::kFloat);
  const at::Tensor wh = at::randint(1, 60, {n, 2}).to(at::kFloat);
  const at::Tensor b = at::cat({xy, xy + wh}, 1);
  const at::Tensor s = at::randint(0, 50, {n}).to(at::kFloat) / 50;  // many ties
  const at::Device dev(test::test_device());
  const auto keep = to_vec(nms(b.to(dev), s.to(dev), 0.5).cpu());

  const at::Tensor order = std::get<1>(s.sort(true, 0, true));
  auto bb = b.accessor<float, 2>();
  std::vector<int64_t> expect;
  for (int64_t k = 0; k < n; ++k) {
    const int64_t i = order[k].item<int64_t>();
    bool ok = true;
    for (int64_t j : expect) {
      const float iw = std::max(0.f, std::min(bb[i][2], bb[j][2]) - std::max(bb[i][0], bb[j][0]));
      const float ih = std::max(0.f, std::min(bb[i][3], bb[j][3]) - std::max(bb[i][1], bb[j][1]));
      const float inter = iw * ih;
      const float ai = (bb[i][2] - bb[i][0]) * (bb[i][3] - bb[i][1]);
      const float aj = (bb[j][2] - bb[j][0]) * (bb[j][3] - bb[j][1]);
      if (inter / (aj + ai - inter) > 0.5f) {
        ok = false;
        break;
      }
    }
    if (ok) expect.push_back(i);
  }
  CHECK(keep == expect);
}
