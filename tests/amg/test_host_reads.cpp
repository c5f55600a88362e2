// The host/device boundary of the generator's loop (amg/host_reads.h) and NMS over marked rows,
// which lets the loop gather its survivors with the NMS's own read.
#include <thread>

#include "amg/host_reads.h"
#include "amg/mask_data.h"
#include "amg/nms.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

namespace {

std::vector<int64_t> to_vec(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kCPU).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// A bool tensor (at::tensor has no bool lists in every LibTorch).
at::Tensor bools(std::vector<int> v) { return at::tensor(v, at::kInt).to(at::kBool); }

}  // namespace

TEST_CASE("host reads are counted per thread, uploads are not", "[amg][host-reads]") {
  const at::Device dev(test::test_device());
  reset_host_reads();
  const at::Tensor x = upload(at::arange(6, at::kLong), dev);
  CHECK(x.device() == dev);
  CHECK(host_reads() == 0);
  const at::Tensor back = read_to_host(x * 2);
  CHECK(back.device().is_cpu());
  CHECK(to_vec(back) == std::vector<int64_t>{0, 2, 4, 6, 8, 10});
  CHECK(host_reads() == 1);
  CHECK(to_vec(true_indices(x > 2)) == std::vector<int64_t>{3, 4, 5});
  CHECK(host_reads() == 2);
  CHECK(read_nonzero(x.view({2, 3}) > 3).sizes() == at::IntArrayRef({2, 2}));
  CHECK(host_reads() == 3);
  std::int64_t other = -1;
  std::thread([&] {
    read_to_host(x);
    other = host_reads();
  }).join();
  CHECK(other == 1);  // the other thread's own count
  CHECK(host_reads() == 3);
  reset_host_reads();
  CHECK(host_reads() == 0);
}

TEST_CASE("MaskData::filter: a bool mask is one read, indices none", "[amg][host-reads]") {
  MaskData d;
  d.iou_preds = at::tensor({0.1f, 0.9f, 0.5f, 0.7f});
  d.keep = bools({1, 0, 1, 1});
  reset_host_reads();
  MaskData by_index = d;
  by_index.filter(at::tensor({3, 0}, at::kLong));
  CHECK(host_reads() == 0);
  CHECK(by_index.iou_preds.equal(at::tensor({0.7f, 0.1f})));
  CHECK(by_index.keep.equal(bools({1, 1})));  // the keep column is filtered like the others
  d.filter(d.keep);
  CHECK(host_reads() == 1);
  CHECK(d.iou_preds.equal(at::tensor({0.1f, 0.5f, 0.7f})));
}

TEST_CASE("nms with valid rows equals nms of the valid rows alone", "[amg][nms][host-reads]") {
  const at::Device dev(test::test_device());
  // Random boxes with many overlaps and tied scores, so suppression and tie order both matter.
  at::manual_seed(7);
  for (int trial = 0; trial < 20; ++trial) {
    const int64_t n = 60;
    const at::Tensor xy = at::randint(0, 50, {n, 2}, at::kLong);
    const at::Tensor wh = at::randint(1, 30, {n, 2}, at::kLong);
    const at::Tensor boxes = at::cat({xy, xy + wh}, 1);
    const at::Tensor scores = at::randint(0, 8, {n}).to(at::kFloat) / 8;  // ties
    const at::Tensor valid = at::rand({n}) > 0.4;
    const at::Tensor rows = valid.nonzero().squeeze(1);
    // Reference: NMS on the valid rows only, mapped back to the full indices.
    const at::Tensor sub = nms(boxes.index_select(0, rows).to(at::kFloat), scores.index_select(0, rows), 0.5);
    const std::vector<int64_t> expected = to_vec(rows.index_select(0, sub));
    reset_host_reads();
    const at::Tensor got = nms(boxes.to(dev).to(at::kFloat), scores.to(dev), 0.5, valid.to(dev));
    CHECK(host_reads() == 1);  // the validity rides with the suppression matrix
    CHECK(to_vec(got) == expected);
    // batched_nms with one category too (the generator's per-crop call).
    const at::Tensor zeros = at::zeros({n}, at::kLong).to(dev);
    CHECK(to_vec(batched_nms(boxes.to(dev), scores.to(dev), zeros, 0.5, valid.to(dev))) == expected);
  }
}

TEST_CASE("nms: an invalid row neither survives nor suppresses", "[amg][nms]") {
  // Row 2 duplicates row 0 with a higher score: valid, it would remove row 0.
  const at::Tensor boxes = at::tensor({0, 0, 10, 10, 20, 20, 30, 30, 0, 0, 10, 10}, at::kLong).view({3, 4});
  const at::Tensor scores = at::tensor({0.9f, 0.8f, 0.99f});
  const at::Tensor zeros = at::zeros({3}, at::kLong);
  CHECK(to_vec(batched_nms(boxes, scores, zeros, 0.5)) == std::vector<int64_t>{2, 1});
  CHECK(to_vec(batched_nms(boxes, scores, zeros, 0.5, bools({1, 1, 0}))) == std::vector<int64_t>{0, 1});
  CHECK(to_vec(nms(boxes.to(at::kFloat), scores, 0.5, bools({0, 0, 0}))).empty());
}
