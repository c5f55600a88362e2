#include "model/host_allocator.h"

#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>

#include <cstdlib>
#include <list>
#include <mutex>
#include <new>
#include <unordered_map>

namespace sam2amg {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;
constexpr std::size_t kSmallAlignment = 64;  // c10's gAlignment (AVX-512 loads)

// Anonymous memory aligned to a huge page, so that transparent huge pages (madvise mode, the
// common default) can back it whole: one fault per 2 MiB instead of per 4 KiB.
void* map_block(std::size_t size) {
  void* raw = mmap(nullptr, size + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t start = (base + kHugePage - 1) & ~(kHugePage - 1);
  if (start > base) munmap(raw, start - base);
  const std::uintptr_t end = start + size, mapped_end = base + size + kHugePage;
  if (mapped_end > end) munmap(reinterpret_cast<void*>(end), mapped_end - end);
  void* p = reinterpret_cast<void*>(start);
#ifdef MADV_HUGEPAGE
  madvise(p, size, MADV_HUGEPAGE);  // advice only: without THP the pages are ordinary ones
#endif
  return p;
}

class HostAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(std::size_t n) const override {
    void* p = n >= kLargeBlock ? take(n) : small(n);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  HostAllocatorStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  static void* small(std::size_t n) {
    void* p = nullptr;
    if (posix_memalign(&p, kSmallAlignment, n == 0 ? kSmallAlignment : n) != 0) throw std::bad_alloc();
    return p;
  }

  void* take(std::size_t n) const {
    const std::size_t size = (n + kHugePage - 1) & ~(kHugePage - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.large_allocations;
      // The most recently freed block of this size (likely still in cache).
      for (auto it = cache_.begin(); it != cache_.end(); ++it)
        if (it->second == size) {
          void* p = it->first;
          cache_.erase(it);
          stats_.cached_bytes -= static_cast<std::int64_t>(size);
          ++stats_.reused;
          live_[p] = size;
          return p;
        }
    }
    void* p = map_block(size);
    if (!p) {
      release_cache(0);  // what is cached may be what the system lacks
      p = map_block(size);
      if (!p) throw c10::Error({__func__, __FILE__, static_cast<uint32_t>(__LINE__)},
                               "DefaultCPUAllocator: can't allocate memory: you tried to allocate " +
                                   std::to_string(n) + " bytes (mmap failed)");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    live_[p] = size;
    stats_.mapped_bytes += static_cast<std::int64_t>(size);
    if (stats_.mapped_bytes > stats_.peak_mapped_bytes) stats_.peak_mapped_bytes = stats_.mapped_bytes;
    return p;
  }

  static void release(void* p);

  void give_back(void* p) const {
    std::size_t size = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const auto it = live_.find(p);
      if (it != live_.end()) {
        size = it->second;
        live_.erase(it);
        cache_.emplace_front(p, size);
        stats_.cached_bytes += static_cast<std::int64_t>(size);
      }
    }
    if (size == 0) {
      std::free(p);  // a small block (or null)
      return;
    }
    release_cache(kHostCacheBytes);
  }

  // Unmaps the oldest cached blocks until at most `limit` bytes are cached.
  void release_cache(std::size_t limit) const {
    std::list<std::pair<void*, std::size_t>> out;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      while (!cache_.empty() && stats_.cached_bytes > static_cast<std::int64_t>(limit)) {
        out.push_back(cache_.back());
        cache_.pop_back();
        stats_.cached_bytes -= static_cast<std::int64_t>(out.back().second);
        stats_.mapped_bytes -= static_cast<std::int64_t>(out.back().second);
      }
    }
    for (const auto& [p, size] : out) munmap(p, size);
  }

  mutable std::mutex mutex_;
  mutable std::unordered_map<void*, std::size_t> live_;       // large blocks in use
  mutable std::list<std::pair<void*, std::size_t>> cache_;    // freed large blocks, newest first
  mutable HostAllocatorStats stats_;
};

// Never destroyed: tensors freed during static destruction still find it.
HostAllocator* the_allocator = nullptr;

void HostAllocator::release(void* p) { the_allocator->give_back(p); }

}  // namespace

void install_host_allocator() {
  static std::once_flag once;
  std::call_once(once, [] {
    the_allocator = new HostAllocator();
    c10::SetCPUAllocator(the_allocator, /*priority=*/1);
  });
}

HostAllocatorStats host_allocator_stats() { return the_allocator ? the_allocator->stats() : HostAllocatorStats{}; }

}  // namespace sam2amg
