// The scalar activations the CPU ops share, each written once (f32 and f64 through the
// template; the CUDA twin is cuda/scalar_math.cuh). Formulas as PyTorch's:
//   sigmoid(v)       = 1 / (1 + e^−v)
//   silu(v)          = v·σ(v) = v / (1 + e^−v)
//   silu_grad(v)     = σ(v)·(1 + v·(1 − σ(v)))
//   softplus(v)      = ln(1 + e^v), v itself when v > 20 (ln(1 + e^v) − v < 2e-9 there)
//   softplus_grad(v) = σ(v), 1 when v > 20
// The 8-lane f32 versions used by the fast CPU paths are in src/ops/cpu/simd.h.
#pragma once
#include <cmath>

namespace tv3s::ops {

constexpr double kSoftplusThreshold = 20;

template <class T>
inline T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}

template <class T>
inline T silu(T v) {
  return v / (T(1) + std::exp(-v));
}

template <class T>
inline T silu_grad(T v) {
  const T s = sigmoid(v);
  return s * (T(1) + v * (T(1) - s));
}

template <class T>
inline T softplus(T v) {
  return v > T(kSoftplusThreshold) ? v : std::log1p(std::exp(v));
}

template <class T>
inline T softplus_grad(T v) {
  return v > T(kSoftplusThreshold) ? T(1) : sigmoid(v);
}

}  // namespace tv3s::ops
