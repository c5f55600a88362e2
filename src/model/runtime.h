#pragma once
/// The LibTorch runtime in one line, behind a torch-free header: the CLI (which sees no LibTorch
/// header) reports it in --version, the model and pipeline in their logs.
#include <string>

namespace sam2amg {

/// LibTorch's version, its CPU threads, and the BLAS libraries mapped into this process (the
/// one LibTorch really calls: Debian's libblas.so.3 is the reference BLAS unless OpenBLAS is
/// installed as its alternative). For logs, the bench and --version.
std::string runtime_description();

}  // namespace sam2amg
