#pragma once
/// Options for loading a model; torch-free so the CLI can fill it.
#include "common/device.h"

namespace sam2amg {

struct ModelOptions {
  /// auto (CUDA when available, else CPU), cpu, cuda or cuda:N.
  Device device;
  /// auto (the file's precision) or fp32 / bf16 / fp16, which must match the file's.
  Precision precision = Precision::kAuto;
  /// CPU threads for LibTorch's intra-op pool and the BLAS; 0: the CPUs this process may use
  /// (its affinity, within its cgroup's CPU quota; usable_cpu_count()).
  int threads = 0;
  /// Which code decodes the prompts. The library's default runs the export's own graphs; the
  /// command line's (--decoder) is auto.
  Decoder decoder = Decoder::kExport;
  /// TF32 for CUDA matrix products at run time (PyTorch's default, and the reference's, is
  /// off). Convolutions follow the flag recorded in the file at export (cudnn_allow_tf32).
  bool matmul_tf32 = false;
  /// Pad a smaller decoder batch (a crop's last) to the largest size seen, so the optimising
  /// executor of reduced-precision files does not profile a new shape mid-run. Default: on
  /// for bf16/fp16 files, off for fp32 (whose batches stay the reference's).
  enum class PadBatches { kAuto, kOn, kOff } pad_batches = PadBatches::kAuto;
  /// Fast exports on CUDA: replay the decoder as CUDA graphs where the linked LibTorch has them
  /// and capture works (plain calls otherwise).
  bool cuda_graphs = true;
  /// The run will refine masks with their own low-res mask (use_m2m): the load-time probe calls
  /// predict_masks_with_mask_input too.
  bool probe_mask_input = false;
};

}  // namespace sam2amg
