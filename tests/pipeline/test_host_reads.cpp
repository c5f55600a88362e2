// The generator's loop waits for the device only a few times per image: every device-to-host
// read goes through src/amg/host_reads.h, which counts them on every device, so these CPU runs
// show the count a CUDA run has (and the GPU session cross-checks it with CUDA's sync-debug mode).
#include "pipeline/mask_generator.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::int64_t reads_of(const AmgConfig& config, const ImageU8& image, std::vector<MaskRecord>* records = nullptr) {
  const MaskGenerator gen(synthetic_model_path(), config, {test_device()});
  StageTimes t;
  std::vector<MaskRecord> out = gen.generate(image, nullptr, &t);
  if (records) *records = std::move(out);
  return t.host_reads;
}

}  // namespace

TEST_CASE("An image's loop reads from the device at most 5 times, however many batches", "[pipeline][host-reads]") {
  const ImageU8 img = four_object_scene();
  for (const bool multimask : {true, false}) {  // the single-mask path runs ATen's RLE, as CUDA does
    for (const int ppb : {256, 64, 8}) {
      INFO("multimask_output " << multimask << ", points_per_batch " << ppb);
      AmgConfig c;
      c.points_per_side = 16;
      c.points_per_batch = ppb;
      c.multimask_output = multimask;
      std::vector<MaskRecord> records;
      const std::int64_t reads = reads_of(c, img, &records);
      CHECK(records.size() >= 4);  // the scene's objects were found: the reads were real work
      CHECK(reads >= 2);           // at least the compaction and the records' copy
      CHECK(reads <= 5);
    }
  }
}
