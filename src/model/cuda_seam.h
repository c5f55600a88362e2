#pragma once
/// Everything src/model asks of CUDA, declared once. Where the linked LibTorch has CUDA the
/// definitions are the *_cuda.cpp files beside their users (device_timing_cuda.cpp and
/// device_timing_sync_cuda.cpp, sam2_model_cuda.cpp, fast_decoder_cuda.cpp); elsewhere
/// cuda_absent.cpp's stand-ins, which
/// have nothing to time, count or replay. src/CMakeLists.txt links one side, so the callers
/// hold no #if. Internal to src/model.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sam2amg::cuda_seam {

// For device_timing.cpp.

/// Stage times from CUDA events: a pair per interval, recorded on the current stream.
class StageEvents {
 public:
  virtual ~StageEvents() = default;
  virtual void start(int stage) = 0;
  virtual void stop(int stage) = 0;
  /// The seconds of each of `n_stages` stages; waits for the last event, reads all of them once.
  virtual std::vector<double> seconds(int n_stages) = 0;
};

/// Events on a CUDA `device`; null elsewhere and without CUDA (the caller's wall clock then).
std::unique_ptr<StageEvents> stage_events(const at::Device& device);

/// While alive, CUDA's sync-debug mode warns, and its warnings of synchronising operations on
/// this thread are counted into the caller's count (set to 0 first) instead of printed.
class SyncCounting {
 public:
  virtual ~SyncCounting() = default;
};

/// Counting into `*count` on a CUDA `device`; null (and `*count` untouched) elsewhere and
/// without CUDA.
std::unique_ptr<SyncCounting> count_syncs(const at::Device& device, std::int64_t* count);

// For sam2_model.cpp.

/// Peak bytes held by CUDA's caching allocator on GPU `index` since the last reset; -1 without
/// CUDA.
std::int64_t peak_allocated_bytes(int index);
void reset_peak_allocated_bytes(int index);

// For fast_decoder.cpp.

/// Free memory on the CUDA `device` plus the blocks the caching allocator holds unused; 0 when
/// unknown and without CUDA.
double usable_device_bytes(const at::Device& device);

/// Whether this build has CUDA graphs.
bool has_cuda_graphs();

/// predict_masks_prepared called plainly: (context, feat_s0, feat_s1, coords, labels) ->
/// (low_res_logits, iou), in the model's dtype.
using EagerDecoder =
    std::function<std::pair<at::Tensor, at::Tensor>(const std::vector<at::Tensor>&, const at::Tensor&,
                                                    const at::Tensor&, const at::Tensor&, const at::Tensor&)>;

/// The fast decoder's CUDA graphs, one per batch size, in one memory pool.
class DecoderGraphs {
 public:
  virtual ~DecoderGraphs() = default;
  /// (low_res_logits, iou) in float32 from one replay of the graph of coords' batch size
  /// (captured at its first use, after warm-up calls of `eager`), on copies of these inputs.
  /// Out of memory is thrown (the caller retries with fewer prompts); another failure returns
  /// nothing, with its first line in `why`, and the graphs are dropped.
  virtual std::optional<std::pair<at::Tensor, at::Tensor>> replay(const std::vector<at::Tensor>& context,
                                                                  const at::Tensor& feat_s0,
                                                                  const at::Tensor& feat_s1,
                                                                  const at::Tensor& coords, const at::Tensor& labels,
                                                                  const EagerDecoder& eager, std::string& why) = 0;
};

/// Graphs on the CUDA `device`; null without CUDA (has_cuda_graphs() is false).
std::unique_ptr<DecoderGraphs> decoder_graphs(const at::Device& device);

}  // namespace sam2amg::cuda_seam
