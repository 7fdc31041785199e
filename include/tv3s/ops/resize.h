// Bilinear resize of channels-last maps with PyTorch's F.interpolate(mode='bilinear',
// align_corners=False) semantics for an explicit output size (no antialiasing):
// per axis scale = in/out, src = max(scale·(i + 0.5) − 0.5, 0), i0 = floor(src),
// i1 = min(i0 + 1, in − 1), λ = src − i0.
// Math and CPU reference: src/ops/resize.cpp; CUDA: cuda/resize.cu.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

// x [N, H, W, C] → [N, out_h, out_w, C]; any sizes ≥ 1, up or down, odd ones included.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace tv3s
