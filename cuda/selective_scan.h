// The arguments of one selective scan and its CUDA launchers (kernels in
// cuda/selective_scan.cu; the math, the CPU reference and the op in
// src/ops/selective_scan.cpp).
//
//   h[t] = exp(Δ[t]·A) ⊙ h[t−1] + Δ[t]·u[t]·B[t],   y[t] = C[t]·h[t] + D·u[t]   (per b, d)
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

// The inputs of one scan, as the op received them (optional ones undefined). Shapes:
// u, delta, z [B, L, D]; A [D, N]; B, C [B, L, N]; D, delta_bias [D]; initial_state
// [B, D, N]. All contiguous, one device; u, delta, B, C, z in one dtype, A, D, delta_bias
// and initial_state in f32 (f64 for f64 u) — checked by the op.
struct ScanInputs {
  Tensor u, delta, A, B, C, D, z, delta_bias, initial_state;
  bool delta_softplus = true;

  int64_t batch() const { return u.size(0); }
  int64_t length() const { return u.size(1); }
  int64_t channels() const { return u.size(2); }
  int64_t states() const { return A.size(1); }
};

// Gradients of the scan inputs, one per ScanInputs tensor. The caller allocates the ones
// it wants (right shape, each its input's dtype and device) and leaves the rest undefined;
// the backward fills every element of each defined one.
struct ScanGrads {
  Tensor u, delta, A, B, C, D, z, delta_bias, initial_state;
};

namespace cuda {

// The CUDA kernels keep a channel's states in registers / one warp lane per state.
constexpr int64_t kScanMaxStates = 32;

// y [B, L, D] in u's dtype (f32/f16/bf16) and final_state [B, D, N] in f32.
// Needs L ≥ 1, B·D ≥ 1 and N ≤ kScanMaxStates.
void selective_scan_forward(const ScanInputs& in, Tensor& y, Tensor& final_state);

// Fills the defined tensors of `grads` from the cotangent dy of y (or undefined: zero)
// and dfinal of final_state (or undefined: zero). Same preconditions as the forward.
void selective_scan_backward(const ScanInputs& in, const Tensor& dy, const Tensor& dfinal,
                             ScanGrads& grads);

}  // namespace cuda
}  // namespace tv3s
