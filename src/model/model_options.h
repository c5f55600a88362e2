#pragma once
/// Options for loading a model; torch-free so the CLI can fill it.
#include "common/device.h"

namespace sam2amg {

struct ModelOptions {
  /// auto (CUDA when available, else CPU), cpu, cuda or cuda:N.
  Device device;
  /// auto (the file's precision) or fp32 / bf16 / fp16, which must match the file's.
  Precision precision = Precision::kAuto;
  /// CPU threads for LibTorch's intra-op pool; 0 keeps its default.
  int threads = 0;
};

}  // namespace sam2amg
