#pragma once
/// Options for loading a model; torch-free so the CLI can fill it.
#include <string>

namespace sam2amg {

struct ModelOptions {
  /// "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".
  std::string device = "auto";
};

}  // namespace sam2amg
