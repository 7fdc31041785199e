// The plain-loop CPU reference of the unary ops (src/ops/unary.cpp), for the tests of the
// fast path (src/ops/cpu/unary.cpp) and of the op.
#pragma once
#include "tv3s/ops/unary.h"

namespace tv3s {

// y = f(x) elementwise, in x's dtype (f32 or f64); y is allocated by the caller.
void unary_reference(UnaryOp op, const Tensor& x, Tensor& y);

}  // namespace tv3s
