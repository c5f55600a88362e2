#pragma once
/// LibTorch's CPU allocator for large blocks, replaced by one that maps them in whole huge pages
/// and keeps a bounded number of freed ones for reuse.
///
/// Why: an image's encoder and decoder allocate and free the same large activations over and
/// over. glibc either maps and unmaps each one (M_MMAP_THRESHOLD: every reuse page-faults and
/// zero-fills again; on a 2-core VM that was 45 % of a run's time, in the kernel) or keeps them in
/// its heap, where they fragment (RSS grows to several times the live set). Here a freed block
/// waits for the next request of its size, up to kHostCacheBytes in all (the oldest are returned
/// beyond that), so RSS stays near the live set plus that bound and repeated shapes cost nothing.
/// Blocks under kLargeBlock stay with glibc.
#include <cstddef>
#include <cstdint>

namespace sam2amg {

inline constexpr std::size_t kLargeBlock = std::size_t{4} << 20;
inline constexpr std::size_t kHostCacheBytes = std::size_t{512} << 20;

/// Installs the allocator as LibTorch's CPU allocator (once per process; later calls do
/// nothing). Tensors allocated before keep their own deleters.
void install_host_allocator();

struct HostAllocatorStats {
  std::int64_t large_allocations = 0;  ///< requests of kLargeBlock and up
  std::int64_t reused = 0;             ///< of which served from freed blocks
  std::int64_t mapped_bytes = 0;       ///< mapped now (live and cached)
  std::int64_t peak_mapped_bytes = 0;
  std::int64_t cached_bytes = 0;       ///< freed, kept for reuse
};
/// Zeros before install_host_allocator().
HostAllocatorStats host_allocator_stats();

}  // namespace sam2amg
