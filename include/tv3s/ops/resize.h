// Bilinear resize of channels-last maps with PyTorch's F.interpolate(mode='bilinear',
// align_corners=False) semantics for an explicit output size (no antialiasing):
// per axis scale = in/out, src = max(scale·(i + 0.5) − 0.5, 0), i0 = min(floor(src), in − 1),
// i1 = min(i0 + 1, in − 1), λ = src − i0, computed in f32 for f32/f16/bf16 data (f64 for
// f64) and rounded as PyTorch's CPU kernel rounds it. An axis of unchanged size is copied.
// x is f32/f64 on the CPU, f32/f16/bf16 on CUDA; differentiable in x (deterministic
// backward on both devices).
// Math and CPU reference: src/ops/resize.cpp; CUDA: cuda/resize.cu.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

// x [N, H, W, C] → [N, out_h, out_w, C]; any sizes ≥ 1, up or down, odd ones included.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);

// argmax(resize_bilinear(x, out_h, out_w), -1) — i32 [N, out_h, out_w], the first maximum
// wins — bit for bit, without storing the resized maps: class scores at a quarter of the
// frame size in, labels at the frame size out, 4 bytes per output pixel where the resized
// scores would take 4·C. Not differentiable.
Tensor resize_bilinear_argmax(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace tv3s
