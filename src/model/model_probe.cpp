#include "model/sam2_model.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <sstream>
#include <vector>

#include "common/error.h"
#include "model/torch_errors.h"

namespace sam2amg {

namespace {

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "no tensor";
  std::ostringstream os;
  os << "(";
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? ", " : "") << t.size(i);
  os << (t.dim() == 1 ? ",)" : ")");
  return os.str();
}

void check(const std::string& path, const char* what, const at::Tensor& t, const std::vector<int64_t>& shape,
           at::ScalarType dtype, bool check_dtype) {
  std::ostringstream want;
  want << "(";
  for (size_t i = 0; i < shape.size(); ++i) want << (i ? ", " : "") << shape[i];
  want << ")";
  if (!t.defined() || t.sizes().vec() != shape)
    throw ModelError(path + ": " + what + " has shape " + shape_of(t) + ", docs/model-contract.md requires " +
                     want.str() + "; re-export the model");
  if (check_dtype && t.scalar_type() != dtype)
    throw ModelError(path + ": " + what + " is " + std::string(c10::toString(t.scalar_type())) + " but the metadata says " +
                     std::string(c10::toString(dtype)) +
                     " (precision); the metadata must match the graphs' dtype (docs/model-contract.md)");
  if (!at::isfinite(t.to(at::kFloat)).all().item<bool>())
    throw ModelError(path + ": " + what + " is not finite on a zero input (check pixel_std and the weights)");
}

// Out of memory while probing is the device's state, not the model's fault: a retry may cure it.
[[noreturn]] void fail(const std::string& message, const std::string& what) {
  if (is_out_of_memory(what) || what.find("can't allocate memory") != std::string::npos)
    throw DeviceError("out of device memory while probing the model with one prompt (" + error_line(what) +
                      "); free the device, then rerun");
  throw ModelError(message + ": " + error_line(what));
}

}  // namespace

void probe_model(const Sam2Model& model, const std::string& path, bool mask_input) {
  c10::InferenceMode guard;
  const ModelMetadata& m = model.metadata();
  const int64_t s = m.image_size;
  const at::ScalarType dtype = m.precision == "bf16" ? at::kBFloat16 : m.precision == "fp16" ? at::kHalf : at::kFloat;
  ImageEmbedding e;
  try {
    e = model.encode(at::zeros({1, 3, s, s}, at::TensorOptions().dtype(dtype).device(model.device())));
    model.check_outputs_finite();
  } catch (const ModelError&) {
    throw;
  } catch (const ImageError& err) {  // non-finite outputs
    throw ModelError(path + ": encode_image on a zero image: " + err.what());
  } catch (const std::exception& err) {
    fail(path + ": encode_image fails on a zero image of the documented shape (1, 3, " + std::to_string(s) + ", " +
             std::to_string(s) + ") in " + m.precision,
         err.what());
  }
  check(path, "encode_image's image_embed", e.image_embed, {1, 256, s / 16, s / 16}, dtype, true);
  check(path, "encode_image's feat_s0", e.feat_s0, {1, 32, s / 4, s / 4}, dtype, true);
  check(path, "encode_image's feat_s1", e.feat_s1, {1, 64, s / 8, s / 8}, dtype, true);
  // One prompt, then a batch of two: batched graphs can break (or give NaN) only for B > 1.
  for (const int64_t b : {int64_t{1}, int64_t{2}}) {
    for (const bool with_mask : {false, true}) {
      if (with_mask && !mask_input) continue;
      const std::string name = with_mask ? "predict_masks_with_mask_input" : "predict_masks";
      const std::string call = name + " on " + (b == 1 ? std::string("one prompt") : "a batch of 2 prompts");
      DecoderOutput d;
      try {
        const at::Tensor points = at::full({b, 2}, static_cast<double>(s) / 2, at::kFloat);
        d = with_mask ? model.predict_points(e, points, at::zeros({b, 1, s / 4, s / 4}, at::kFloat))
                      : model.predict_points(e, points);
        model.check_outputs_finite();
      } catch (const ModelError&) {
        throw;
      } catch (const ImageError& err) {  // non-finite outputs, found by predict_points
        throw ModelError(path + ": " + call + ": " + err.what());
      } catch (const std::exception& err) {
        fail(path + ": " + name + " fails on " + (b == 1 ? "one prompt" : "a batch of 2 prompts"), err.what());
      }
      // predict_points returns float32 (the caller's conversion): shapes only.
      check(path, (name + "' low_res_logits").c_str(), d.low_res_logits, {b, 4, s / 4, s / 4}, dtype, false);
      check(path, (name + "' iou").c_str(), d.iou_preds, {b, 4}, dtype, false);
    }
  }
}

}  // namespace sam2amg
