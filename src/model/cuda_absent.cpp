#include "model/cuda_seam.h"

// cuda_seam.h where the linked LibTorch has no CUDA: no device can be CUDA, so there is nothing
// to time on the device, count, or replay.

namespace sam2amg::cuda_seam {

std::unique_ptr<StageEvents> stage_events(const at::Device&) { return nullptr; }
std::unique_ptr<SyncCounting> count_syncs(const at::Device&, std::int64_t*) { return nullptr; }

std::int64_t peak_allocated_bytes(int) { return -1; }
void reset_peak_allocated_bytes(int) {}

double usable_device_bytes(const at::Device&) { return 0.0; }
bool has_cuda_graphs() { return false; }
std::unique_ptr<DecoderGraphs> decoder_graphs(const at::Device&) { return nullptr; }

}  // namespace sam2amg::cuda_seam
