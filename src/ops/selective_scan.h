// The plain-loop CPU reference of the selective scan (the math is at the top of
// src/ops/selective_scan.cpp), for the tests of the fast CPU path (src/ops/cpu/) and of
// the op. Same arguments and results as cpu::selective_scan_forward/_backward and the
// CUDA launchers; f32 and f64, any sizes.
#pragma once
#include "cuda/selective_scan.h"

namespace tv3s {

// y [B, L, D] and final_state [B, D, N], allocated by the caller.
void selective_scan_reference_forward(const ScanInputs& in, Tensor& y, Tensor& final_state);

// Fills the defined tensors of `grads` from dy and dfinal (either may be undefined: zero).
void selective_scan_reference_backward(const ScanInputs& in, const Tensor& dy,
                                       const Tensor& dfinal, ScanGrads& grads);

}  // namespace tv3s
