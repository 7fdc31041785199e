// parallel_for: the one place the CPU reference decides whether to use threads.
// Waking an OpenMP team costs ~0.4 µs even when an `if` clause turns it down (measured:
// 365 ns per `#pragma omp parallel for if (false)` on 256 floats vs 25 ns for the plain
// loop), which would dominate the many small ops of a streaming frame. So small loops
// run as plain loops and only loops worth it open a parallel region.
#pragma once
#include <cstdint>

namespace tv3s {

// Calls body(i) for i in [0, n): across OpenMP threads when `worth_threads`, else serially.
template <class F>
inline void parallel_for(int64_t n, bool worth_threads, F&& body) {
  if (!worth_threads) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) body(i);
}

}  // namespace tv3s
