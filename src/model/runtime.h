#pragma once
/// The LibTorch runtime in one line, behind a torch-free header: the CLI (which sees no LibTorch
/// header) reports it in --version, the model and pipeline in their logs.
#include <cstdint>
#include <string>

namespace sam2amg {

/// LibTorch's version, its CPU threads, and the BLAS libraries mapped into this process (the
/// one LibTorch really calls: Debian's libblas.so.3 is the reference BLAS unless OpenBLAS is
/// installed as its alternative). For logs, the bench and --version.
std::string runtime_description();

/// Which decoder path Sam2Model::predict_points takes (Sam2Model::decoder_path()), for the bench
/// and logs.
struct DecoderPath {
  bool fast = false;                ///< the export's decoder form is fast (metadata `decoder`)
  bool cuda_graph = false;          ///< the last fast call replayed a CUDA graph
  std::int64_t max_batch = 0;       ///< prompts per fast decoder call at most; 0 for the exact form
  std::int64_t calls = 0;           ///< fast decoder calls so far
  std::int64_t graph_replays = 0;   ///< of which CUDA graph replays
  std::string note;                 ///< why fast calls are plain calls (CPU, no CUDA graphs, capture failed)
  /// "exact", "fast, CUDA graph" or "fast, eager (note)".
  std::string str() const;
};

}  // namespace sam2amg
