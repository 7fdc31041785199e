// Scalar activations and their derivatives shared by the CUDA kernels (the CPU twins, same
// names and formulas, are in src/ops/). f32, with the full-accuracy expf/log1pf: no
// fast-math intrinsics (__expf's error grows with |x|).
#pragma once
#include <cuda_runtime.h>

#include <cmath>

namespace tv3s::cuda {

constexpr float kSoftplusThreshold = 20.f;  // PyTorch's: above it, ln(1 + eˣ) = x in f32

__device__ __forceinline__ float sigmoid(float v) { return 1.f / (1.f + expf(-v)); }

// v · σ(v). (The unary silu op keeps its own v / (1 + e⁻ᵛ), as src/ops/unary.cpp.)
__device__ __forceinline__ float silu(float v) { return v * sigmoid(v); }

// d silu / dv = σ(v) · (1 + v · (1 − σ(v))).
__device__ __forceinline__ float silu_grad(float v) {
  const float s = sigmoid(v);
  return s * (1.f + v * (1.f - s));
}

__device__ __forceinline__ float softplus(float v) {
  return v > kSoftplusThreshold ? v : log1pf(expf(v));
}

// d softplus / dv = σ(v) (1 above the threshold, where softplus is v).
__device__ __forceinline__ float softplus_grad(float v) {
  return v > kSoftplusThreshold ? 1.f : sigmoid(v);
}

}  // namespace tv3s::cuda
