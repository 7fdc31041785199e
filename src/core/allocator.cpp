// Allocators: one caching scheme for both devices.
//
// A freed block is not returned to the system but parked in a free list ordered by
// size; the next request takes the smallest cached block that fits without wasting more
// than a quarter of it. Requests are rounded (512 B below 1 MiB, 128 KiB above) so that
// shapes that vary slightly still share blocks. A steady-state loop therefore makes no
// malloc/cudaMalloc at all after its first iteration.
//
// CPU: blocks come from aligned_alloc (64-byte aligned). Caching matters there too:
// glibc serves large blocks with fresh mmaps, and the page faults of touching them made
// memory-bound ops 2–5× slower. Cached-but-unused CPU memory is capped (kCpuCacheCap);
// beyond it, freed blocks go straight back to the system.
// CUDA: blocks come from cudaMalloc. All tensors use one stream, so a block freed by the
// host may be reused at once: any kernel still reading it was queued before the kernel
// that will overwrite it. TV3S_CUDA_NO_CACHE=1 turns caching off for CUDA (as PyTorch's
// PYTORCH_NO_CUDA_MEMORY_CACHING=1): every tensor gets a cudaMalloc of its own size, freed
// at once. Slower, but compute-sanitizer, or the device emulator's guard pages, then see
// each tensor's bounds instead of those of a larger cached block.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>

#include "src/core/cuda_context.h"
#include "src/core/storage.h"
#include "tv3s/memory.h"

namespace tv3s {
namespace {

constexpr size_t kCpuCacheCap = size_t(2) << 30;  // 2 GiB of idle host blocks at most

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

class CachingAllocator {
 public:
  struct Backend {
    void* (*allocate)(size_t bytes);  // nullptr when out of memory
    void (*release)(void* p);
    void (*before_release)();         // waits for queued work that may still use blocks
    size_t cache_cap;
    const char* device;
    bool exact = false;  // no rounding, no caching: one allocation per request
  };
  explicit CachingAllocator(Backend backend) : backend_(backend) {}

  static size_t bucket(size_t bytes) {
    return bytes < (size_t(1) << 20) ? round_up(bytes == 0 ? 1 : bytes, 512)
                                     : round_up(bytes, size_t(128) << 10);
  }

  void* allocate(size_t request, size_t& block_bytes) {
    const size_t want = backend_.exact ? (request == 0 ? 1 : request) : bucket(request);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_blocks_.lower_bound(want);
    if (it != free_blocks_.end() && it->first <= want + want / 4) {
      block_bytes = it->first;
      void* p = it->second;
      cached_bytes_ -= it->first;
      free_blocks_.erase(it);
      on_alloc(block_bytes);
      return p;
    }
    void* p = backend_.allocate(want);
    if (!p) {  // give the cache back and try once more
      release_cached_locked();
      p = backend_.allocate(want);
    }
    TV3S_CHECK(p != nullptr, backend_.device, " out of memory allocating ", want, " bytes (",
               stats_.current_bytes, " bytes in use by tensors, ", stats_.reserved_bytes,
               " reserved)");
    stats_.device_allocations++;
    stats_.reserved_bytes += want;
    block_bytes = want;
    on_alloc(want);
    return p;
  }

  void free(void* p, size_t block_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.current_bytes -= block_bytes;
    if (backend_.exact || cached_bytes_ + block_bytes > backend_.cache_cap) {
      backend_.release(p);
      stats_.reserved_bytes -= block_bytes;
      return;
    }
    free_blocks_.emplace(block_bytes, p);
    cached_bytes_ += block_bytes;
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }
  void reset_peak() {
    std::lock_guard<std::mutex> lock(mutex_);
    stats_.peak_bytes = stats_.current_bytes;
  }
  void release_cached() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_cached_locked();
  }

 private:
  void on_alloc(size_t bytes) {
    stats_.current_bytes += bytes;
    if (stats_.current_bytes > stats_.peak_bytes) stats_.peak_bytes = stats_.current_bytes;
  }
  void release_cached_locked() {
    if (free_blocks_.empty()) return;
    backend_.before_release();
    for (auto& [bytes, p] : free_blocks_) {
      backend_.release(p);
      stats_.reserved_bytes -= bytes;
    }
    free_blocks_.clear();
    cached_bytes_ = 0;
  }

  Backend backend_;
  std::mutex mutex_;
  MemoryStats stats_;
  std::multimap<size_t, void*> free_blocks_;  // size → block
  size_t cached_bytes_ = 0;
};

// Both allocators are never destroyed: tensors in static storage may outlive main().
CachingAllocator& cpu_allocator() {
  static CachingAllocator* a = new CachingAllocator({
      [](size_t bytes) { return std::aligned_alloc(64, bytes); },  // bytes: multiple of 512
      [](void* p) { std::free(p); },
      [] {},
      kCpuCacheCap,
      "host",
  });
  return *a;
}

#if TV3S_WITH_CUDA
CachingAllocator& cuda_allocator() {
  static CachingAllocator* a = new CachingAllocator({
      [](size_t bytes) -> void* {
        void* p = nullptr;
        if (cudaMalloc(&p, bytes) != cudaSuccess) {
          cudaGetLastError();  // clear the error; the caller retries or reports
          return nullptr;
        }
        return p;
      },
      [](void* p) { cudaFree(p); },
      [] { cudaStreamSynchronize(cuda::stream()); },
      ~size_t(0),  // the GPU cache is bounded by the driver: a failed cudaMalloc empties it
      "CUDA",
      std::getenv("TV3S_CUDA_NO_CACHE") != nullptr,
  });
  return *a;
}
#endif

CachingAllocator& allocator_for(Device device) {
  if (device == Device::CPU) return cpu_allocator();
#if TV3S_WITH_CUDA
  cuda::require("allocate");
  return cuda_allocator();
#else
  fail("cannot allocate a CUDA tensor: tv3s was built without CUDA");
#endif
}

}  // namespace

Storage::~Storage() {
  if (ptr) allocator_for(device).free(ptr, bytes);
}

std::shared_ptr<Storage> allocate_storage(Device device, size_t bytes) {
  size_t block = 0;
  void* p = allocator_for(device).allocate(bytes, block);
  return std::make_shared<Storage>(p, block, device);
}

namespace {
std::atomic<std::ptrdiff_t> g_cpu_scratch{0};
}  // namespace

void count_cpu_scratch(std::ptrdiff_t delta_bytes) { g_cpu_scratch += delta_bytes; }

MemoryStats memory_stats(Device device) {
  if (device == Device::CUDA && !cuda::available()) return {};
  MemoryStats stats = allocator_for(device).stats();
  if (device == Device::CPU) stats.scratch_bytes = size_t(std::max<std::ptrdiff_t>(0, g_cpu_scratch.load()));
  return stats;
}

void reset_peak_memory(Device device) {
  if (device == Device::CUDA && !cuda::available()) return;
  allocator_for(device).reset_peak();
}

void empty_cache(Device device) {
  if (device == Device::CUDA && !cuda::available()) return;
  allocator_for(device).release_cached();
}

}  // namespace tv3s
