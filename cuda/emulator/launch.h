// A kernel launch in the emulator: what `kernel<<<grid, block, shared, stream>>>(args)`
// does, as a function. cuda/device.cuh's launch() calls this in the emulator build.
//
// Before any thread runs: the configuration is checked against what a GPU accepts (a
// refused launch sets the error cudaGetLastError() returns, as on a GPU), and every
// pointer argument must point into live device memory (or be null): a host or freed
// pointer would fault on the GPU the moment a thread used it.
#pragma once
#include <cuda_runtime.h>

#include <string>
#include <type_traits>

#include "cuda/emulator/scheduler.h"

namespace tv3s::emu {

// The kernel's name, "tv3s::cuda::layer_norm_forward_kernel<float>", from the compiler's
// own spelling of kernel_name<kernel>'s template argument.
std::string parse_kernel_name(const char* pretty_function);
template <auto kernel>
const char* kernel_name() {
  static const std::string name = parse_kernel_name(__PRETTY_FUNCTION__);
  return name.c_str();
}

// Checks the configuration and runs the grid; records the error of a refused launch.
void launch_grid(const Launch& launch, const void* kernel_key, cudaStream_t stream);
// Faults when argument `index` of `kernel` is a pointer a GPU thread could not use.
void check_pointer_argument(const char* kernel, int index, const void* pointer);

template <auto kernel, class... Args>
void launch(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, Args... args) {
  const char* name = kernel_name<kernel>();
  int index = 0;
  (
      [&](const auto& arg) {
        if constexpr (std::is_pointer_v<std::decay_t<decltype(arg)>>)
          check_pointer_argument(name, index, static_cast<const void*>(arg));
        ++index;
      }(args),
      ...);
  // Every emulated thread calls the kernel with its own copy of the arguments.
  const auto body = [&] { kernel(args...); };
  const Launch l{name, grid, block, shared_bytes,
                 [](const void* context) { (*static_cast<decltype(&body)>(context))(); }, &body};
  launch_grid(l, reinterpret_cast<const void*>(kernel), stream);
}

}  // namespace tv3s::emu
