// Convolutions on channels-last maps.
//
// tv3s keeps every feature map as [N, H, W, C]: the token layout of the transformer, so
// a map and its token sequence [N, H·W, C] are the same tensor a reshape apart, and no
// transpose is needed between a Linear and a convolution. Weights keep PyTorch's layout
// [Cout, Cin/groups, kh, kw], so checkpoint tensors load unchanged.
//
// Output size per axis, as PyTorch: out = floor((in + 2·pad − k) / stride) + 1.
//
// Math and CPU reference: src/ops/conv2d.cpp and src/ops/depthwise_conv2d.cpp;
// CUDA: cuda/conv2d.cu and cuda/depthwise_conv2d.cu.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;  // zeros on both sides
};

// Patches as rows: x [N, H, W, C] → [N, Ho, Wo, kh·kw·C]; element (ky, kx, c) of the
// patch at output (oy, ox) is x[oy·sh − ph + ky, ox·sw − pw + kx, c], zero outside.
// Backward: col2im (each input element sums the patch entries that copied it).
Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, const Conv2dParams& params);

// Dense convolution (groups = 1), cross-correlation as PyTorch:
// x [N, H, W, Cin], weight [Cout, Cin, kh, kw], bias [Cout] or undefined → [N, Ho, Wo, Cout].
// im2col then `linear` (1×1, stride 1, no padding: `linear` on x directly); differentiable
// in x, weight and bias through those ops.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dParams& params = {});

// Depthwise convolution (groups = C), stride 1: x [N, H, W, C], weight [C, 1, kh, kw],
// bias [C] or undefined → [N, Ho, Wo, C], Ho = H + 2·pad_h − kh + 1. Any kernel size
// and pads ≥ 0 (the CUDA kernel takes kh·kw ≤ 384). MiT's Mix-FFN uses 3×3, padding 1.
Tensor depthwise_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h,
                        int64_t pad_w);

}  // namespace tv3s
