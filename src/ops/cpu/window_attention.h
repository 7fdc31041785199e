// The fast CPU window_attention (src/ops/cpu/window_attention.cpp): the same arguments and
// results as the plain-loop reference (src/ops/window_attention.h) and the CUDA launchers
// (cuda/window_attention.h). f32 and f64; contiguous CPU tensors of one dtype, geometry
// checked by the op (window_attention_dims).
#pragma once

#include "tv3s/ops/window_attention.h"

namespace tv3s::cpu {

// out [N, H, W, C], written in full.
void window_attention_forward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                              const WindowAttentionDims& d, double scale, Tensor& out);
// dout has qkv's dtype; dqkv [N, H, W, 3C], dpad [3C], dtable [(2w−1)², heads] are written
// in full, and are the same bits for any number of threads.
void window_attention_backward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                               const Tensor& dout, const WindowAttentionDims& d, double scale,
                               Tensor& dqkv, Tensor& dpad, Tensor& dtable);

}  // namespace tv3s::cpu
