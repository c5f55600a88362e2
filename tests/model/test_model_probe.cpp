// Load-time checks that need the graphs to run: one tiny probe call (docs/model-contract.md).
#include <torch/script.h>

#include "common/error.h"
#include "model/sam2_model.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

// A model of input size 64 that follows the contract; each argument replaces one part of it.
struct ProbeModel {
  std::string embed_shape = "[1, 256, s // 16, s // 16]";
  std::string embed_dtype = ", dtype=image.dtype";
  std::string logits_shape = "[b, 4, 16, 16]";
  std::string encode_body_prefix;
  std::string metadata_image_size = "64";
  std::string precision = "fp32";
  std::string pixel_std = "[0.229, 0.224, 0.225]";

  std::string save(const TempDir& dir, const std::string& name) const {
    torch::jit::Module m("probe");
    m.define("def encode_image(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:\n" + encode_body_prefix +
             "    s = image.size(2)\n"
             "    return torch.zeros(" + embed_shape + embed_dtype + "), torch.zeros([1, 32, s // 4, s // 4], "
             "dtype=image.dtype), torch.zeros([1, 64, s // 8, s // 8], dtype=image.dtype)\n"
             "def predict_masks(self, image_embed: Tensor, feat_s0: Tensor, feat_s1: Tensor, point_coords: Tensor, "
             "point_labels: Tensor) -> Tuple[Tensor, Tensor]:\n"
             "    b = point_coords.size(0)\n"
             "    return torch.zeros(" + logits_shape + ", dtype=feat_s0.dtype), torch.zeros([b, 4], dtype=feat_s0.dtype)\n"
             "def predict_masks_with_mask_input(self, image_embed: Tensor, feat_s0: Tensor, feat_s1: Tensor, "
             "point_coords: Tensor, point_labels: Tensor, mask_input: Tensor) -> Tuple[Tensor, Tensor]:\n"
             "    return self.predict_masks(image_embed, feat_s0, feat_s1, point_coords, point_labels)\n");
    const std::string meta = R"({"contract_version": 1, "architecture": "probe", "image_size": )" +
                             metadata_image_size + R"(, "pixel_mean": [0.485, 0.456, 0.406], "pixel_std": )" +
                             pixel_std + R"(, "precision": ")" + precision +
                             R"(", "dynamic_multimask_via_stability": {"enabled": false}})";
    const std::string path = dir.file(name);
    m.save(path, {{"sam2_amg.json", meta}});
    return path;
  }
};

std::string load_error(const std::string& path) {
  try {
    Sam2Model::load(path, {"cpu"});
  } catch (const ModelError& e) {
    CHECK(e.exit_code() == 3);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("A model that breaks the contract's shapes, dtypes or metadata fails at load with exit 3", "[model][probe]") {
  TempDir dir;
  CHECK(load_error(ProbeModel{}.save(dir, "good.pt")).empty());

  ProbeModel wrong_logits;
  wrong_logits.logits_shape = "[b, 3, 7, 7]";
  CHECK(load_error(wrong_logits.save(dir, "logits.pt")).find("predict_masks' low_res_logits has shape (1, 3, 7, 7), "
                                                             "docs/model-contract.md requires (1, 4, 16, 16)") !=
        std::string::npos);

  ProbeModel wrong_embed;
  wrong_embed.embed_shape = "[1, 256, 7, 7]";
  CHECK(load_error(wrong_embed.save(dir, "embed.pt")).find("image_embed has shape (1, 256, 7, 7)") != std::string::npos);

  // fp16 metadata on a graph that computes in float32.
  ProbeModel fp16;
  fp16.precision = "fp16";
  fp16.embed_dtype = "";
  CHECK(load_error(fp16.save(dir, "fp16.pt")).find("image_embed is Float but the metadata says Half") !=
        std::string::npos);

  ProbeModel throws;
  throws.encode_body_prefix = "    assert image.size(0) == 7, \"probe graph failure\"\n";
  const std::string thrown = load_error(throws.save(dir, "throws.pt"));
  CHECK(thrown.find("encode_image fails on a zero image of the documented shape (1, 3, 64, 64)") != std::string::npos);
  CHECK(thrown.find("probe graph failure") != std::string::npos);

  ProbeModel zero_std;
  zero_std.pixel_std = "[0, 0, 0]";
  CHECK(load_error(zero_std.save(dir, "std.pt")).find("pixel_std must be positive") != std::string::npos);

  ProbeModel huge;
  huge.metadata_image_size = "1048576";
  CHECK(load_error(huge.save(dir, "huge.pt")).find("image_size 1048576 is larger than 4096") != std::string::npos);
}
