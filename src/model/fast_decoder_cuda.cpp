// cuda_seam.h's device memory and CUDA graphs (fast_decoder.cpp's CUDA side).
#include <torch/cuda.h>

#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include <map>
#include <tuple>

#include "model/cuda_seam.h"
#include "model/torch_errors.h"

namespace sam2amg::cuda_seam {

double usable_device_bytes(const at::Device& device) {
  double usable = 0.0;
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::cuda::current_device();
  const c10::cuda::CUDAGuard guard(index);
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess) usable = static_cast<double>(free);
  (void)cudaGetLastError();
  // Blocks the caching allocator holds but does not use are free for the decoder too.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  usable += static_cast<double>(stats.reserved_bytes[0].current - stats.allocated_bytes[0].current);
  return usable;
}

bool has_cuda_graphs() { return true; }

namespace {

// One graph per batch size, all in one memory pool: replays never overlap and each replay's
// outputs are copied out before the next, so the graphs may share their intermediate blocks.
class CudaDecoderGraphs final : public DecoderGraphs {
 public:
  explicit CudaDecoderGraphs(const at::Device& device) : device_(device), pool_(at::cuda::graph_pool_handle()) {}

  std::optional<std::pair<at::Tensor, at::Tensor>> replay(const std::vector<at::Tensor>& context,
                                                          const at::Tensor& feat_s0, const at::Tensor& feat_s1,
                                                          const at::Tensor& coords, const at::Tensor& labels,
                                                          const EagerDecoder& eager, std::string& why) override {
    const std::int64_t b = coords.size(0);
    try {
      if (context_.empty()) {
        for (const at::Tensor& t : context) context_.push_back(at::empty_like(t));
        feat_s0_ = at::empty_like(feat_s0);
        feat_s1_ = at::empty_like(feat_s1);
      }
      for (size_t i = 0; i < context_.size(); ++i) context_[i].copy_(context[i]);
      feat_s0_.copy_(feat_s0);
      feat_s1_.copy_(feat_s1);
      auto it = by_batch_.find(b);
      if (it == by_batch_.end()) {
        Entry e;
        e.coords = coords.clone();
        e.labels = labels.clone();
        torch::cuda::synchronize(device_.index());
        {
          const c10::cuda::CUDAStreamGuard on_side(c10::cuda::getStreamFromPool(false, device_.index()));
          // Warm-up on the capture stream: the graph executor profiles and optimises first.
          for (int k = 0; k < 3; ++k) eager(context_, feat_s0_, feat_s1_, e.coords, e.labels);
          torch::cuda::synchronize(device_.index());
          e.graph = std::make_unique<at::cuda::CUDAGraph>();
          e.graph->capture_begin(pool_);
          try {
            std::tie(e.logits, e.iou) = eager(context_, feat_s0_, feat_s1_, e.coords, e.labels);
          } catch (...) {
            try {
              e.graph->capture_end();
            } catch (...) {
            }
            throw;
          }
          e.graph->capture_end();
        }
        torch::cuda::synchronize(device_.index());
        it = by_batch_.emplace(b, std::move(e)).first;
      }
      Entry& e = it->second;
      e.coords.copy_(coords);
      e.labels.copy_(labels);
      e.graph->replay();
      // The graph's outputs are overwritten by the next replay: copy them out (float32).
      return std::make_pair(e.logits.to(at::kFloat, false, true), e.iou.to(at::kFloat, false, true));
    } catch (const std::exception& err) {
      if (is_out_of_memory(err.what())) throw;  // the caller retries with fewer prompts
      by_batch_.clear();
      context_.clear();
      why = error_line(err.what());
      (void)cudaGetLastError();
      torch::cuda::synchronize(device_.index());
      return std::nullopt;
    }
  }

 private:
  struct Entry {
    std::unique_ptr<at::cuda::CUDAGraph> graph;
    at::Tensor coords, labels, logits, iou;
  };
  at::Device device_;
  decltype(at::cuda::graph_pool_handle()) pool_{};
  std::vector<at::Tensor> context_;  // static inputs, copied into before each replay
  at::Tensor feat_s0_, feat_s1_;
  std::map<std::int64_t, Entry> by_batch_;
};

}  // namespace

std::unique_ptr<DecoderGraphs> decoder_graphs(const at::Device& device) {
  return std::make_unique<CudaDecoderGraphs>(device);
}

}  // namespace sam2amg::cuda_seam
