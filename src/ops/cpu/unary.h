// The fast CPU path of the unary ops (src/ops/cpu/unary.cpp); the reference is
// unary_reference (src/ops/unary.h).
#pragma once
#include <cstdint>

namespace tv3s::cpu {

// y[i] = GELU(x[i]) = x·Φ(x) for i < n, vectorised (abs error ≈ 2e-7·|x|).
void gelu_f32(const float* x, float* y, int64_t n);

}  // namespace tv3s::cpu
