// Allocators. CPU: 64-byte aligned blocks from the C library, counted.
// CUDA: a caching allocator. A freed block is not returned to the driver but parked in
// a free list ordered by size; the next request takes the smallest cached block that
// fits without wasting more than a quarter of it. Requests are rounded (512 B below
// 1 MiB, 128 KiB above) so that shapes that vary slightly still share blocks. All
// tensors use one stream, so a block freed by the host may be reused at once: any
// kernel still reading it was queued before the kernel that will overwrite it.
#include <cstdlib>
#include <map>
#include <mutex>

#include "src/core/cuda_context.h"
#include "src/core/storage.h"
#include "tv3s/memory.h"

namespace tv3s {
namespace {

size_t round_up(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

struct Counters {
  std::mutex mutex;
  MemoryStats stats;
  void on_alloc(size_t bytes) {
    stats.current_bytes += bytes;
    if (stats.current_bytes > stats.peak_bytes) stats.peak_bytes = stats.current_bytes;
  }
};

Counters& cpu_counters() {
  static Counters c;
  return c;
}

void* cpu_alloc(size_t bytes) {
  const size_t rounded = round_up(bytes == 0 ? 1 : bytes, 64);
  void* p = std::aligned_alloc(64, rounded);
  TV3S_CHECK(p != nullptr, "out of host memory allocating ", bytes, " bytes");
  auto& c = cpu_counters();
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.device_allocations++;
  c.on_alloc(rounded);
  return p;
}

#if TV3S_WITH_CUDA
struct CudaCache {
  Counters counters;
  std::multimap<size_t, void*> free_blocks;  // size → block

  static size_t bucket(size_t bytes) {
    return bytes < (1u << 20) ? round_up(bytes == 0 ? 1 : bytes, 512) : round_up(bytes, 128u << 10);
  }

  void* allocate(size_t request, size_t& block_bytes) {
    const size_t want = bucket(request);
    std::lock_guard<std::mutex> lock(counters.mutex);
    auto it = free_blocks.lower_bound(want);
    if (it != free_blocks.end() && it->first <= want + want / 4) {
      block_bytes = it->first;
      void* p = it->second;
      free_blocks.erase(it);
      counters.on_alloc(block_bytes);
      return p;
    }
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, want);
    if (status == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      cudaGetLastError();
      release_cached_locked();
      status = cudaMalloc(&p, want);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      fail(str("CUDA out of memory allocating ", want, " bytes (", counters.stats.current_bytes,
               " bytes in use by tensors, ", counters.stats.reserved_bytes, " reserved)"));
    }
    counters.stats.device_allocations++;
    counters.stats.reserved_bytes += want;
    block_bytes = want;
    counters.on_alloc(want);
    return p;
  }

  void release(void* p, size_t block_bytes) {
    std::lock_guard<std::mutex> lock(counters.mutex);
    counters.stats.current_bytes -= block_bytes;
    free_blocks.emplace(block_bytes, p);
  }

  void release_cached_locked() {
    cudaStreamSynchronize(cuda::stream());  // blocks may still be read by queued kernels
    for (auto& [bytes, p] : free_blocks) {
      cudaFree(p);
      counters.stats.reserved_bytes -= bytes;
    }
    free_blocks.clear();
  }
};

CudaCache& cuda_cache() {
  static CudaCache* cache = new CudaCache;  // never destroyed: blocks may outlive main()
  return *cache;
}
#endif

}  // namespace

Storage::~Storage() {
  if (!ptr) return;
  if (device == Device::CPU) {
    std::free(ptr);
    auto& c = cpu_counters();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stats.current_bytes -= bytes;
    return;
  }
#if TV3S_WITH_CUDA
  cuda_cache().release(ptr, bytes);
#endif
}

std::shared_ptr<Storage> allocate_storage(Device device, size_t bytes) {
  if (device == Device::CPU) {
    void* p = cpu_alloc(bytes);
    return std::make_shared<Storage>(p, round_up(bytes == 0 ? 1 : bytes, 64), device);
  }
#if TV3S_WITH_CUDA
  cuda::require("allocate");
  size_t block = 0;
  void* p = cuda_cache().allocate(bytes, block);
  return std::make_shared<Storage>(p, block, device);
#else
  fail("cannot allocate a CUDA tensor: tv3s was built without CUDA");
#endif
}

MemoryStats memory_stats(Device device) {
  if (device == Device::CPU) {
    auto& c = cpu_counters();
    std::lock_guard<std::mutex> lock(c.mutex);
    return c.stats;
  }
#if TV3S_WITH_CUDA
  auto& c = cuda_cache().counters;
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
#else
  return {};
#endif
}

void reset_peak_memory(Device device) {
  if (device == Device::CPU) {
    auto& c = cpu_counters();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.stats.peak_bytes = c.stats.current_bytes;
    return;
  }
#if TV3S_WITH_CUDA
  auto& c = cuda_cache().counters;
  std::lock_guard<std::mutex> lock(c.mutex);
  c.stats.peak_bytes = c.stats.current_bytes;
#endif
}

void empty_cache(Device device) {
#if TV3S_WITH_CUDA
  if (device == Device::CUDA && cuda::available()) {
    auto& cache = cuda_cache();
    std::lock_guard<std::mutex> lock(cache.counters.mutex);
    cache.release_cached_locked();
  }
#else
  (void)device;
#endif
}

}  // namespace tv3s
