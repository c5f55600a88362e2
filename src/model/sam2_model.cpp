#include "model/sam2_model.h"

#include <torch/cuda.h>
#include <torch/script.h>

#include <ATen/Parallel.h>
#include <c10/core/DeviceGuard.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/printable.h"
#include "model/cuda_seam.h"
#include "model/fast_decoder.h"
#include "model/host_allocator.h"
#include "model/model_file.h"
#include "model/native_decoder.h"
#include "model/transforms.h"

namespace sam2amg {

namespace {

constexpr int kContractVersion = 1;
constexpr int kMaxImageSize = 4096;
constexpr const char* kMetadataFile = "sam2_amg.json";

struct MethodSpec {
  const char* name;
  size_t n_args;  // including self
  const char* signature;
};

constexpr MethodSpec kMethods[] = {
    {"encode_image", 2, "encode_image(image) -> (image_embed, feat_s0, feat_s1)"},
    {"predict_masks", 6,
     "predict_masks(image_embed, feat_s0, feat_s1, point_coords, point_labels) -> (low_res_logits, iou)"},
    {"predict_masks_with_mask_input", 7,
     "predict_masks_with_mask_input(image_embed, feat_s0, feat_s1, point_coords, point_labels, mask_input) "
     "-> (low_res_logits, iou)"},
};

at::Device choose_device(const Device& requested) {
  const auto index = static_cast<c10::DeviceIndex>(requested.index());
  switch (requested.kind()) {
    case DeviceKind::kAuto:
      return torch::cuda::is_available() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    case DeviceKind::kCpu:
      return at::Device(at::kCPU, index);
    case DeviceKind::kCuda:
      break;
  }
  // Which of CPU-only LibTorch, no driver, no GPU N (exit 3).
  const std::string why = cuda_unavailable_reason(cuda_runtime(), requested.str(), std::max(0, requested.index()),
                                                  std::getenv("CUDA_VISIBLE_DEVICES"));
  if (!why.empty()) throw ModelError(why);
  return at::Device(at::kCUDA, index);
}

at::ScalarType dtype_of(const std::string& precision, const std::string& path) {
  if (precision == "fp32") return at::kFloat;
  if (precision == "bf16") return at::kBFloat16;
  if (precision == "fp16") return at::kHalf;
  throw ModelError(path + ": metadata precision '" + precision + "' is not one of fp32, bf16, fp16");
}

ModelMetadata parse_metadata(const std::string& text, const std::string& path) {
  if (text.empty())
    throw ModelError(path + ": no " + std::string(kMetadataFile) +
                     " metadata inside the file; it is not an export that follows docs/model-contract.md "
                     "(for a test model run `sam2-amg make-synthetic-model FILE`)");
  ModelMetadata m;
  try {
    const auto j = nlohmann::json::parse(text);
    m.contract_version = j.at("contract_version").get<int>();
    m.architecture = j.at("architecture").get<std::string>();
    m.image_size = j.at("image_size").get<int>();
    m.pixel_mean = j.at("pixel_mean").get<std::array<float, 3>>();
    m.pixel_std = j.at("pixel_std").get<std::array<float, 3>>();
    m.precision = j.at("precision").get<std::string>();
    m.device = j.value("device", std::string("any"));
    // Reduced-precision exports take float32 coordinates (bf16 would lose the +0.5 shift).
    m.point_coords_fp32 = j.value("point_coords_dtype", std::string()) == "fp32";
    m.decoder = j.value("decoder", std::string("exact"));
    const auto& dyn = j.at("dynamic_multimask_via_stability");
    m.dynamic_multimask.enabled = dyn.at("enabled").get<bool>();
    m.dynamic_multimask.delta = dyn.value("delta", 0.05);
    m.dynamic_multimask.thresh = dyn.value("thresh", 0.98);
    // The mask decoder's structure beyond its weights (exports since the native decoder; older
    // ones are SAM 2's constants, which the load-time check confirms).
    if (j.contains("mask_decoder")) {
      const auto& dec = j.at("mask_decoder");
      m.mask_decoder_heads = dec.value("num_heads", m.mask_decoder_heads);
      m.iou_sigmoid = dec.value("iou_prediction_use_sigmoid", m.iou_sigmoid);
    }
  } catch (const nlohmann::json::exception& e) {
    throw ModelError(path + ": bad " + std::string(kMetadataFile) + " metadata: " + e.what() +
                     " (see docs/model-contract.md for the required keys)");
  }
  if (m.contract_version != kContractVersion)
    throw ModelError(path + ": model contract version " + std::to_string(m.contract_version) +
                     ", this sam2-amg reads version " + std::to_string(kContractVersion) +
                     "; re-export the model for this release (docs/model-contract.md)");
  if (m.image_size <= 0 || m.image_size % 16 != 0)
    throw ModelError(path + ": metadata image_size " + std::to_string(m.image_size) + " is not a positive multiple of 16");
  // Every SAM 2 model uses 1024; a huge S would make each encoder input alone gigabytes.
  if (m.image_size > kMaxImageSize)
    throw ModelError(path + ": metadata image_size " + std::to_string(m.image_size) + " is larger than " +
                     std::to_string(kMaxImageSize) + " (SAM 2 models use 1024)");
  if (m.decoder != "exact" && m.decoder != "fast")
    throw ModelError(path + ": metadata decoder '" + m.decoder + "' is not exact or fast (docs/model-contract.md)");
  for (int c = 0; c < 3; ++c)
    if (!(m.pixel_std[c] > 0.0f) || !std::isfinite(m.pixel_std[c]) || !std::isfinite(m.pixel_mean[c]))
      throw ModelError(path + ": metadata pixel_std must be positive and pixel_mean finite (channel " +
                       std::to_string(c) + ": mean " + std::to_string(m.pixel_mean[c]) + ", std " +
                       std::to_string(m.pixel_std[c]) + ")");
  return m;
}

// The method's tuple of tensors, converted to float32 when `to_float`.
std::vector<at::Tensor> tuple_outputs(const c10::IValue& v, size_t n, const char* method, bool to_float) {
  if (!v.isTuple()) throw ModelError(std::string(method) + " did not return a tuple (see docs/model-contract.md)");
  const auto& elems = v.toTupleRef().elements();
  if (elems.size() != n)
    throw ModelError(std::string(method) + " returned " + std::to_string(elems.size()) + " values, expected " +
                     std::to_string(n));
  std::vector<at::Tensor> out;
  for (const auto& e : elems) out.push_back(to_float ? e.toTensor().to(at::kFloat) : e.toTensor());
  return out;
}

// A NaN or infinite output would become masks with null scores, or silently drop every mask:
// the image fails by name instead (exit 4; at load the probe makes it exit 3).

}  // namespace

struct Sam2Model::Impl {
  torch::jit::Module module;
  ModelMetadata metadata;
  at::Device device{at::kCPU};
  at::ScalarType dtype = at::kFloat;
  std::string path;
  bool pad_batches = false;
  mutable int64_t largest_batch = 0;  // the decoder shape tail batches are padded to
  // Outputs that held NaN or inf, noted on the device per call and read once per image (a read
  // per call would make the host wait for every decoder batch on CUDA): flag i is names[i].
  mutable at::Tensor nonfinite;
  mutable std::vector<std::string> nonfinite_names;
  void note_finite(const at::Tensor& t, const std::string& method, const char* output) const {
    const std::string name = method + "'s " + output;
    size_t i = std::find(nonfinite_names.begin(), nonfinite_names.end(), name) - nonfinite_names.begin();
    if (i == nonfinite_names.size()) {
      nonfinite_names.push_back(name);
      const at::Tensor slot = at::zeros({1}, at::TensorOptions().dtype(at::kBool).device(device));
      nonfinite = nonfinite.defined() ? at::cat({nonfinite, slot}) : slot;
    }
    nonfinite.select(0, static_cast<int64_t>(i)).logical_or_(at::isfinite(t).all().logical_not());
  }
  std::unique_ptr<FastDecoder> fast;  // fast exports (metadata decoder: fast)
  std::unique_ptr<NativeDecoder> native;  // --decoder native, or auto on the CPU
  std::string not_native;                 // with auto: why the native decoder does not run
  mutable std::int64_t native_calls = 0;
  // The export's own graph B (predict_masks, or the fast form's), for B prompts.
  DecoderOutput export_decode(const ImageEmbedding& embedding, const at::Tensor& point_coords,
                              const at::Tensor& mask_input) const;
  // Sets up the native decoder for --decoder native or auto (see Decoder): it must agree with
  // the export's own graph on a few prompts, or native fails (exit 3) and auto does without it.
  void choose_native(Decoder choice, const std::string& shown);
};

Sam2Model::Sam2Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Sam2Model::Sam2Model(Sam2Model&&) noexcept = default;
Sam2Model& Sam2Model::operator=(Sam2Model&&) noexcept = default;
Sam2Model::~Sam2Model() = default;

Sam2Model Sam2Model::load(const std::string& path, const ModelOptions& options) {
  const std::string shown = printable(path);  // the file's name in messages, escaped
  if (!std::ifstream(path).good())
    throw ModelError("cannot open model file '" + shown + "': check the path (an export per docs/model-contract.md, "
                     "or `sam2-amg make-synthetic-model FILE` for a test model)");
  // Sizes before inflating: a small file whose metadata inflates to gigabytes is refused unread.
  if (const std::string why = model_archive_problem(path); !why.empty())
    throw ModelError("'" + shown + "' is not a model archive sam2-amg reads: " + why);
  install_host_allocator();  // before the weights: they are large blocks too
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->device = choose_device(options.device);
  torch::jit::ExtraFilesMap extra{{kMetadataFile, ""}};
  try {
    impl->module = torch::jit::load(path, impl->device, extra);
  } catch (const c10::Error& e) {
    throw ModelError(unloadable_model_message(path, e.what_without_backtrace()));
  } catch (const std::exception& e) {  // e.g. the compiler's ErrorReport for an unknown operator
    throw ModelError(unloadable_model_message(path, e.what()));
  }
  impl->metadata = parse_metadata(extra[kMetadataFile], shown);
  impl->dtype = dtype_of(impl->metadata.precision, shown);
  const std::string wanted = enum_name(options.precision);
  if (options.precision != Precision::kAuto && wanted != impl->metadata.precision)
    throw ModelError(shown + " was exported in " + impl->metadata.precision + ", not " + wanted + "; export it in " +
                     wanted + " or use --precision auto");
  set_cpu_threads(options.threads > 0 ? options.threads : usable_cpu_count());
  const std::string& traced = impl->metadata.device;
  if (traced == "cuda" && !impl->device.is_cuda())
    throw ModelError(shown + " was exported for CUDA and cannot run on " + impl->device.str() +
                     "; run with --device cuda or export a CPU variant");
  if (traced == "cpu" && !impl->device.is_cpu())
    throw ModelError(shown + " was exported for the CPU; run with --device cpu or export a CUDA variant "
                     "of it");
  for (const MethodSpec& spec : kMethods) {
    auto method = impl->module.find_method(spec.name);
    if (!method)
      throw ModelError(shown + " has no method '" + spec.name + "': expected " + spec.signature +
                       " (see docs/model-contract.md)");
    const size_t n_args = method->function().getSchema().arguments().size();
    if (n_args != spec.n_args)
      throw ModelError(shown + ": method '" + spec.name + "' takes " + std::to_string(n_args - 1) +
                       " arguments, expected " + spec.signature);
  }
  impl->module.eval();
  if (impl->metadata.decoder == "fast") {
    for (const char* name : {"prepare_decoder", "predict_masks_prepared"})
      if (!impl->module.find_method(name))
        throw ModelError(path + ": the metadata says decoder fast but the file has no method '" + name +
                         "' (see docs/model-contract.md); re-export it");
    impl->fast = std::make_unique<FastDecoder>(impl->module, impl->device, impl->metadata.image_size,
                                               options.cuda_graphs);
  }
  // fp32 is the exact mode. The optimising graph executor profiles the first calls, then fuses
  // element-wise chains (LayerNorm2d's w * x + b becomes one FMA on CUDA, where the reference
  // rounds twice), so results would change between calls and with the batch shape. Reduced
  // precision is not exact anyway and keeps the fusions. (A process-wide LibTorch setting; a
  // process loads one model.)
  torch::jit::setGraphExecutorOptimize(impl->dtype != at::kFloat);
  impl->pad_batches = options.pad_batches == ModelOptions::PadBatches::kAuto
                          ? impl->dtype != at::kFloat
                          : options.pad_batches == ModelOptions::PadBatches::kOn;
  at::globalContext().setAllowTF32CuBLAS(options.matmul_tf32);
  Sam2Model model(std::move(impl));
  probe_model(model, shown, options.probe_mask_input);  // one tiny call of each graph the run will use
  model.impl_->choose_native(options.decoder, shown);
  return model;
}

ImageEmbedding Sam2Model::encode_image(const ImageU8& image, const CropBoxXyxy& crop_box) const {
  return encode(preprocess(image, crop_box));
}

namespace {

void check_crop(const ImageU8& image, const CropBoxXyxy& crop_box) {
  const auto [x0, y0, x1, y1] = crop_box;
  TORCH_CHECK(x0 >= 0 && y0 >= 0 && x1 <= image.width && y1 <= image.height && x0 < x1 && y0 < y1,
              "encode_image: crop box outside the image");
}

// The image borrowed, not copied.
at::Tensor image_tensor(const ImageU8& image) {
  return at::from_blob(const_cast<std::uint8_t*>(image.rgb.data()), {image.height, image.width, 3},
                       at::TensorOptions().dtype(at::kByte));
}

at::Tensor crop_of(const at::Tensor& hwc, const CropBoxXyxy& crop_box) {
  const auto [x0, y0, x1, y1] = crop_box;
  return hwc.slice(0, y0, y1).slice(1, x0, x1);
}

}  // namespace

at::Tensor Sam2Model::preprocess(const ImageU8& image, const CropBoxXyxy& crop_box) const {
  if (preprocesses_on_device()) return preprocess_on_device(pin_image(image), crop_box);
  return to_input(preprocess_host(image, crop_box));
}

bool Sam2Model::preprocesses_on_device() const { return impl_->device.is_cuda() && impl_->dtype != at::kFloat; }

at::Tensor Sam2Model::preprocess_host(const ImageU8& image, const CropBoxXyxy& crop_box) const {
  c10::InferenceMode guard;
  check_crop(image, crop_box);
  const ModelMetadata& m = impl_->metadata;
  // Slicing gives the crop view and preprocessing copies it.
  const at::Tensor x = preprocess_image(crop_of(image_tensor(image), crop_box), m.image_size, m.pixel_mean, m.pixel_std);
  return impl_->device.is_cuda() ? x.pin_memory() : x;
}

at::Tensor Sam2Model::to_input(const at::Tensor& host_input) const {
  c10::InferenceMode guard;
  const bool async = impl_->device.is_cuda() && host_input.is_pinned();
  return host_input.to(at::TensorOptions().device(impl_->device), async).to(impl_->dtype);
}

at::Tensor Sam2Model::pin_image(const ImageU8& image) const {
  c10::InferenceMode guard;
  const at::Tensor full = image_tensor(image);
  return impl_->device.is_cuda() ? full.pin_memory() : full.clone();
}

at::Tensor Sam2Model::preprocess_on_device(const at::Tensor& pinned_hwc_u8, const CropBoxXyxy& crop_box) const {
  c10::InferenceMode guard;
  const c10::DeviceGuard on_device(impl_->device);
  TORCH_CHECK(pinned_hwc_u8.dim() == 3 && pinned_hwc_u8.size(2) == 3, "preprocess_on_device: expected (H, W, 3)");
  const auto [x0, y0, x1, y1] = crop_box;
  TORCH_CHECK(x0 >= 0 && y0 >= 0 && x1 <= pinned_hwc_u8.size(1) && y1 <= pinned_hwc_u8.size(0) && x0 < x1 && y0 < y1,
              "encode_image: crop box outside the image");
  const bool async = impl_->device.is_cuda() && pinned_hwc_u8.is_pinned();
  const at::Tensor up = crop_of(pinned_hwc_u8, crop_box).to(at::TensorOptions().device(impl_->device), async);
  const ModelMetadata& m = impl_->metadata;
  // The same steps as preprocess_image, with the resize on the device's kernel.
  return preprocess_image(up, m.image_size, m.pixel_mean, m.pixel_std).to(impl_->dtype);
}

ImageEmbedding Sam2Model::encode(const at::Tensor& input) const {
  c10::InferenceMode guard;
  const c10::DeviceGuard on_device(impl_->device);  // cuda:N: ops without a device go there too
  // The embeddings stay in the model's dtype: the decoder takes them as they are, every batch.
  const auto out =
      tuple_outputs(impl_->module.get_method("encode_image")({input}), 3, "encode_image", /*to_float=*/false);
  impl_->note_finite(out[0], "encode_image", "image_embed");
  impl_->note_finite(out[1], "encode_image", "feat_s0");
  impl_->note_finite(out[2], "encode_image", "feat_s1");
  ImageEmbedding e{out[0], out[1], out[2], {}};
  if (impl_->native)
    e.decoder_context = impl_->native->prepare(e);
  else if (impl_->fast)
    e.decoder_context = impl_->fast->prepare(e.image_embed);
  return e;
}

std::int64_t Sam2Model::peak_device_bytes() const {
  if (!impl_->device.is_cuda()) return -1;
  return cuda_seam::peak_allocated_bytes(impl_->device.has_index() ? impl_->device.index() : 0);
}

void Sam2Model::reset_peak_device_bytes() const {
  if (impl_->device.is_cuda())
    cuda_seam::reset_peak_allocated_bytes(impl_->device.has_index() ? impl_->device.index() : 0);
}

std::string runtime_description() {
  std::string blas;
  std::ifstream maps("/proc/self/maps");
  std::set<std::string> seen;
  for (std::string line; std::getline(maps, line);) {
    const std::string name = line.substr(line.find_last_of('/') + 1);
    if (name.find("blas") == std::string::npos && name.find("mkl") == std::string::npos &&
        name.find("blis") == std::string::npos)
      continue;
    if (seen.insert(name).second) blas += (blas.empty() ? "" : ", ") + name;
  }
  std::ostringstream os;
  os << "LibTorch " << TORCH_VERSION << ", " << cuda_summary(cuda_runtime()) << ", " << at::get_num_threads()
     << " CPU threads (" << usable_cpu_count() << " usable, pools " << thread_pool_wait()
     << "), CPU bf16 matrix instructions "
     << cpu_matrix_features().str() << ", BLAS "
     << (blas.empty() ? std::string("none mapped yet") : blas);
  return os.str();
}

void Sam2Model::synchronize() const {
  if (impl_->device.is_cuda()) torch::cuda::synchronize(impl_->device.index());
}

DecoderOutput Sam2Model::predict_points(const ImageEmbedding& embedding, const at::Tensor& point_coords,
                                        const at::Tensor& mask_input) const {
  c10::InferenceMode guard;
  const c10::DeviceGuard on_device(impl_->device);
  TORCH_CHECK(point_coords.dim() == 2 && point_coords.size(1) == 2, "predict_points: point_coords must be (B, 2), got ",
              point_coords.sizes());
  const int64_t n = point_coords.size(0);
  if (impl_->native && !mask_input.defined() && !embedding.decoder_context.empty() && n > 0) {
    ++impl_->native_calls;
    DecoderOutput d = impl_->native->run(embedding.decoder_context, point_coords);
    impl_->note_finite(d.low_res_logits, "the native decoder", "low_res_logits");
    impl_->note_finite(d.iou_preds, "the native decoder", "iou");
    return d;
  }
  return impl_->export_decode(embedding, point_coords, mask_input);
}

DecoderOutput Sam2Model::Impl::export_decode(const ImageEmbedding& embedding, const at::Tensor& point_coords,
                                             const at::Tensor& mask_input) const {
  const int64_t n = point_coords.size(0);
  if (fast && !mask_input.defined() && !embedding.decoder_context.empty() && n > 0) {
    const auto fopts = at::TensorOptions().dtype(at::kFloat).device(device);
    const at::Tensor pts = point_coords.to(fopts);
    const at::Tensor coords = at::cat({pts.unsqueeze(1), at::zeros({n, 1, 2}, fopts)}, 1);
    // Built on the device (a host-built tensor would be a blocking copy per call on CUDA).
    at::Tensor labels = at::ones({n, 2}, at::TensorOptions().dtype(at::kInt).device(device));
    labels.select(1, 1).fill_(-1);
    DecoderOutput d = fast->run(embedding, coords, labels);
    note_finite(d.low_res_logits, "predict_masks_prepared", "low_res_logits");
    note_finite(d.iou_preds, "predict_masks_prepared", "iou");
    return d;
  }
  // A batch smaller than one already run repeats its last prompt up to that size; the extra
  // rows are dropped below (every prompt is decoded independently of the others).
  int64_t b = n;
  if (pad_batches && n > 0) {
    largest_batch = std::max(largest_batch, n);
    b = largest_batch;
  }
  const auto fopts = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor pts = point_coords.to(fopts);
  at::Tensor masks_in = mask_input;
  if (b > n) {
    pts = at::cat({pts, pts.slice(0, n - 1, n).expand({b - n, 2})}, 0);
    if (masks_in.defined()) {
      masks_in = masks_in.to(device);
      masks_in = at::cat({masks_in, masks_in.slice(0, n - 1, n).expand({b - n, -1, -1, -1})}, 0);
    }
  }
  // The padding point (0, 0) with label -1, appended here as the prompt encoder does without boxes.
  const at::Tensor coords = at::cat({pts.unsqueeze(1), at::zeros({b, 1, 2}, fopts)}, 1);
  // Built on the device (a host-built tensor would be a blocking copy per batch on CUDA).
  at::Tensor labels = at::ones({b, 2}, at::TensorOptions().dtype(at::kInt).device(device));
  labels.select(1, 1).fill_(-1);
  const at::ScalarType dt = dtype;
  const at::ScalarType coords_dtype = metadata.point_coords_fp32 ? at::kFloat : dt;
  std::vector<c10::IValue> args{embedding.image_embed.to(dt), embedding.feat_s0.to(dt), embedding.feat_s1.to(dt),
                                coords.to(coords_dtype), labels};
  const char* method = "predict_masks";
  if (masks_in.defined()) {
    args.emplace_back(masks_in.to(device).to(dt));
    method = "predict_masks_with_mask_input";
  }
  const auto out = tuple_outputs(module.get_method(method)(args), 2, method, /*to_float=*/true);
  note_finite(out[0], method, "low_res_logits");
  note_finite(out[1], method, "iou");
  if (b > n) return {out[0].slice(0, 0, n), out[1].slice(0, 0, n)};
  return {out[0], out[1]};
}

NonfiniteOutputs Sam2Model::take_nonfinite_outputs() const {
  NonfiniteOutputs out{impl_->nonfinite, impl_->nonfinite_names};
  impl_->nonfinite = at::Tensor();
  impl_->nonfinite_names.clear();
  return out;
}

void throw_if_nonfinite(const NonfiniteOutputs& noted, const at::Tensor& host_flags) {
  if (!host_flags.defined()) return;
  const at::Tensor flags = host_flags.to(at::kBool).contiguous();
  for (int64_t i = 0; i < flags.numel(); ++i)
    if (flags.data_ptr<bool>()[i])
      throw ImageError("the model returned NaN or infinite values (" + noted.names.at(static_cast<size_t>(i)) + ")");
}

void Sam2Model::check_outputs_finite() const {
  const NonfiniteOutputs noted = take_nonfinite_outputs();
  if (noted.flags.defined()) throw_if_nonfinite(noted, noted.flags.cpu());
}

std::int64_t Sam2Model::preferred_prompt_batch() const { return impl_->fast ? impl_->fast->max_batch() : 0; }

DecoderPath Sam2Model::decoder_path() const {
  DecoderPath p = impl_->fast ? impl_->fast->path() : DecoderPath{};
  p.not_native = impl_->not_native;
  if (impl_->native) {
    p.native = true;
    p.native_precision = "float32";
    p.calls = impl_->native_calls;
  }
  return p;
}

void Sam2Model::Impl::choose_native(Decoder choice, const std::string& shown) {
  if (choice == Decoder::kExport) return;
  const bool required = choice == Decoder::kNative;
  const auto without = [&](const std::string& why) {
    if (required) throw ModelError(shown + ": --decoder native cannot run: " + why + "; use --decoder export");
    not_native = why;
  };
  if (!device.is_cpu()) {  // auto on CUDA is the export's graphs, nothing to explain
    if (required) without("it runs on the CPU only (on CUDA a fast export is the fast decoder)");
    return;
  }
  std::string why;
  const NativeDecoderShape shape{metadata.mask_decoder_heads, metadata.iou_sigmoid};
  std::unique_ptr<NativeDecoder> d = NativeDecoder::from_module(module, shape, metadata.image_size, &why);
  if (!d) return without("the file lacks SAM 2's mask decoder weights (" + why + ")");
  // The check: both decoders on a seeded random embedding of the model's shapes, a few prompts.
  c10::InferenceMode guard;
  const int64_t s = metadata.image_size;
  at::Generator gen = at::detail::createCPUGenerator(2024);
  const auto randn = [&](std::vector<int64_t> sizes) { return at::randn(sizes, gen, at::kFloat).to(dtype); };
  const auto [c, c0, c1] = d->embedding_channels();
  ImageEmbedding e{randn({1, c, s / 16, s / 16}), randn({1, c0, s / 4, s / 4}), randn({1, c1, s / 8, s / 8}), {}};
  const at::Tensor points = at::rand({3, 2}, gen, at::kFloat) * static_cast<double>(s);
  if (fast) e.decoder_context = fast->prepare(e.image_embed);
  DecoderAgreement agreement;
  try {
    const DecoderOutput theirs = export_decode(e, points, {});
    const DecoderOutput ours = d->run(d->prepare(e), points);
    agreement = compare_decoder_outputs(theirs, ours);
  } catch (const c10::Error& err) {
    return without(std::string("it failed on the export's shapes: ") + err.what_without_backtrace());
  }
  nonfinite = at::Tensor();  // the check's outputs are not an image's
  nonfinite_names.clear();
  // Reduced-precision graphs differ from float32 by their rounding: only a structural mismatch fails.
  const double tolerance = dtype == at::kFloat ? 1e-4 : 5e-2;
  if (!(agreement.logits <= tolerance && agreement.iou <= tolerance)) {
    char msg[200];
    std::snprintf(msg, sizeof msg, "it disagrees with the export's decoder (logits by %.2g of their range, scores by %.2g)",
                  agreement.logits, agreement.iou);
    return without(msg);
  }
  native = std::move(d);
}

std::string DecoderPath::str() const {
  std::string s;
  if (native)
    s = "native (" + native_precision + ")";
  else if (!fast)
    s = "exact";
  else if (cuda_graph)
    s = "fast, CUDA graph";
  else
    s = "fast, eager" + (note.empty() ? std::string() : " (" + note + ")");
  return s;
}

const ModelMetadata& Sam2Model::metadata() const { return impl_->metadata; }
at::Device Sam2Model::device() const { return impl_->device; }

std::string Sam2Model::describe() const {
  std::ostringstream os;
  const ModelMetadata& m = impl_->metadata;
  os << m.architecture << " (" << m.precision << ", input " << m.image_size << "x" << m.image_size
     << ", dynamic multimask " << (m.dynamic_multimask.enabled ? "on" : "off")
     << (impl_->native ? ", native decoder" : impl_->fast ? ", fast decoder" : "") << ") on " << impl_->device.str();
  return os.str();
}

}  // namespace sam2amg
