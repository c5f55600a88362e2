// The model boundary: contract checks on load, and the synthetic model's outputs.
#include <caffe2/serialize/inline_container.h>
#include <torch/script.h>
#include <torch/version.h>

#include <fstream>

#include "common/error.h"
#include "model/model_file.h"
#include "model/sam2_model.h"
#include "model/torch_errors.h"
#include "model/transforms.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::string load_error(const std::string& path, const std::string& device = "cpu") {
  try {
    Sam2Model::load(path, {device});
  } catch (const ModelError& e) {
    CHECK(e.exit_code() == 3);
    return e.what();
  }
  return "";
}

// Copies a saved module's archive into `to`, with `from_op` replaced by `to_op` in its code and
// the metadata replaced by `meta`: a file as another torch would write it.
void rewrite_archive(const std::string& from, const std::string& to, const std::string& from_op,
                     const std::string& to_op, const std::string& meta) {
  caffe2::serialize::PyTorchStreamReader reader(from);
  caffe2::serialize::PyTorchStreamWriter writer(to);
  for (const std::string& name : reader.getAllRecords()) {
    if (name == "version" || name == ".data/version" || name == "extra/sam2_amg.json") continue;
    auto [data, size] = reader.getRecord(name);
    std::string bytes(static_cast<const char*>(data.get()), size);
    if (name.rfind("code/", 0) == 0 && name.size() > 3 && name.substr(name.size() - 3) == ".py")
      for (auto at = bytes.find(from_op); at != std::string::npos; at = bytes.find(from_op, at + to_op.size()))
        bytes.replace(at, from_op.size(), to_op);
    writer.writeRecord(name, bytes.data(), bytes.size());
  }
  writer.writeRecord("extra/sam2_amg.json", meta.data(), meta.size());
  writer.writeEndOfFile();
}

}  // namespace

TEST_CASE("A file that is not an export says what it is and what to do", "[model]") {
  TempDir dir;
  // An official checkpoint is a torch.save zip: a pickle and tensors, no TorchScript code.
  for (const auto& [name, config] : std::vector<std::pair<std::string, std::string>>{
           {"sam2.1_hiera_large.pt", "l"}, {"sam2_hiera_tiny.pt", "2.0-t"}}) {
    {
      caffe2::serialize::PyTorchStreamWriter writer(dir.file(name));
      const std::string pickle = "\x80\x02}q\x00.";
      const std::string tensor(64, '\0');
      writer.writeRecord("data.pkl", pickle.data(), pickle.size());
      writer.writeRecord("data/0", tensor.data(), tensor.size());
      writer.writeEndOfFile();
    }
    CHECK(inspect_model_file(dir.file(name)).kind == ModelFileKind::kCheckpoint);
    const std::string msg = load_error(dir.file(name));
    CHECK(msg.find("is a PyTorch checkpoint (torch.save), not a sam2-amg export") != std::string::npos);
    CHECK(msg.find("python3 scripts/export_sam2.py --checkpoint " + dir.file(name) + " --config " + config + " ") !=
          std::string::npos);
  }
  // The pre-1.6 pickle format of torch.save.
  std::ofstream(dir.file("old.pth"), std::ios::binary) << "\x80\x02" << "the rest of a protocol 2 pickle";
  CHECK(load_error(dir.file("old.pth")).find("is a PyTorch checkpoint") != std::string::npos);
  std::ofstream(dir.file("notes.txt")) << "not a model";
  CHECK(load_error(dir.file("notes.txt")).find("is not a PyTorch file") != std::string::npos);

  CHECK(export_config_for("ckpts/sam2.1_hiera_base_plus.pt") == "b+");
  CHECK(export_config_for("sam2.1_hiera_small.pt") == "s");
  CHECK(export_config_for("sam2_hiera_large.pt") == "2.0-l");
  CHECK(export_config_for("SAM2.1_Hiera_Tiny.PT") == "t");
  CHECK(export_config_for("model.pt").empty());
}

TEST_CASE("A file with an operator this LibTorch lacks names the exporter and the fix", "[model]") {
  TempDir dir;
  torch::jit::Module m("m");
  m.define("def forward(self, x: Tensor) -> Tensor:\n    return torch.relu(x)\n");
  m.save(dir.file("plain.pt"));
  const std::string meta = R"({"contract_version": 1, "torch_version": "9.1.0+cu999", "attention": "sdpa"})";

  rewrite_archive(dir.file("plain.pt"), dir.file("future.pt"), "torch.relu(", "torch.sam2amg_future_op(", meta);
  CHECK(inspect_model_file(dir.file("future.pt")).exporter_torch == "9.1.0+cu999");
  CHECK(inspect_model_file(dir.file("future.pt")).attention == "sdpa");
  std::string msg = load_error(dir.file("future.pt"));
  CHECK(msg.find("exported by torch 9.1.0+cu999") != std::string::npos);
  CHECK(msg.find("with this sam2-amg's LibTorch " + std::to_string(TORCH_VERSION_MAJOR) + ".") != std::string::npos);
  CHECK(msg.find("operator this LibTorch does not have") != std::string::npos);
  CHECK(msg.find("sam2amg_future_op") != std::string::npos);

  // Attention is the operator LibTorch 1.13 lacks in torch 2.x exports: the fix is named.
  rewrite_archive(dir.file("plain.pt"), dir.file("sdpa.pt"), "torch.relu(",
                  "torch.scaled_dot_product_attention_from_the_future(", meta);
  msg = load_error(dir.file("sdpa.pt"));
  CHECK(msg.find("--attention math") != std::string::npos);
}

TEST_CASE("Sam2Model::load explains what is wrong with a file", "[model]") {
  TempDir dir;
  CHECK(load_error(dir.file("missing.pt")).find("cannot open model file") != std::string::npos);

  std::ofstream(dir.file("junk.pt")) << "not a zip archive";
  CHECK(load_error(dir.file("junk.pt")).find("is not a PyTorch file") != std::string::npos);

  // A TorchScript file without our metadata.
  torch::jit::Module bare("bare");
  bare.define("def forward(self, x: Tensor) -> Tensor:\n    return x\n");
  bare.save(dir.file("bare.pt"));
  CHECK(load_error(dir.file("bare.pt")).find("no sam2_amg.json metadata") != std::string::npos);

  // Metadata present but a method missing: the message names it and its signature.
  const std::string meta =
      R"({"contract_version": 1, "architecture": "x", "image_size": 1024, "pixel_mean": [0,0,0],
          "pixel_std": [1,1,1], "precision": "fp32", "dynamic_multimask_via_stability": {"enabled": false}})";
  torch::jit::Module partial("partial");
  partial.define(
      "def encode_image(self, image: Tensor) -> Tuple[Tensor, Tensor, Tensor]:\n    return image, image, image\n");
  partial.save(dir.file("partial.pt"), {{"sam2_amg.json", meta}});
  const std::string msg = load_error(dir.file("partial.pt"));
  CHECK(msg.find("no method 'predict_masks'") != std::string::npos);
  CHECK(msg.find("point_labels") != std::string::npos);

  // Wrong contract version, and a CUDA-only export on the CPU.
  torch::jit::Module old("old");
  old.define("def forward(self, x: Tensor) -> Tensor:\n    return x\n");
  std::string v0 = meta;
  v0.replace(v0.find("\"contract_version\": 1"), 21, "\"contract_version\": 0");
  old.save(dir.file("old.pt"), {{"sam2_amg.json", v0}});
  CHECK(load_error(dir.file("old.pt")).find("contract version 0") != std::string::npos);
  std::string cuda = meta;
  cuda.insert(1, "\"device\": \"cuda\", ");
  partial.save(dir.file("cuda.pt"), {{"sam2_amg.json", cuda}});
  CHECK(load_error(dir.file("cuda.pt")).find("exported for CUDA") != std::string::npos);

  CHECK(load_error(synthetic_model_path(), "tpu").find("device") != std::string::npos);
}

TEST_CASE("The synthetic model follows the contract's shapes", "[model]") {
  const Sam2Model model = Sam2Model::load(synthetic_model_path(), {test_device()});
  CHECK(model.metadata().architecture == "synthetic");
  CHECK(model.metadata().dynamic_multimask.enabled);
  const ImageU8 img = four_object_scene();
  const ImageEmbedding emb = model.encode_image(img, {0, 0, 256, 256});
  CHECK(emb.image_embed.sizes() == at::IntArrayRef({1, 256, 64, 64}));
  CHECK(emb.feat_s0.sizes() == at::IntArrayRef({1, 32, 256, 256}));
  CHECK(emb.feat_s1.sizes() == at::IntArrayRef({1, 64, 128, 128}));

  // Red object at (50, 50) in a 256-pixel image: model-space (200, 200).
  for (int64_t b : {1, 3}) {
    const at::Tensor pts = at::full({b, 2}, 200.f, at::TensorOptions().device(model.device()));
    const DecoderOutput out = model.predict_points(emb, pts);
    REQUIRE(out.low_res_logits.sizes() == at::IntArrayRef({b, 4, 256, 256}));
    REQUIRE(out.iou_preds.sizes() == at::IntArrayRef({b, 4}));
    const at::Tensor region = out.low_res_logits[0][1] > 0;
    CHECK(region.sum().item<int64_t>() == 80 * 70);  // the red rectangle, pixel-exact
    CHECK(region[20][20].item<bool>());
    CHECK_FALSE(region[19][20].item<bool>());
    CHECK(out.iou_preds[0][2].item<float>() == 0.5f);
  }
  // With a mask input token 0 is region AND mask.
  at::Tensor mask_input = at::full({1, 1, 256, 256}, -20.f);
  mask_input.slice(2, 0, 50).fill_(20.f);
  const DecoderOutput m2m = model.predict_points(emb, at::full({1, 2}, 200.f).to(model.device()), mask_input);
  CHECK((m2m.low_res_logits[0][0] > 0).sum().item<int64_t>() == 80 * 30);
  CHECK(m2m.iou_preds[0][0].item<float>() == 0.93f);
}

TEST_CASE("Preprocessing matches torchvision's ToTensor/Resize(antialias)/Normalize", "[model]") {
  // A constant image stays constant through the resize: (v/255 - mean)/std exactly.
  const at::Tensor crop = at::full({30, 50, 3}, 128, at::kByte);
  const at::Tensor x = preprocess_image(crop, 1024, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f});
  REQUIRE(x.sizes() == at::IntArrayRef({1, 3, 1024, 1024}));
  const float expect = (128.f / 255.f - 0.485f) / 0.229f;
  CHECK(std::abs(x[0][0][500][700].item<float>() - expect) < 1e-6f);
  // Downscaling by 3 uses the antialias filter: a 1-pixel checkerboard averages to 40/81 or
  // 41/81 (plain bilinear samples one input pixel at this scale and gives 0 or 1).
  at::Tensor checker = (at::arange(3072).view({1, 3072}) + at::arange(3072).view({3072, 1})).remainder(2);
  checker = (checker * 255).to(at::kByte).unsqueeze(-1).expand({3072, 3072, 3}).contiguous();
  const at::Tensor y = preprocess_image(checker, 1024, {0.f, 0.f, 0.f}, {1.f, 1.f, 1.f});
  const float v = y[0][0][512][512].item<float>();
  CHECK((std::abs(v - 40.f / 81.f) < 1e-5f || std::abs(v - 41.f / 81.f) < 1e-5f));
  // Model-space coordinates: x / w * S, y / h * S.
  const at::Tensor c = transform_coords(at::tensor({25.f, 15.f}).view({1, 2}), 30, 50, 1024);
  CHECK(c[0][0].item<float>() == 512.f);
  CHECK(c[0][1].item<float>() == 512.f);
}

TEST_CASE("fp32 models run in the exact mode: same outputs for every batch shape and call", "[model]") {
  const Sam2Model model = Sam2Model::load(synthetic_model_path(), {test_device()});
  // The optimising executor (profiling, fusion) is off for fp32 files.
  CHECK_FALSE(torch::jit::getGraphExecutorOptimize());
  const ImageU8 img = four_object_scene();
  const ImageEmbedding emb = model.encode_image(img, {0, 0, img.width, img.height});
  const at::Tensor points = at::rand({7, 2}, at::kFloat).mul(1024.0).to(model.device());
  const DecoderOutput all = model.predict_points(emb, points);
  for (int call = 0; call < 3; ++call) {
    for (int64_t b : {1, 3, 7}) {
      INFO("call " << call << ", batch " << b);
      const DecoderOutput part = model.predict_points(emb, points.slice(0, 0, b));
      CHECK(at::equal(part.low_res_logits, all.low_res_logits.slice(0, 0, b)));
      CHECK(at::equal(part.iou_preds, all.iou_preds.slice(0, 0, b)));
    }
  }
}

TEST_CASE("Padded decoder batches give the unpadded outputs", "[model]") {
  // Reduced-precision files pad a crop's smaller last batch to the shape already run, so the
  // optimising executor does not profile a new shape; the extra rows must never leak.
  ModelOptions padded;
  padded.device = test_device();
  padded.pad_batches = ModelOptions::PadBatches::kOn;
  const Sam2Model pad = Sam2Model::load(synthetic_model_path(), padded);
  const Sam2Model plain = Sam2Model::load(synthetic_model_path(), {test_device()});
  const ImageU8 img = four_object_scene();
  const ImageEmbedding emb = plain.encode_image(img, {0, 0, img.width, img.height});
  const at::Tensor points = at::rand({9, 2}, at::kFloat).mul(1024.0).to(plain.device());
  const at::Tensor masks = (at::rand({9, 1, 256, 256}, at::kFloat) - 0.5).to(plain.device());
  pad.predict_points(emb, points);  // the largest batch: 9
  for (int64_t n : {1, 4, 9}) {
    INFO("batch " << n);
    const DecoderOutput a = pad.predict_points(emb, points.slice(0, 0, n));
    const DecoderOutput b = plain.predict_points(emb, points.slice(0, 0, n));
    REQUIRE(a.low_res_logits.size(0) == n);
    CHECK(at::equal(a.low_res_logits, b.low_res_logits));
    CHECK(at::equal(a.iou_preds, b.iou_preds));
    const DecoderOutput c = pad.predict_points(emb, points.slice(0, 0, n), masks.slice(0, 0, n));
    const DecoderOutput d = plain.predict_points(emb, points.slice(0, 0, n), masks.slice(0, 0, n));
    REQUIRE(c.iou_preds.size(0) == n);
    CHECK(at::equal(c.low_res_logits, d.low_res_logits));
  }
}

TEST_CASE("Matmul TF32 is an explicit option, off by default as in PyTorch", "[model]") {
  ModelOptions on;
  on.device = test_device();
  on.matmul_tf32 = true;
  Sam2Model::load(synthetic_model_path(), on);
  CHECK(at::globalContext().allowTF32CuBLAS());
  Sam2Model::load(synthetic_model_path(), {test_device()});
  CHECK_FALSE(at::globalContext().allowTF32CuBLAS());
}

TEST_CASE("A LibTorch error is reduced to the line that says what went wrong", "[model]") {
  // The interpreter puts the TorchScript traceback first and the cause last.
  CHECK(error_line("The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript:\n"
                   "  File \"code/x.py\", line 3\nRuntimeError: CUDA out of memory. Tried to allocate 2 GiB\n\n") ==
        "RuntimeError: CUDA out of memory. Tried to allocate 2 GiB");
  // The compiler starts with a blank line; C++ errors put a backtrace after the cause.
  CHECK(error_line("\nUnknown builtin op: aten::x.\nHere are some suggestions:") == "Unknown builtin op: aten::x.");
  CHECK(error_line("shape mismatch\nException raised from foo at bar.cpp:1") == "shape mismatch");
  CHECK(error_line(" \n ").empty());
  CHECK(is_out_of_memory("CUDA out of memory. Tried to allocate"));
  CHECK(is_out_of_memory("MPS backend: not enough memory"));
  CHECK_FALSE(is_out_of_memory("DefaultCPUAllocator: can't allocate memory"));  // the image's failure in a run
  CHECK_FALSE(is_out_of_memory("shape mismatch"));
}
