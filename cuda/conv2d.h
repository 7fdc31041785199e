// The geometry of an im2col and the CUDA launchers of the conv2d family (kernels in
// cuda/conv2d.cu; CPU reference and the ops in src/ops/conv2d.cpp).
//
//   cols[n, oy, ox, (ky·kw + kx)·C + c] = x[n, oy·sh − ph + ky, ox·sw − pw + kx, c]
//   (zero where the row or column falls outside x)
#pragma once
#include <cstdint>

#include "tv3s/tensor.h"

namespace tv3s {

struct Im2colGeometry {
  int64_t N = 0, H = 0, W = 0, C = 0;  // x [N, H, W, C]
  int64_t kh = 1, kw = 1;              // kernel
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;        // zeros on both sides
  int64_t Ho = 0, Wo = 0;              // cols [N, Ho, Wo, kh·kw·C]

  // constexpr: callable from kernels too (the build passes --expt-relaxed-constexpr).
  constexpr int64_t patch_size() const { return kh * kw * C; }
};

namespace cuda {

// cols = im2col(x); x and cols share a dtype (f32/f16/bf16).
void im2col(const Tensor& x, const Im2colGeometry& g, Tensor& cols);
// dx = col2im(dcols): each element of x gathers the patch entries that copied it.
void col2im(const Tensor& dcols, const Im2colGeometry& g, Tensor& dx);

}  // namespace cuda
}  // namespace tv3s
