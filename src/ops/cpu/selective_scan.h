// The fast CPU selective scan (src/ops/cpu/selective_scan.cpp): the same arguments and
// results as the plain-loop reference (src/ops/selective_scan.h) and the CUDA launchers
// (cuda/selective_scan.h). f32 and f64; needs L ≥ 1 and B·D ≥ 1.
#pragma once
#include "cuda/selective_scan.h"

namespace tv3s::cpu {

// y [B, L, D] and final_state [B, D, N], allocated by the caller.
void selective_scan_forward(const ScanInputs& in, Tensor& y, Tensor& final_state);

// Fills the defined tensors of `grads` from dy and dfinal (either may be undefined: zero).
void selective_scan_backward(const ScanInputs& in, const Tensor& dy, const Tensor& dfinal,
                             ScanGrads& grads);

}  // namespace tv3s::cpu
