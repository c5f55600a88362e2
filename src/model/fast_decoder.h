#pragma once
/// The fast decoder form of an export (metadata `decoder: fast`, docs/model-contract.md): the
/// per-image context from `prepare_decoder`, then `predict_masks_prepared` for as many prompts
/// per call as device memory allows, padded to a few fixed batch sizes and, on CUDA, replayed
/// as CUDA graphs where the linked LibTorch has them and capture works. Internal to src/model.
#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model_tensors.h"
#include "model/runtime.h"

namespace sam2amg {

namespace cuda_seam {
class DecoderGraphs;
}

/// Smallest batch at which the fast decoder runs; batches are powers of two from here.
inline constexpr std::int64_t kFastDecoderMinBatch = 16;

/// The batch `n` prompts are padded to: the smallest power of two >= max(n, 16), at most `cap`
/// (itself a power of two >= 16; n <= cap).
std::int64_t fast_decoder_bucket(std::int64_t n, std::int64_t cap);

/// The largest power of two >= 16 and <= max(16, limit).
std::int64_t fast_decoder_cap(std::int64_t limit);

class FastDecoder {
 public:
  /// module: the loaded export (it has prepare_decoder and predict_masks_prepared).
  FastDecoder(torch::jit::Module module, at::Device device, std::int64_t image_size, bool cuda_graphs);
  ~FastDecoder();

  /// prepare_decoder's tensors for one image embedding.
  std::vector<at::Tensor> prepare(const at::Tensor& image_embed) const;
  /// The decoder for n single-point prompts (coords: (n, 2, 2) float32, labels (n, 2) int32, on
  /// the device, the padding point included); float32 outputs.
  DecoderOutput run(const ImageEmbedding& embedding, const at::Tensor& coords, const at::Tensor& labels) const;

  /// Prompts per call at most (memory-bound, a power of two).
  std::int64_t max_batch() const { return cap_; }
  DecoderPath path() const;

 private:
  DecoderOutput call(const ImageEmbedding& embedding, const at::Tensor& coords, const at::Tensor& labels) const;

  torch::jit::Module module_;
  at::Device device_;
  std::int64_t cap_ = kFastDecoderMinBatch;
  mutable DecoderPath path_;
  // CUDA graphs per batch size (fast_decoder_cuda.cpp); null where calls are plain.
  mutable std::unique_ptr<cuda_seam::DecoderGraphs> graphs_;
};

}  // namespace sam2amg
