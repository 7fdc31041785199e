// Memory accounting for both devices.
//
// Tensors on both devices come from caching allocators: freed blocks go to a size-ordered
// free list and are reused, so a steady-state inference or training loop makes no
// malloc/cudaMalloc at all (`device_allocations` stops growing after the first
// iteration — tests check this on both devices).
#pragma once
#include <cstddef>
#include <cstdint>

#include "tv3s/dtype.h"

namespace tv3s {

struct MemoryStats {
  size_t current_bytes = 0;       // held by live tensors
  size_t peak_bytes = 0;          // max of current_bytes since the last reset_peak_memory()
  size_t reserved_bytes = 0;      // live + cached blocks obtained from the system/driver
  uint64_t device_allocations = 0;  // aligned_alloc / cudaMalloc calls so far
  size_t scratch_bytes = 0;       // CPU: the kernels' per-thread scratch, kept outside the
                                  // tensor allocator (GEMM packing panels, attention rows);
                                  // grows to its high-water mark and stays
};

MemoryStats memory_stats(Device device);
void reset_peak_memory(Device device);
// Return every cached (unused) block to the system / the driver.
void empty_cache(Device device);

}  // namespace tv3s
