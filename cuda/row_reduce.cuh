// Warp- and block-wide reductions for the row kernels (softmax, layer_norm,
// cross_entropy). A warp reduces with shuffles (butterfly: every lane ends with the
// result); a block reduces each warp, then the first warp reduces the warp results.
// The order of additions is fixed by the lane/warp numbering, so the results are the
// same bits on every run (no atomics).
//
// Block functions must be called by every thread of the block (they synchronise), with
// blockDim.x a multiple of 32 and at most 1024.
#pragma once
#include <cuda_runtime.h>

#include <cmath>

#include "cuda/device.cuh"

namespace tv3s::cuda {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

struct Sum {
  template <class T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct Max {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// Butterfly over the warp: every lane ends with op over all 32 lanes.
template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// op over the block; every thread gets the result. `identity` pads the missing warps.
// (Each <T, Op> instantiation has its own shared scratch.)
template <class T, class Op>
__device__ T block_reduce(T v, Op op, T identity) {
  TV3S_SHARED(T, warp_results, [kWarpSize]);
  TV3S_SHARED(T, result, );
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_reduce(v, op);
  if (lane == 0) warp_results[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + kWarpSize - 1) / kWarpSize;
    v = warp_reduce(lane < warps ? warp_results[lane] : identity, op);
    if (lane == 0) result = v;
  }
  __syncthreads();
  return result;
}

template <class T>
__device__ __forceinline__ T warp_sum(T v) { return warp_reduce(v, Sum{}); }
__device__ __forceinline__ float warp_max(float v) { return warp_reduce(v, Max{}); }
template <class T>
__device__ T block_sum(T v) { return block_reduce(v, Sum{}, T(0)); }
__device__ inline float block_max(float v) { return block_reduce(v, Max{}, -INFINITY); }

}  // namespace tv3s::cuda
