#pragma once
/// The one way the generator's loop moves data between the host and the model's device. On CUDA
/// a read (a copy to the host, or a compaction whose size the host must know) waits for all
/// queued work; every read of an image's loop goes through `read_to_host` or `true_indices`, so
/// `host_reads()` counts them (on every device, so CPU tests see the count a GPU run has). Small
/// per-image constants go the other way through `upload`, which never blocks the host on CUDA.
#include <ATen/ATen.h>

#include <cstdint>

namespace sam2amg {

/// `t` on the host (a CPU tensor; `t` itself when it is one), counted as one read.
at::Tensor read_to_host(const at::Tensor& t);

/// `t.nonzero()`, counted as one read (the host must learn how many there are).
at::Tensor read_nonzero(const at::Tensor& t);

/// The positions (int64, on the mask's device) of the true entries of a 1-D bool mask, in
/// order; one read (the host needs their number). Equals `mask.nonzero().squeeze(1)`.
at::Tensor true_indices(const at::Tensor& mask);

/// Reads this thread made since the last reset_host_reads().
std::int64_t host_reads();
void reset_host_reads();

/// A CPU tensor on `device`: on CUDA copied from page-locked memory without blocking the host
/// (the pinned copy lives until the transfer is done); elsewhere an ordinary copy. No read.
at::Tensor upload(const at::Tensor& host, const at::Device& device);

/// `host` in page-locked memory where `device` is CUDA (so a later upload does not block);
/// `host` itself otherwise. For work done ahead of the model, e.g. on decode threads.
at::Tensor pin_for(const at::Tensor& host, const at::Device& device);

}  // namespace sam2amg
