#include "model/fast_decoder.h"

#include <algorithm>

#include "model/cuda_seam.h"

namespace sam2amg {

namespace {

// Prompts per call at most, whatever the memory (a 32 x 32 grid with a crop layer fits).
constexpr std::int64_t kMaxFastBatch = 4096;
// The CPU shares its memory with everything else: a fixed bound, as the exact path has.
constexpr std::int64_t kMaxFastBatchCpu = 64;
// Peak activation bytes per prompt of the fast form at S = 1024 in bf16/fp16 (the 32 x 256 x 256
// upscaled features, their float32 GELU and the mask logits dominate), with margin; twice that
// in float32. Scales with (S / 1024)^2.
constexpr double kBytesPerPrompt1024 = 48.0 * (1 << 20);
// Share of the free device memory the decoder's activations may take.
constexpr double kMemoryShare = 0.5;

std::int64_t batch_limit(at::Device device, std::int64_t image_size, at::ScalarType dtype) {
  if (!device.is_cuda()) return kMaxFastBatchCpu;
  const double usable = cuda_seam::usable_device_bytes(device);
  if (usable <= 0.0) return 256;  // the exact path's CUDA bound
  const double scale = static_cast<double>(image_size) * image_size / (1024.0 * 1024.0);
  const double per_prompt = kBytesPerPrompt1024 * scale * (dtype == at::kFloat ? 2.0 : 1.0);
  return static_cast<std::int64_t>(std::min<double>(kMaxFastBatch, usable * kMemoryShare / per_prompt));
}

c10::IValue context_tuple(const std::vector<at::Tensor>& context) {
  return c10::ivalue::Tuple::create(std::vector<c10::IValue>(context.begin(), context.end()));
}

}  // namespace

std::int64_t fast_decoder_cap(std::int64_t limit) {
  std::int64_t cap = kFastDecoderMinBatch;
  while (cap * 2 <= limit) cap *= 2;
  return cap;
}

std::int64_t fast_decoder_bucket(std::int64_t n, std::int64_t cap) {
  std::int64_t b = kFastDecoderMinBatch;
  while (b < n && b < cap) b *= 2;
  return std::min(b, cap);
}

FastDecoder::FastDecoder(torch::jit::Module module, at::Device device, std::int64_t image_size, bool cuda_graphs)
    : module_(std::move(module)), device_(device) {
  // The dtype of the graphs' float inputs decides the bytes per prompt.
  at::ScalarType dtype = at::kFloat;
  for (const auto& p : module_.parameters()) {
    dtype = p.scalar_type();
    break;
  }
  cap_ = fast_decoder_cap(batch_limit(device, image_size, dtype));
  path_.fast = true;
  path_.max_batch = cap_;
  if (!device.is_cuda())
    path_.note = "CUDA graphs need a CUDA device";
  else if (!cuda_seam::has_cuda_graphs())
    path_.note = "this LibTorch build has no CUDA graphs";
  else if (!cuda_graphs)
    path_.note = "CUDA graphs turned off";
  else
    graphs_ = cuda_seam::decoder_graphs(device);
}

FastDecoder::~FastDecoder() = default;

std::vector<at::Tensor> FastDecoder::prepare(const at::Tensor& image_embed) const {
  const c10::IValue out = module_.get_method("prepare_decoder")({image_embed});
  std::vector<at::Tensor> context;
  for (const auto& e : out.toTupleRef().elements()) context.push_back(e.toTensor());
  return context;
}

DecoderPath FastDecoder::path() const { return path_; }

DecoderOutput FastDecoder::run(const ImageEmbedding& embedding, const at::Tensor& coords,
                               const at::Tensor& labels) const {
  const std::int64_t n = coords.size(0);
  std::vector<at::Tensor> logits, iou;
  for (std::int64_t b0 = 0; b0 < n; b0 += cap_) {
    const std::int64_t m = std::min(cap_, n - b0);
    const std::int64_t b = fast_decoder_bucket(m, cap_);
    at::Tensor c = coords.slice(0, b0, b0 + m), l = labels.slice(0, b0, b0 + m);
    if (b > m) {
      // Padding rows repeat the last prompt; prompts are decoded independently, rows dropped below.
      c = at::cat({c, c.slice(0, m - 1, m).expand({b - m, -1, -1})}, 0);
      l = at::cat({l, l.slice(0, m - 1, m).expand({b - m, -1})}, 0);
    }
    const DecoderOutput out = call(embedding, c.contiguous(), l.contiguous());
    logits.push_back(out.low_res_logits.slice(0, 0, m));
    iou.push_back(out.iou_preds.slice(0, 0, m));
  }
  if (logits.size() == 1) return {logits[0], iou[0]};
  return {at::cat(logits, 0), at::cat(iou, 0)};
}

DecoderOutput FastDecoder::call(const ImageEmbedding& embedding, const at::Tensor& coords,
                                const at::Tensor& labels) const {
  auto eager = [this](const std::vector<at::Tensor>& context, const at::Tensor& s0, const at::Tensor& s1,
                      const at::Tensor& c, const at::Tensor& l) {
    const c10::IValue out = module_.get_method("predict_masks_prepared")({context_tuple(context), s0, s1, c, l});
    const auto& elems = out.toTupleRef().elements();
    return std::make_pair(elems.at(0).toTensor(), elems.at(1).toTensor());
  };
  ++path_.calls;
  if (graphs_) {
    std::string why;
    if (auto out = graphs_->replay(embedding.decoder_context, embedding.feat_s0, embedding.feat_s1, coords, labels,
                                   eager, why)) {
      path_.cuda_graph = true;
      ++path_.graph_replays;
      return {out->first, out->second};
    }
    // Capture is not possible here (an op that syncs, an old driver): plain calls from now on.
    graphs_.reset();
    path_.note = "CUDA graph capture failed, plain calls: " + why;
  }
  path_.cuda_graph = false;
  auto [logits, iou] = eager(embedding.decoder_context, embedding.feat_s0, embedding.feat_s1, coords, labels);
  return {logits.to(at::kFloat), iou.to(at::kFloat)};
}

}  // namespace sam2amg
