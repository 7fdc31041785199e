// Elementwise unary math and activations: y = f(x), and the backward rule
// dx = dy · f'(x). The derivative of each op is written in terms of whichever of x or
// y makes it cheapest (e.g. exp' = y, tanh' = 1 − y²), and only that tensor is kept
// for the backward pass.
//
//   op        f(x)                                  f'  (s = the saved tensor)
//   neg       −x                                    −1            (nothing saved)
//   exp       eˣ                                    y
//   log       ln x                                  1 / x
//   sqrt      √x                                    0.5 / y
//   rsqrt     1 / √x                                −0.5 · y³
//   square    x²                                    2x
//   tanh      tanh x                                1 − y²
//   relu      max(x, 0)                             x > 0 ? 1 : 0
//   gelu      x · Φ(x),  Φ(x) = ½(1 + erf(x/√2))    Φ(x) + x · e^(−x²/2) / √(2π)
//   silu      x · σ(x) = x / (1 + e⁻ˣ)              σ(x) · (1 + x · (1 − σ(x)))
//   sigmoid   σ(x) = 1 / (1 + e⁻ˣ)                  y · (1 − y)
//   softplus  x > 20 ? x : ln(1 + eˣ)               x > 20 ? 1 : σ(x)
//
// The CPU reference computes in the storage type (f32 or f64) with libm (the activations
// from src/ops/scalar_math.h). The op runs it for everything but f32 GELU, which has a
// fast path with a vectorised erfc (src/ops/cpu/unary.cpp: libm's erff was 14 % of a
// MiT-B1 frame). The CUDA kernels (cuda/unary.cu) use the same formulas in f32 for
// f32/f16/bf16 storage.
#include "tv3s/ops/unary.h"

#include <algorithm>
#include <cmath>

#include "src/core/parallel.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/ops/cpu/unary.h"
#include "src/ops/scalar_math.h"
#include "src/ops/unary.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/cast.h"
#include "cuda/unary.h"

namespace tv3s {
namespace {

constexpr int64_t kParallelMin = 32768;  // below this, OpenMP start-up costs more than it saves

// out[i] = f(x[i]) for every i.
template <class T, class F>
void map(const T* x, T* out, int64_t n, F f) {
  parallel_for(n, n > kParallelMin, [&](int64_t i) {
    out[i] = f(x[i]);
  });
}

// out[i] = f(a[i], b[i]) for every i.
template <class T, class F>
void map2(const T* a, const T* b, T* out, int64_t n, F f) {
  parallel_for(n, n > kParallelMin, [&](int64_t i) {
    out[i] = f(a[i], b[i]);
  });
}

constexpr double kInvSqrt2 = 0.70710678118654752440;    // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/√(2π)

template <class T>
void forward_cpu(UnaryOp op, const T* x, T* y, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return map(x, y, n, [](T v) { return -v; });
    case UnaryOp::exp: return map(x, y, n, [](T v) { return std::exp(v); });
    case UnaryOp::log: return map(x, y, n, [](T v) { return std::log(v); });
    case UnaryOp::sqrt: return map(x, y, n, [](T v) { return std::sqrt(v); });
    case UnaryOp::rsqrt: return map(x, y, n, [](T v) { return T(1) / std::sqrt(v); });
    case UnaryOp::square: return map(x, y, n, [](T v) { return v * v; });
    case UnaryOp::tanh: return map(x, y, n, [](T v) { return std::tanh(v); });
    case UnaryOp::relu: return map(x, y, n, [](T v) { return v > T(0) ? v : T(0); });
    case UnaryOp::gelu:
      return map(x, y, n, [](T v) { return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2))); });
    case UnaryOp::silu: return map(x, y, n, [](T v) { return ops::silu(v); });
    case UnaryOp::sigmoid: return map(x, y, n, [](T v) { return ops::sigmoid(v); });
    case UnaryOp::softplus: return map(x, y, n, [](T v) { return ops::softplus(v); });
  }
}

// grad_in[i] = grad_out[i] · f'(s[i]), s = saved x or y (see the table above).
template <class T>
void backward_cpu(UnaryOp op, const T* s, const T* g, T* gx, int64_t n) {
  switch (op) {
    case UnaryOp::neg: return map2(s, g, gx, n, [](T, T d) { return -d; });
    case UnaryOp::exp: return map2(s, g, gx, n, [](T y, T d) { return d * y; });
    case UnaryOp::log: return map2(s, g, gx, n, [](T x, T d) { return d / x; });
    case UnaryOp::sqrt: return map2(s, g, gx, n, [](T y, T d) { return d * T(0.5) / y; });
    case UnaryOp::rsqrt:
      return map2(s, g, gx, n, [](T y, T d) { return d * T(-0.5) * y * y * y; });
    case UnaryOp::square: return map2(s, g, gx, n, [](T x, T d) { return d * T(2) * x; });
    case UnaryOp::tanh: return map2(s, g, gx, n, [](T y, T d) { return d * (T(1) - y * y); });
    case UnaryOp::relu: return map2(s, g, gx, n, [](T x, T d) { return x > T(0) ? d : T(0); });
    case UnaryOp::gelu:
      return map2(s, g, gx, n, [](T x, T d) {
        const T cdf = T(0.5) * (T(1) + std::erf(x * T(kInvSqrt2)));
        const T pdf = std::exp(T(-0.5) * x * x) * T(kInvSqrt2Pi);
        return d * (cdf + x * pdf);
      });
    case UnaryOp::silu: return map2(s, g, gx, n, [](T x, T d) { return d * ops::silu_grad(x); });
    case UnaryOp::sigmoid: return map2(s, g, gx, n, [](T y, T d) { return d * y * (T(1) - y); });
    case UnaryOp::softplus:
      return map2(s, g, gx, n, [](T x, T d) { return d * ops::softplus_grad(x); });
  }
}

// Which tensor the backward rule needs: the output y (true) or the input x (false).
// cuda/unary.cu writes each derivative in terms of the same tensor.
bool saves_output(UnaryOp op) {
  switch (op) {
    case UnaryOp::exp:
    case UnaryOp::sqrt:
    case UnaryOp::rsqrt:
    case UnaryOp::tanh:
    case UnaryOp::sigmoid: return true;
    default: return false;
  }
}

// d(loss)/dx from d(loss)/dy. Runs inside backward (grad mode off), records nothing.
Tensor unary_backward(UnaryOp op, const Tensor& saved, const Tensor& grad_out) {
  const char* name = unary_op_name(op);
  // The engine hands over gradients in the output's dtype; cast defensively so a
  // mixed-dtype graph cannot reach a kernel with two storage types.
  const Tensor g = grad_out.dtype() == saved.dtype() ? grad_out : cast(grad_out, saved.dtype());
  check_same_device(name, saved, g);
  check_same_shape(name, saved, g);
  Tensor grad_in = Tensor::empty(saved.shape(), saved.dtype(), saved.device());
  if (saved.is_cuda()) {
    TV3S_ON_CUDA(cuda::unary_backward(op, saved, g, grad_in));
  } else {
    dispatch_cpu_float(name, saved, [&](auto tag) {
      using T = decltype(tag);
      backward_cpu<T>(op, saved.data<T>(), g.data<T>(), grad_in.data<T>(), saved.numel());
    });
  }
  return grad_in;
}

}  // namespace

void unary_reference(UnaryOp op, const Tensor& x, Tensor& y) {
  dispatch_cpu_float(unary_op_name(op), x, [&](auto tag) {
    using T = decltype(tag);
    forward_cpu<T>(op, x.data<T>(), y.data<T>(), x.numel());
  });
}

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::neg: return "neg";
    case UnaryOp::exp: return "exp";
    case UnaryOp::log: return "log";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::rsqrt: return "rsqrt";
    case UnaryOp::square: return "square";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::relu: return "relu";
    case UnaryOp::gelu: return "gelu";
    case UnaryOp::silu: return "silu";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::softplus: return "softplus";
  }
  return "unary";
}

Tensor unary(UnaryOp op, const Tensor& x) {
  const char* name = unary_op_name(op);
  check_compute_dtype(name, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    TV3S_ON_CUDA(cuda::unary_forward(op, x, out));
  } else {
    if (op == UnaryOp::gelu && x.dtype() == DType::f32) {
      cpu::gelu_f32(x.data<float>(), out.data<float>(), x.numel());
    } else {
      unary_reference(op, x, out);
    }
  }
  if (autograd::needs_grad(x)) {
    if (op == UnaryOp::neg) {  // f' = −1 needs no saved tensor
      autograd::record(name, out, {x}, [](const Tensor& g) { return std::vector<Tensor>{neg(g)}; });
    } else {
      const Tensor saved = saves_output(op) ? out.detach() : x.detach();
      autograd::record(name, out, {x}, [op, saved](const Tensor& g) {
        return std::vector<Tensor>{unary_backward(op, saved, g)};
      });
    }
  }
  return out;
}

}  // namespace tv3s
