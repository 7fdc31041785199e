// CUDA launchers of causal_conv1d (kernels in cuda/causal_conv1d.cu; the math and the CPU
// reference in src/ops/causal_conv1d.cpp). Shapes are read from the tensors:
//   x [B, L, D] channels-last, weight [D, 1, K], bias [D] or undefined,
//   initial_state [B, K−1, D] or undefined (zeros), y [B, L, D], final_state [B, K−1, D],
// all in one dtype (f32/f16/bf16), arithmetic in f32.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s::cuda {

// The widest kernel the CUDA path takes: each thread keeps its channel's K taps (and, in
// the dweight reduction, K partial sums) in registers. Mamba's d_conv is 4.
constexpr int64_t kCausalConv1dMaxTaps = 8;

// y = [SiLU](bias + causal correlation of [initial_state ; x] with weight);
// final_state = the last K − 1 rows of [initial_state ; x].
void causal_conv1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Tensor& initial_state, bool silu, Tensor& y,
                           Tensor& final_state);

// Backward of y for a cotangent dy (x's dtype). First the gradient at the convolution's
// output, g = dy · SiLU'(pre) (pre recomputed; g = dy without silu), into an f32 buffer;
// then each of dx [B, L, D], dinitial_state [B, K−1, D], dweight [D, 1, K] and
// dbias [D] that is defined.
void causal_conv1d_backward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Tensor& initial_state, bool silu, const Tensor& dy, Tensor& dx,
                            Tensor& dweight, Tensor& dbias, Tensor& dinitial_state);

// Backward of final_state for a cotangent dstate [B, K−1, D] (x's dtype) of a call with
// sequence length L: scatters it to the rows of dx [B, L, D] / dinitial_state (each when
// defined) it was copied from. Both must arrive zero-filled: only those rows are written.
void causal_conv1d_state_backward(const Tensor& dstate, int64_t L, Tensor& dx,
                                  Tensor& dinitial_state);

}  // namespace tv3s::cuda
