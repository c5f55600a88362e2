#include "amg/host_reads.h"

namespace sam2amg {

namespace {

// Per thread: a generator runs an image on one thread, and decode workers never read.
thread_local std::int64_t g_reads = 0;

}  // namespace

at::Tensor read_to_host(const at::Tensor& t) {
  ++g_reads;
  return t.to(at::kCPU);
}

at::Tensor true_indices(const at::Tensor& mask) {
  TORCH_CHECK(mask.dim() == 1 && mask.scalar_type() == at::kBool, "true_indices: expected a 1-D bool mask, got ",
              mask.sizes(), " ", mask.scalar_type());
  return read_nonzero(mask).squeeze(1);
}

at::Tensor read_nonzero(const at::Tensor& t) {
  ++g_reads;
  return t.nonzero();
}

std::int64_t host_reads() { return g_reads; }
void reset_host_reads() { g_reads = 0; }

at::Tensor pin_for(const at::Tensor& host, const at::Device& device) {
  TORCH_CHECK(host.device().is_cpu(), "pin_for: expected a CPU tensor");
  if (!device.is_cuda() || host.is_pinned()) return host;
  return host.pin_memory();
}

at::Tensor upload(const at::Tensor& host, const at::Device& device) {
  TORCH_CHECK(host.device().is_cpu(), "upload: expected a CPU tensor");
  if (!device.is_cuda()) return host.to(device);
  return pin_for(host.contiguous(), device).to(at::TensorOptions().device(device), /*non_blocking=*/true);
}

}  // namespace sam2amg
