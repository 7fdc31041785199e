// Causal depthwise 1-D convolution over a sequence, channels-last, with a carried state:
// Mamba's conv1d (kernel d_conv = 4, padding d_conv − 1, output cut to L) as
// causal_conv1d_fn computes it, continued across chunks.
//
// With x̂ = [initial_state ; x] along the sequence (K − 1 + L rows; zeros when the state
// is undefined):
//   y[b,t,d] = bias[d] + Σ_{k=0..K−1} w[d,0,k] · x̂[b, t + k, d]   (= x at t − (K−1) + k)
//   y        = SiLU(y)                                            (when silu)
//   final_state[b] = the last K − 1 rows of x̂                     [B, K−1, D]
// So the state is the K − 1 pre-convolution inputs before the next chunk, exactly what
// Mamba's streaming `conv_state` keeps (it stores K taps and discards the oldest).
//
// Math and CPU reference: src/ops/causal_conv1d.cpp; CUDA: cuda/causal_conv1d.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

struct CausalConv1dResult {
  Tensor y;            // [B, L, D]
  Tensor final_state;  // [B, K−1, D]
};

// x [B, L, D]; weight [D, 1, K] (PyTorch's depthwise Conv1d layout, Mamba's conv1d.weight);
// bias [D] or undefined; initial_state [B, K−1, D] or undefined (zeros). One dtype and
// device for all (f32/f64 on CPU; f32/f16/bf16 on CUDA, where K ≤ 8). Differentiable in x,
// weight, bias and initial_state; both outputs carry gradients (final_state's only to x and
// initial_state, the tensors it is copied from).
CausalConv1dResult causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const Tensor& initial_state, bool silu);

}  // namespace tv3s
