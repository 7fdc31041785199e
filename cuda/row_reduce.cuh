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

namespace tv3s::cuda {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

template <class T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}

// Sum over the block; every thread gets the total.
template <class T>
__device__ T block_sum(T v) {
  __shared__ T warp_totals[kWarpSize];
  __shared__ T total;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_sum(v);
  if (lane == 0) warp_totals[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + kWarpSize - 1) / kWarpSize;
    v = warp_sum(lane < warps ? warp_totals[lane] : T(0));
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}

// Max over the block; every thread gets it.
__device__ inline float block_max(float v) {
  __shared__ float warp_maxima[kWarpSize];
  __shared__ float result;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  v = warp_max(v);
  if (lane == 0) warp_maxima[warp] = v;
  __syncthreads();
  if (warp == 0) {
    const int warps = (blockDim.x + kWarpSize - 1) / kWarpSize;
    v = warp_max(lane < warps ? warp_maxima[lane] : -INFINITY);
    if (lane == 0) result = v;
  }
  __syncthreads();
  return result;
}

}  // namespace tv3s::cuda
