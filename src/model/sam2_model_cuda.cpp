// cuda_seam.h's allocator peak (sam2_model.cpp's CUDA side, for the bench).
#include <c10/cuda/CUDACachingAllocator.h>

#include "model/cuda_seam.h"

namespace sam2amg::cuda_seam {

std::int64_t peak_allocated_bytes(int index) {
  // allocated_bytes[0] is the aggregate over pool types in every LibTorch version.
  return c10::cuda::CUDACachingAllocator::getDeviceStats(index).allocated_bytes[0].peak;
}

void reset_peak_allocated_bytes(int index) { c10::cuda::CUDACachingAllocator::resetPeakStats(index); }

}  // namespace sam2amg::cuda_seam
