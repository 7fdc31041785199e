// CUDA launchers of window_attention (kernels in cuda/window_attention.cu; the math, the
// CPU reference and the op in src/ops/window_attention.cpp). Same arguments and results as
// the reference (src/ops/window_attention.h): qkv [N, H, W, 3C], pad_qkv [3C],
// bias_table [(2w−1)², heads], out [N, H, W, C], all one dtype (f32/f16/bf16), on the GPU.
#pragma once
#include <cstdint>

#include "tv3s/ops/window_attention.h"

namespace tv3s::cuda {

// Whether the kernels take these sizes (their shared-memory tiles hold one window's keys
// and values); the op refuses others with an error naming the limit.
bool window_attention_supported(const WindowAttentionDims& d);

void window_attention_forward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                              const WindowAttentionDims& d, double scale, Tensor& out);
// dout has qkv's dtype; dqkv, dpad and dtable are written in full.
void window_attention_backward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                               const Tensor& dout, const WindowAttentionDims& d, double scale,
                               Tensor& dqkv, Tensor& dpad, Tensor& dtable);

}  // namespace tv3s::cuda
