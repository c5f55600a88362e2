// The fast decoder form through Sam2Model: a fast export and an exact export of the same
// stand-in weights (written by tests/scripts/test_fast_decoder.py --write-exports, the CTest
// fixture fast_decoder_exports, into $SAM2AMG_FAST_DECODER_EXPORTS) give the same outputs, in
// calls of any size; the exact path is untouched.
#include <torch/script.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "model/fast_decoder.h"
#include "model/sam2_model.h"
#include "model_files.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::string exports_dir() {
  const char* dir = std::getenv("SAM2AMG_FAST_DECODER_EXPORTS");
  REQUIRE(dir != nullptr);  // set by tests/CMakeLists.txt, with the fixture that writes the files
  REQUIRE(std::ifstream(std::string(dir) + "/fast.pt").good());
  return dir;
}

ImageU8 noise_image(int w, int h, unsigned seed) {
  ImageU8 img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (auto& v : img.rgb) {
    seed = seed * 1103515245u + 12345u;
    v = static_cast<std::uint8_t>(seed >> 24);
  }
  return img;
}

at::Tensor grid(int n, double size) {
  std::vector<float> xy;
  for (int i = 0; i < n; ++i) {
    xy.push_back(static_cast<float>((i % 7 + 0.5) / 7 * size));
    xy.push_back(static_cast<float>((i / 7 % 7 + 0.5) / 7 * size));
  }
  return at::tensor(xy).reshape({n, 2});
}

double max_abs(const at::Tensor& a, const at::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_CASE("Fast and exact exports of the same weights decode alike, in calls of any size", "[model][fast]") {
  const std::string dir = exports_dir();
  const Sam2Model fast = Sam2Model::load(dir + "/fast.pt", {"cpu"});
  const Sam2Model exact = Sam2Model::load(dir + "/exact.pt", {"cpu"});
  CHECK(fast.metadata().decoder == "fast");
  CHECK(exact.metadata().decoder == "exact");
  CHECK(fast.describe().find("fast decoder") != std::string::npos);
  CHECK(exact.describe().find("fast") == std::string::npos);
  CHECK(exact.decoder_path().str() == "exact");
  CHECK(exact.preferred_prompt_batch() == 0);
  CHECK(fast.preferred_prompt_batch() == 64);  // the CPU bound

  const ImageU8 img = noise_image(90, 70, 7);
  const ImageEmbedding ef = fast.encode_image(img, {0, 0, 90, 70});
  const ImageEmbedding ee = exact.encode_image(img, {0, 0, 90, 70});
  CHECK(ee.decoder_context.empty());
  REQUIRE(ef.decoder_context.size() >= 5);
  for (const at::Tensor& t : ef.decoder_context) CHECK(t.size(0) == 1);  // per image, not per prompt

  const double s = fast.metadata().image_size;
  // 1 and 16 are one bucket, 17 pads to 32, 40 to 64, 150 runs as 64 + 64 + 22 (padded to 32).
  for (int n : {1, 16, 17, 40, 150}) {
    INFO("prompts " << n);
    const at::Tensor pts = grid(n, s);
    const std::int64_t calls = fast.decoder_path().calls;
    const DecoderOutput a = exact.predict_points(ee, pts);
    const DecoderOutput b = fast.predict_points(ef, pts);
    CHECK(fast.decoder_path().calls - calls == (n + 63) / 64);
    REQUIRE(b.low_res_logits.sizes() == a.low_res_logits.sizes());
    REQUIRE(b.iou_preds.sizes() == a.iou_preds.sizes());
    CHECK(b.low_res_logits.scalar_type() == at::kFloat);
    CHECK(a.low_res_logits.abs().max().item<double>() > 1.0);  // real logits, not zeros
    CHECK(max_abs(a.low_res_logits, b.low_res_logits) <= 1e-4);
    CHECK(max_abs(a.iou_preds, b.iou_preds) <= 1e-4);
    // A prompt alone gives its row of the padded batch.
    const DecoderOutput one = fast.predict_points(ef, pts.slice(0, n - 1, n));
    CHECK(max_abs(one.low_res_logits[0], b.low_res_logits[n - 1]) <= 1e-5);
  }
  const DecoderPath path = fast.decoder_path();
  CHECK(path.fast);
  CHECK_FALSE(path.cuda_graph);
  CHECK(path.graph_replays == 0);
  CHECK(path.max_batch == 64);
  CHECK(path.str().rfind("fast, eager (", 0) == 0);

  // The mask-input path (m2m) runs the fast export's predict_masks_with_mask_input.
  const at::Tensor pts = grid(5, s);
  const at::Tensor masks = at::randn({5, 1, fast.metadata().image_size / 4, fast.metadata().image_size / 4}) * 8;
  const std::int64_t calls = fast.decoder_path().calls;
  const DecoderOutput a = exact.predict_points(ee, pts, masks);
  const DecoderOutput b = fast.predict_points(ef, pts, masks);
  CHECK(fast.decoder_path().calls == calls);
  CHECK(max_abs(a.low_res_logits, b.low_res_logits) <= 1e-4);
  CHECK(max_abs(a.iou_preds, b.iou_preds) <= 1e-4);
}

TEST_CASE("Fast decoder batches are powers of two from 16, within the memory bound", "[model][fast]") {
  CHECK(fast_decoder_cap(0) == 16);
  CHECK(fast_decoder_cap(64) == 64);
  CHECK(fast_decoder_cap(1000) == 512);
  CHECK(fast_decoder_cap(4096) == 4096);
  CHECK(fast_decoder_bucket(1, 64) == 16);
  CHECK(fast_decoder_bucket(16, 64) == 16);
  CHECK(fast_decoder_bucket(17, 64) == 32);
  CHECK(fast_decoder_bucket(64, 64) == 64);
  CHECK(fast_decoder_bucket(1024, 4096) == 1024);
  CHECK(fast_decoder_bucket(1025, 4096) == 2048);
  CHECK(fast_decoder_bucket(300, 256) == 256);
}

TEST_CASE("A file whose metadata says decoder fast without the fast methods is refused", "[model][fast]") {
  const std::string dir = exports_dir();
  TempDir tmp;
  const std::string bad = tmp.file("claims_fast.pt");
  copy_with_metadata(dir + "/exact.pt", bad, "\"decoder\": \"exact\"", "\"decoder\": \"fast\"");
  try {
    Sam2Model::load(bad, {"cpu"});
    FAIL("loaded");
  } catch (const ModelError& e) {
    CHECK(e.exit_code() == 3);
    CHECK(std::string(e.what()).find("no method 'prepare_decoder'") != std::string::npos);
  }
}
