// The three things a kernel file here writes differently from textbook CUDA, so that
// the same source runs on a GPU (nvcc) and on the CPU in the emulator (cuda/emulator/,
// -DTV3S_CUDA_EMULATOR=ON). Each is a one-to-one spelling of the CUDA it stands for:
//
//   launch<kernel>(grid, block, shared_bytes, stream, args...)
//       is kernel<<<grid, block, shared_bytes, stream>>>(args...);
//   TV3S_SHARED(float, tile, [32][33]);
//       is __shared__ float tile[32][33];   (one copy per block)
//   float* buffer = dynamic_shared<float>();
//       is extern __shared__ float buffer[];  (the launch's shared_bytes)
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <type_traits>

#if TV3S_CUDA_EMULATOR
#include "cuda/emulator/launch.h"
#include "cuda/emulator/scheduler.h"
#endif

namespace tv3s::cuda {

template <auto kernel, class... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args... args) {
#if TV3S_CUDA_EMULATOR
  emu::launch<kernel>(grid, block, shared_bytes, stream, args...);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
#endif
}

#if TV3S_CUDA_EMULATOR
// The block's copy of the declaration; the lambda's static gives each declaration (and
// each instantiation of a template kernel) its own key.
#define TV3S_SHARED(type, name, dims)                                                  \
  std::add_lvalue_reference_t<type dims> name =                                        \
      *static_cast<std::add_pointer_t<type dims>>(::tv3s::emu::static_shared(          \
      [] {                                                                             \
        static const char key = 0;                                                     \
        return &key;                                                                   \
      }(),                                                                             \
      sizeof(type dims), alignof(type), #name))

template <class T>
T* dynamic_shared() { return static_cast<T*>(emu::dynamic_shared()); }
#else
#define TV3S_SHARED(type, name, dims) __shared__ type name dims

template <class T>
__device__ __forceinline__ T* dynamic_shared() {
  extern __shared__ __align__(16) unsigned char tv3s_dynamic_shared_bytes[];
  return reinterpret_cast<T*>(tv3s_dynamic_shared_bytes);
}
#endif

}  // namespace tv3s::cuda
