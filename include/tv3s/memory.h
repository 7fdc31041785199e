// Memory accounting for both devices.
//
// CPU tensors come from an aligned allocator that counts live bytes. CUDA tensors come
// from a caching allocator: freed blocks go to size-binned free lists and are reused, so
// a steady-state inference or training loop makes no cudaMalloc/cudaFree at all
// (`device_allocations` stops growing after the first iteration — tests check this).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tv3s/dtype.h"

namespace tv3s {

struct MemoryStats {
  size_t current_bytes = 0;       // held by live tensors
  size_t peak_bytes = 0;          // max of current_bytes since the last reset_peak_memory()
  size_t reserved_bytes = 0;      // CUDA: live + cached blocks obtained from the driver
  uint64_t device_allocations = 0;  // CUDA: cudaMalloc calls so far; CPU: malloc calls
};

MemoryStats memory_stats(Device device);
void reset_peak_memory(Device device);
// CUDA: return every cached (unused) block to the driver. No-op on CPU.
void empty_cache(Device device);

}  // namespace tv3s
