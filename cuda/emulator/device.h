// The CUDA device language as host C++: what nvcc gives a kernel, for g++.
//
// In the emulator build every cuda/*.cu is compiled by the host compiler with this
// header included first (-include). The toolkit's own headers give the types (dim3,
// float2, __half, __nv_bfloat16 and their host conversions) and already define
// __global__/__device__/__host__ as nothing for a host compiler. This file adds what
// a kernel body uses: the built-in coordinates, barriers, warp shuffles, atomics and
// the intrinsics, each written as the plain C++ of its definition.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "cuda/emulator/launch.h"
#include "cuda/emulator/scheduler.h"

// ---- qualifiers ----------------------------------------------------------------------
// A bare `__shared__` would compile to a per-thread local here: refuse it, so every
// shared declaration goes through TV3S_SHARED / dynamic_shared (cuda/device.cuh).
#undef __shared__
#define __shared__ __shared___is_written_TV3S_SHARED_so_the_emulator_can_give_it_per_block_memory
#define __launch_bounds__(...)

// ---- built-in variables --------------------------------------------------------------
#define threadIdx (::tv3s::emu::coordinates().thread_idx)
#define blockIdx (::tv3s::emu::coordinates().block_idx)
#define blockDim (::tv3s::emu::coordinates().block_dim)
#define gridDim (::tv3s::emu::coordinates().grid_dim)
#define warpSize (::tv3s::emu::kWarpSize)

// ---- barriers and warp collectives (the source line travels along for messages) ------
#define __syncthreads() ::tv3s::emu::syncthreads({__FILE__, __LINE__})
#define __syncwarp(...) ::tv3s::emu::syncwarp({__FILE__, __LINE__}, ##__VA_ARGS__)
#define __shfl_sync(mask, value, lane, ...) \
  ::tv3s::emu::shuffle(::tv3s::emu::WarpOp::shfl_idx, {__FILE__, __LINE__}, mask, value, lane, ##__VA_ARGS__)
#define __shfl_up_sync(mask, value, delta, ...) \
  ::tv3s::emu::shuffle(::tv3s::emu::WarpOp::shfl_up, {__FILE__, __LINE__}, mask, value, delta, ##__VA_ARGS__)
#define __shfl_down_sync(mask, value, delta, ...) \
  ::tv3s::emu::shuffle(::tv3s::emu::WarpOp::shfl_down, {__FILE__, __LINE__}, mask, value, delta, ##__VA_ARGS__)
#define __shfl_xor_sync(mask, value, lane_mask, ...) \
  ::tv3s::emu::shuffle(::tv3s::emu::WarpOp::shfl_xor, {__FILE__, __LINE__}, mask, value, lane_mask, ##__VA_ARGS__)

namespace tv3s::emu {

inline void syncwarp(Site site, unsigned mask = 0xffffffffu) {
  warp_collective(WarpOp::sync, mask, 0, 0, kWarpSize, site);
}

template <class T>
T shuffle(WarpOp op, Site site, unsigned mask, T value, int lane_arg, int width = kWarpSize) {
  static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable_v<T>,
                "a shuffle moves at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  bits = warp_collective(op, mask, bits, lane_arg, width, site);
  std::memcpy(&value, &bits, sizeof(T));
  return value;
}

// Atomics are real host atomics: blocks run on several cores at once. Floating-point
// ones are compare-and-swap loops on the bits, as on GPUs without a native instruction.
template <class T, class F>
T atomic_update(T* address, F update) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "atomics on 4- or 8-byte words");
  using Bits = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  Bits* word = reinterpret_cast<Bits*>(address);
  Bits old_bits = __atomic_load_n(word, __ATOMIC_RELAXED), new_bits;
  T old_value;
  do {
    std::memcpy(&old_value, &old_bits, sizeof(T));
    const T new_value = update(old_value);
    std::memcpy(&new_bits, &new_value, sizeof(T));
  } while (!__atomic_compare_exchange_n(word, &old_bits, new_bits, true, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
  return old_value;
}

}  // namespace tv3s::emu

template <class T>
T atomicAdd(T* address, T value) {
  return ::tv3s::emu::atomic_update(address, [&](T old) { return T(old + value); });
}
template <class T>
T atomicSub(T* address, T value) {
  return ::tv3s::emu::atomic_update(address, [&](T old) { return T(old - value); });
}
template <class T>
T atomicMin(T* address, T value) {
  return ::tv3s::emu::atomic_update(address, [&](T old) { return value < old ? value : old; });
}
template <class T>
T atomicMax(T* address, T value) {
  return ::tv3s::emu::atomic_update(address, [&](T old) { return value > old ? value : old; });
}
template <class T>
T atomicExch(T* address, T value) {
  return ::tv3s::emu::atomic_update(address, [&](T) { return value; });
}
template <class T>
T atomicCAS(T* address, T compare, T value) {
  return ::tv3s::emu::atomic_update(address, [&](T old) { return old == compare ? value : old; });
}

// ---- intrinsics ----------------------------------------------------------------------
// The *_rn forms round once, to nearest even: exactly what one IEEE operation does on the
// host (the emulator compiles kernels with -ffp-contract=off, so nothing fuses them).
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return sqrtf(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __fma_rn(double a, double b, double c) { return fma(a, b, c); }
// The fast approximations: the host's accurate functions (a GPU's differ in the last
// bits; see the README on what only a GPU can tell).
inline float __expf(float a) { return expf(a); }
inline float __logf(float a) { return logf(a); }
inline float __powf(float a, float b) { return powf(a, b); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float a) { return a < 0.f ? 0.f : (a > 1.f ? 1.f : (a == a ? a : 0.f)); }
inline float rsqrtf(float a) { return 1.0f / sqrtf(a); }
inline int __float2int_rn(float a) { return int(nearbyintf(a)); }
inline int __float2int_rz(float a) { return int(a); }
inline float __int_as_float(int a) { float f; std::memcpy(&f, &a, 4); return f; }
inline int __float_as_int(float a) { int i; std::memcpy(&i, &a, 4); return i; }
inline float __uint_as_float(unsigned a) { float f; std::memcpy(&f, &a, 4); return f; }
inline unsigned __float_as_uint(float a) { unsigned u; std::memcpy(&u, &a, 4); return u; }
inline int __popc(unsigned a) { return __builtin_popcount(a); }
inline int __clz(int a) { return a == 0 ? 32 : __builtin_clz(unsigned(a)); }
inline int __ffs(int a) { return __builtin_ffs(a); }
template <class T>
T __ldg(const T* p) { return *p; }

// CUDA's integer and float min/max overloads (a host compiler has only std::min/max).
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
std::common_type_t<A, B> min(A a, B b) { return b < a ? b : a; }
template <class A, class B, class = std::enable_if_t<std::is_arithmetic_v<A> && std::is_arithmetic_v<B>>>
std::common_type_t<A, B> max(A a, B b) { return a < b ? b : a; }
