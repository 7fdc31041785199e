// A CPU kernel's per-thread scratch buffer, kept between calls (no allocation in the
// steady state of a frame loop): a std::vector whose capacity is reported to the memory
// accounting (MemoryStats::scratch_bytes), so a memory budget sees it.
#pragma once
#include <cstddef>
#include <vector>

#include "src/core/storage.h"

namespace tv3s {

template <class T>
class ScratchVector {
 public:
  ScratchVector() = default;
  ScratchVector(const ScratchVector&) = delete;
  ScratchVector& operator=(const ScratchVector&) = delete;
  ~ScratchVector() { count_cpu_scratch(-bytes()); }

  void resize(size_t n) {
    const std::ptrdiff_t before = bytes();
    values_.resize(n);
    count_cpu_scratch(bytes() - before);
  }
  T* data() { return values_.data(); }
  size_t size() const { return values_.size(); }
  T& operator[](size_t i) { return values_[i]; }

 private:
  std::ptrdiff_t bytes() const { return std::ptrdiff_t(values_.capacity() * sizeof(T)); }
  std::vector<T> values_;
};

}  // namespace tv3s
