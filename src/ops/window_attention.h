// The plain-loop CPU reference of window_attention (the math: tv3s/ops/window_attention.h
// and the top of src/ops/window_attention.cpp), for the tests of the fast CPU path
// (src/ops/cpu/window_attention.cpp) and of the CUDA kernels (cuda/window_attention.cu).
// Same arguments as the op; f32 and f64. No autograd: plain functions on contiguous CPU
// tensors, outputs allocated by the caller.
#pragma once
#include <cstdint>

#include "tv3s/ops/window_attention.h"

namespace tv3s {

// out [N, H, W, C].
void window_attention_reference_forward(const Tensor& qkv, const Tensor& pad_qkv,
                                        const Tensor& bias_table, const WindowAttentionDims& d,
                                        double scale, Tensor& out);
// dout [N, H, W, C] → dqkv [N, H, W, 3C], dpad [3C], dtable [(2w−1)², heads], written in full.
void window_attention_reference_backward(const Tensor& qkv, const Tensor& pad_qkv,
                                         const Tensor& bias_table, const Tensor& dout,
                                         const WindowAttentionDims& d, double scale,
                                         Tensor& dqkv, Tensor& dpad, Tensor& dtable);

}  // namespace tv3s
