// Storage: one allocation on one device, shared by every tensor (view) that uses it.
// Allocation goes through the per-device allocators in allocator.cpp.
#pragma once
#include <cstddef>
#include <memory>

#include "tv3s/dtype.h"

namespace tv3s {

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;  // the block size actually reserved (≥ requested)
  Device device = Device::CPU;

  Storage(void* p, size_t n, Device d) : ptr(p), bytes(n), device(d) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

std::shared_ptr<Storage> allocate_storage(Device device, size_t bytes);

// CPU kernels that keep per-thread scratch buffers outside the tensor allocator report
// each change of their size here (bytes, + when grown, − when freed): MemoryStats::
// scratch_bytes.
void count_cpu_scratch(std::ptrdiff_t delta_bytes);

}  // namespace tv3s
