// CUDA launchers of the resize_bilinear family (kernels in cuda/resize.cu). Maps are
// channels-last; the sizes come from the shapes. The caller allocates the outputs and
// handles the same-size case (a copy) itself.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
// x [N, in_h, in_w, C] → y [N, out_h, out_w, C].
void resize_bilinear_forward(const Tensor& x, Tensor& y);
// x [N, in_h, in_w, C] → labels [N, out_h, out_w] i32: argmax over C of the forward's y.
void resize_bilinear_argmax(const Tensor& x, Tensor& labels);
// dy [N, out_h, out_w, C] → dx [N, in_h, in_w, C] (same dtype), overwritten.
void resize_bilinear_backward(const Tensor& dy, Tensor& dx);
}  // namespace tv3s::cuda
