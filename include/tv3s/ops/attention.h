// Scaled dot-product attention, all heads at once.
// Math and CPU reference: src/ops/attention.cpp; CUDA: cuda/attention.cu (a fused,
// flash-attention style kernel: the [L, S] score matrix never exists in global memory).
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

// q [N, L, H·D], k and v [N, S, H·D]; channel h·D + i belongs to head h (a Linear's output
// split into heads, as MiT's attention does). For every n, head h and query l:
//   o[n, l, h·D + :] = Σ_s softmax_s(scale · q[n,l,h]·k[n,s,h]) · v[n, s, h·D + :]
// Result [N, L, H·D]. Softmax in f32 (f64 for f64 inputs). Needs S ≥ 1; on CUDA, D ≤ 128.
// Differentiable in q, k and v; the backward recomputes the weights from one saved
// log-sum-exp per query row, so training memory stays O(L), not O(L·S).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, double scale);

}  // namespace tv3s
