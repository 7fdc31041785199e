// CUDA launchers of the attention family (kernels in cuda/attention.cu). q [N, L, H·D],
// k and v [N, S, H·D], o and the gradients of q's/k's shapes, all one dtype (f32/f16/bf16).
// lse is f32 [N, H, L]: log Σ_s exp(scale·q·k) per query row (natural log), written by the
// forward and read by the backward.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s::cuda {

// The largest head size D the kernels support (their register and shared-memory tiles
// are sized for D ≤ 32, 64 or 128).
constexpr int64_t kAttentionMaxHeadDim = 128;

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                       double scale, Tensor& o, Tensor& lse);
// dout has q's dtype; dq, dk, dv are written in full.
void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                        const Tensor& lse, const Tensor& dout, int64_t heads, double scale,
                        Tensor& dq, Tensor& dk, Tensor& dv);

}  // namespace tv3s::cuda
