// The load-time probe calls every method the run will call (with --use-m2m, the mask-input
// method), on one prompt and on a batch; NaN or inf in any model output is a named error: exit 3
// when the probe sees it, exit 4 for the image it appears on at run time.
#include <torch/script.h>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

// A contract-following model of input size 64 whose parts can be replaced.
struct MethodsModel {
  std::string encode_tail = "    return e, f0, f1\n";
  std::string predict_tail = "    return torch.zeros([b, 4, 16, 16], dtype=feat_s0.dtype), torch.zeros([b, 4], dtype=feat_s0.dtype)\n";
  std::string m2m_body = "    return self.predict_masks(image_embed, feat_s0, feat_s1, point_coords, point_labels)\n";

  std::string save(const TempDir& dir, const std::string& name) const {
    torch::jit::Module m("methods");
    m.define("def encode_image(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:\n"
             "    s = image.size(2)\n"
             "    e = torch.zeros([1, 256, s // 16, s // 16], dtype=image.dtype)\n"
             "    f0 = torch.zeros([1, 32, s // 4, s // 4], dtype=image.dtype)\n"
             "    f1 = torch.zeros([1, 64, s // 8, s // 8], dtype=image.dtype)\n" +
             encode_tail +
             "def predict_masks(self, image_embed: Tensor, feat_s0: Tensor, feat_s1: Tensor, point_coords: Tensor, "
             "point_labels: Tensor) -> Tuple[Tensor, Tensor]:\n"
             "    b = point_coords.size(0)\n" +
             predict_tail +
             "def predict_masks_with_mask_input(self, image_embed: Tensor, feat_s0: Tensor, feat_s1: Tensor, "
             "point_coords: Tensor, point_labels: Tensor, mask_input: Tensor) -> Tuple[Tensor, Tensor]:\n"
             "    b = point_coords.size(0)\n" +
             m2m_body);
    const std::string meta = R"({"contract_version": 1, "architecture": "methods", "image_size": 64,
      "pixel_mean": [0.485, 0.456, 0.406], "pixel_std": [0.229, 0.224, 0.225], "precision": "fp32",
      "dynamic_multimask_via_stability": {"enabled": false}})";
    const std::string path = dir.file(name);
    m.save(path, {{"sam2_amg.json", meta}});
    return path;
  }
};

// The CLI fixture on the CPU at 2 points per side, quiet; runs write dir/o.json.
struct MethodsRun : CliFixture {
  MethodsRun() {
    flags = "-q --progress none";
    device = "cpu";
    points_per_side = 2;
  }
  CliResult run_model(const std::string& model_path, const std::string& args) const {
    return capture(command_with_model(model_path, "--out " + file("o.json") + " --overwrite " + args));
  }
};

}  // namespace

TEST_CASE("With m2m the probe calls the mask-input method at load: a wrong shape is exit 3, not a crash",
          "[model][probe][integrity]") {
  MethodsRun f;
  f.add_image("a.png", make_image(40, 30, kBlack, {{4, 4, 20, 20, kRed}}));
  MethodsModel bad;
  bad.m2m_body = "    return torch.zeros([b, 4, 7, 7]), torch.zeros([b, 4])\n";
  const std::string model = bad.save(f.dir, "m2m.pt");
  CHECK(f.run_model(model, "--input " + f.images + "/a.png").rc == 0);  // without m2m the method is never called
  const CliResult r = f.run_model(model, "--use-m2m --input " + f.images + "/a.png");
  CHECK(r.rc == 3);
  CHECK(r.err.find("predict_masks_with_mask_input' low_res_logits has shape (1, 4, 7, 7)") != std::string::npos);
}

TEST_CASE("NaN from a batch of prompts is found by the probe (exit 3)", "[model][probe][integrity]") {
  MethodsRun f;
  f.add_image("a.png", make_image(40, 30, kBlack, {{4, 4, 20, 20, kRed}}));
  MethodsModel nan_batch;
  nan_batch.predict_tail =
      "    iou = torch.zeros([b, 4], dtype=feat_s0.dtype)\n"
      "    if b > 1:\n"
      "        iou = iou * float('nan')\n"
      "    return torch.zeros([b, 4, 16, 16], dtype=feat_s0.dtype), iou\n";
  const CliResult r = f.run_model(nan_batch.save(f.dir, "nan.pt"), "--input " + f.images + "/a.png");
  CHECK(r.rc == 3);
  CHECK(r.err.find("predict_masks on a batch of 2 prompts") != std::string::npos);
  CHECK(r.err.find("NaN or infinite values (predict_masks's iou)") != std::string::npos);
}

TEST_CASE("NaN for one image at run time skips that image by name (exit 4)", "[model][integrity]") {
  MethodsRun f;
  f.add_image("dark.png", make_image(40, 30, kBlack, {{4, 4, 20, 20, kRed}}));
  f.add_image("white.png", make_image(40, 30, kWhite, {}));
  MethodsModel nan_bright;  // the probe's zero image passes; a white one gives NaN embeddings
  nan_bright.encode_tail =
      "    if bool(image.mean() > 1.0):\n"
      "        e = e * float('nan')\n"
      "    return e, f0, f1\n";
  const CliResult r =
      f.run_model(nan_bright.save(f.dir, "bright.pt"), "--input " + f.images + "/dark.png " + f.images + "/white.png");
  CHECK(r.rc == 4);
  CHECK(r.err.find("white.png") != std::string::npos);
  CHECK(r.err.find("NaN or infinite values (encode_image's image_embed)") != std::string::npos);
  CHECK(slurp(f.file("o.json")).find("dark.png") != std::string::npos);  // the other image is done
}
