// CUDA launchers of the binary family (kernels in cuda/binary.cu).
#pragma once
#include "tv3s/ops/binary.h"

namespace tv3s::cuda {
void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out);  // out may alias a
void affine(const Tensor& x, double scale, double shift, Tensor& out);
}  // namespace tv3s::cuda
