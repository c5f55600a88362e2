// The native decoder (src/model/native_decoder.h) through Sam2Model, on the exact export of the
// stand-in with SAM 2's decoder structure (256 channels, 4 heads, an object-score token; written
// by tests/scripts/test_fast_decoder.py --write-exports): it equals the export's own decoder in
// calls of any size, --decoder auto picks it on the CPU, and a file it cannot decode (no SAM 2
// weights, or a structure its load-time check refutes) falls back under auto and is refused
// under native.
#include <torch/script.h>

#include <cstdlib>
#include <fstream>

#include "common/error.h"
#include "model/sam2_model.h"
#include "model_files.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::string exact_export() {
  const char* dir = std::getenv("SAM2AMG_FAST_DECODER_EXPORTS");
  REQUIRE(dir != nullptr);
  const std::string path = std::string(dir) + "/exact.pt";
  REQUIRE(std::ifstream(path).good());
  return path;
}

ModelOptions on_cpu(Decoder decoder) {
  ModelOptions o;
  o.device = "cpu";
  o.decoder = decoder;
  return o;
}

// Points spread over the model's input, (n, 2) in model space.
at::Tensor points(int n, double size) {
  return at::stack({at::arange(n, at::kFloat) * 0.37 + 0.5, at::arange(n, at::kFloat) * 0.61 + 0.25}, 1)
             .remainder(1.0) *
         size;
}

ImageU8 gradient_image(int w, int h) {
  ImageU8 img;
  img.width = w;
  img.height = h;
  img.rgb.resize(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<std::uint8_t>((x * 7 + y * 3 * (c + 1)) % 256);
  return img;
}

double relative(const at::Tensor& reference, const at::Tensor& other) {
  return (reference - other).abs().max().item<double>() / std::max(1.0, reference.abs().max().item<double>());
}

}  // namespace

TEST_CASE("The native decoder equals the export's decoder in calls of any size", "[model][native]") {
  const std::string path = exact_export();
  const Sam2Model graph = Sam2Model::load(path, on_cpu(Decoder::kExport));
  const Sam2Model native = Sam2Model::load(path, on_cpu(Decoder::kNative));
  CHECK_FALSE(graph.decoder_path().native);
  CHECK(graph.decoder_path().not_native.empty());  // export was asked for: nothing to explain
  CHECK(native.decoder_path().native);
  CHECK(native.decoder_path().str() == "native (float32)");
  CHECK(native.describe().find("native decoder") != std::string::npos);

  const ImageU8 img = gradient_image(90, 70);
  const ImageEmbedding eg = graph.encode_image(img, {0, 0, 90, 70});
  const ImageEmbedding en = native.encode_image(img, {0, 0, 90, 70});
  CHECK(at::equal(eg.image_embed, en.image_embed));  // the encoder is the export's graph either way
  REQUIRE_FALSE(en.decoder_context.empty());
  const std::int64_t s = graph.metadata().image_size;
  // Chunks of NativeDecoder::kChunk (8) prompts: below, at and across their boundaries.
  for (int n : {1, 7, 8, 9, 20}) {
    INFO("prompts " << n);
    const at::Tensor pts = points(n, static_cast<double>(s));
    const DecoderOutput a = graph.predict_points(eg, pts);
    const std::int64_t calls = native.decoder_path().calls;
    const DecoderOutput b = native.predict_points(en, pts);
    CHECK(native.decoder_path().calls == calls + 1);
    REQUIRE(b.low_res_logits.sizes() == a.low_res_logits.sizes());
    REQUIRE(b.iou_preds.sizes() == a.iou_preds.sizes());
    CHECK(a.low_res_logits.abs().max().item<double>() > 1.0);  // real logits, not zeros
    CHECK(relative(a.low_res_logits, b.low_res_logits) <= 2e-5);
    CHECK((a.iou_preds - b.iou_preds).abs().max().item<double>() <= 1e-5);
    // Every prompt is its own: the last one alone gives its row.
    const DecoderOutput one = native.predict_points(en, pts.slice(0, n - 1, n));
    CHECK(relative(b.low_res_logits[n - 1], one.low_res_logits[0]) <= 5e-6);
  }
  // With a mask input (use_m2m) the export's graph decodes, on the same embeddings.
  const at::Tensor pts = points(3, static_cast<double>(s));
  const at::Tensor masks = at::randn({3, 1, s / 4, s / 4}) * 8;
  const DecoderOutput a = graph.predict_points(eg, pts, masks);
  const DecoderOutput b = native.predict_points(en, pts, masks);
  CHECK(at::equal(a.low_res_logits, b.low_res_logits));
  CHECK(at::equal(a.iou_preds, b.iou_preds));
}

TEST_CASE("Decoder auto takes the native decoder on the CPU, and says why not where it cannot", "[model][native]") {
  const Sam2Model automatic = Sam2Model::load(exact_export(), on_cpu(Decoder::kAuto));
  CHECK(automatic.decoder_path().native);

  // The synthetic test model has none of SAM 2's decoder weights.
  const Sam2Model synthetic = Sam2Model::load(synthetic_model_path(), on_cpu(Decoder::kAuto));
  CHECK_FALSE(synthetic.decoder_path().native);
  CHECK(synthetic.decoder_path().str() == "exact");
  CHECK(synthetic.decoder_path().not_native.find("lacks SAM 2's mask decoder weights") != std::string::npos);
  try {
    Sam2Model::load(synthetic_model_path(), on_cpu(Decoder::kNative));
    FAIL("loaded");
  } catch (const ModelError& e) {
    CHECK(e.exit_code() == 3);
    CHECK(std::string(e.what()).find("--decoder native cannot run") != std::string::npos);
  }
}

TEST_CASE("A decoder structure the native decoder gets wrong is caught at load", "[model][native]") {
  // The metadata claims 2 attention heads where the decoder has 4: the weights load, the
  // outputs differ, and the load-time comparison with the export's graph says so.
  TempDir tmp;
  const std::string wrong = tmp.file("two_heads.pt");
  copy_with_metadata(exact_export(), wrong, "\"num_heads\": 4", "\"num_heads\": 2");
  const Sam2Model automatic = Sam2Model::load(wrong, on_cpu(Decoder::kAuto));
  CHECK_FALSE(automatic.decoder_path().native);
  CHECK(automatic.decoder_path().not_native.find("disagrees with the export's decoder") != std::string::npos);
  try {
    Sam2Model::load(wrong, on_cpu(Decoder::kNative));
    FAIL("loaded");
  } catch (const ModelError& e) {
    CHECK(e.exit_code() == 3);
    CHECK(std::string(e.what()).find("disagrees") != std::string::npos);
  }
}
