// The autocast path of the matrix-product ops (see tv3s/autocast.h): linear, matmul and
// conv2d call these first when autocast_applies(...) — f32 operands inside a scope.
#pragma once
#include "tv3s/autocast.h"
#include "tv3s/ops/conv.h"

namespace tv3s::autocast {

bool applies(const Tensor& x);  // a 16-bit scope is active and x is f32

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params);

}  // namespace tv3s::autocast
