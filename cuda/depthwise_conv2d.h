// The geometry of a stride-1 depthwise convolution and its CUDA launchers (kernels in
// cuda/depthwise_conv2d.cu; CPU reference and the op in src/ops/depthwise_conv2d.cpp).
//
//   y[n, oy, ox, c] = b[c] + Σ_{ky, kx} x[n, oy − ph + ky, ox − pw + kx, c] · w[c, ky, kx]
//
// The pads are signed: the input gradient runs the same correlation over dy with the
// kernel rotated by 180° and pads k − 1 − p, which are negative (a crop) when p ≥ k.
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

struct DepthwiseGeometry {
  int64_t N = 0, H = 0, W = 0, C = 0;  // input [N, H, W, C]
  int64_t kh = 1, kw = 1;              // kernel: weight [C, 1, kh, kw]
  int64_t pad_h = 0, pad_w = 0;        // signed, see above
  int64_t Ho = 0, Wo = 0;              // output [N, Ho, Wo, C], Ho = H + 2·pad_h − kh + 1

  // constexpr: callable from kernels too (the build passes --expt-relaxed-constexpr).
  constexpr int64_t taps() const { return kh * kw; }
  // The geometry of the input gradient: dy [N, Ho, Wo, C] → dx [N, H, W, C].
  constexpr DepthwiseGeometry transposed() const {
    return {N, Ho, Wo, C, kh, kw, kh - 1 - pad_h, kw - 1 - pad_w, H, W};
  }
};

namespace cuda {

// The largest kh·kw the forward kernel takes (its weight tile lives in shared memory).
constexpr int64_t kDepthwiseMaxTaps = 384;

// y = correlation of x with weight [+ bias]; `flip_kernel` rotates the kernel by 180°.
// bias may be undefined. All tensors share x's dtype (f32/f16/bf16).
void depthwise_conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              const DepthwiseGeometry& g, bool flip_kernel, Tensor& y);
// dweight [C, 1, kh, kw] and dbias [C], each only when defined: sums over N·Ho·Wo.
void depthwise_conv2d_param_grads(const Tensor& x, const Tensor& dy, const DepthwiseGeometry& g,
                                  Tensor& dweight, Tensor& dbias);

}  // namespace cuda
}  // namespace tv3s
