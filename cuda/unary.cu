// Elementwise unary math and activations on the GPU: y = f(x) and dx = dy · f'(s), with
// the formulas of src/ops/unary.cpp evaluated in f32 whatever the storage type.
//
// Parallelisation: a grid-stride loop over 16-byte packs (4 floats or 8 halves per
// load and store), which is what a memory-bound elementwise op needs to reach full
// bandwidth; the last n mod 8 elements are done one by one. Tensors that are views at
// an offset may not be 16-byte aligned: they take the same kernel with one-element packs.
#include "cuda/common.cuh"
#include "cuda/scalar_math.cuh"
#include "cuda/unary.h"

namespace tv3s::cuda {
namespace {

// --- the math: forward f(x) and backward d · f'(s); s is x or y as in unary.cpp ----------
constexpr float kInvSqrt2 = 0.70710678118654752440f;    // 1/√2
constexpr float kInvSqrt2Pi = 0.39894228040143267794f;  // 1/√(2π)

struct Neg {  // s unused
  static __device__ float forward(float x) { return -x; }
  static __device__ float backward(float, float d) { return -d; }
};
struct Exp {  // s = y
  static __device__ float forward(float x) { return expf(x); }
  static __device__ float backward(float y, float d) { return d * y; }
};
struct Log {  // s = x
  static __device__ float forward(float x) { return logf(x); }
  static __device__ float backward(float x, float d) { return d / x; }
};
struct Sqrt {  // s = y
  static __device__ float forward(float x) { return sqrtf(x); }
  static __device__ float backward(float y, float d) { return d * 0.5f / y; }
};
struct Rsqrt {  // s = y
  static __device__ float forward(float x) { return rsqrtf(x); }
  static __device__ float backward(float y, float d) { return d * -0.5f * y * y * y; }
};
struct Square {  // s = x
  static __device__ float forward(float x) { return x * x; }
  static __device__ float backward(float x, float d) { return d * 2.f * x; }
};
struct Tanh {  // s = y
  static __device__ float forward(float x) { return tanhf(x); }
  static __device__ float backward(float y, float d) { return d * (1.f - y * y); }
};
struct Relu {  // s = x
  static __device__ float forward(float x) { return x > 0.f ? x : 0.f; }
  static __device__ float backward(float x, float d) { return x > 0.f ? d : 0.f; }
};
struct Gelu {  // s = x
  static __device__ float forward(float x) { return 0.5f * x * (1.f + erff(x * kInvSqrt2)); }
  static __device__ float backward(float x, float d) {
    const float cdf = 0.5f * (1.f + erff(x * kInvSqrt2));
    const float pdf = expf(-0.5f * x * x) * kInvSqrt2Pi;
    return d * (cdf + x * pdf);
  }
};
// Silu keeps unary.cpp's x / (1 + e⁻ˣ) and (d · σ) · (…): the same values as silu(x) and
// d · silu_grad(x) (scalar_math.cuh), rounded in this op's order, so its bits stay the same.
struct Silu {  // s = x
  static __device__ float forward(float x) { return x / (1.f + expf(-x)); }
  static __device__ float backward(float x, float d) {
    const float sig = sigmoid(x);
    return d * sig * (1.f + x * (1.f - sig));
  }
};
struct Sigmoid {  // s = y
  static __device__ float forward(float x) { return sigmoid(x); }
  static __device__ float backward(float y, float d) { return d * y * (1.f - y); }
};
struct Softplus {  // s = x
  static __device__ float forward(float x) { return softplus(x); }
  static __device__ float backward(float x, float d) { return d * softplus_grad(x); }
};

// Calls f(Op{}) with the functor of `op`.
template <class F>
void dispatch_op(UnaryOp op, F&& f) {
  switch (op) {
    case UnaryOp::neg: f(Neg{}); break;
    case UnaryOp::exp: f(Exp{}); break;
    case UnaryOp::log: f(Log{}); break;
    case UnaryOp::sqrt: f(Sqrt{}); break;
    case UnaryOp::rsqrt: f(Rsqrt{}); break;
    case UnaryOp::square: f(Square{}); break;
    case UnaryOp::tanh: f(Tanh{}); break;
    case UnaryOp::relu: f(Relu{}); break;
    case UnaryOp::gelu: f(Gelu{}); break;
    case UnaryOp::silu: f(Silu{}); break;
    case UnaryOp::sigmoid: f(Sigmoid{}); break;
    case UnaryOp::softplus: f(Softplus{}); break;
  }
}

// --- the kernels ------------------------------------------------------------------------

// V consecutive elements moved by one load/store instruction.
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <class Op, class T, int V>
__global__ void unary_forward_kernel(const T* x, T* y, int64_t n) {
  using P = Pack<T, V>;
  const int64_t packs = n / V;
  TV3S_GRID_STRIDE(p, packs) {
    const P in = reinterpret_cast<const P*>(x)[p];
    P out;
#pragma unroll
    for (int k = 0; k < V; ++k) out.v[k] = from_f32<T>(Op::forward(to_f32(in.v[k])));
    reinterpret_cast<P*>(y)[p] = out;
  }
  TV3S_GRID_STRIDE(t, n - packs * V) {  // the last n mod V elements
    const int64_t i = packs * V + t;
    y[i] = from_f32<T>(Op::forward(to_f32(x[i])));
  }
}

template <class Op, class T, int V>
__global__ void unary_backward_kernel(const T* saved, const T* grad_out, T* grad_in, int64_t n) {
  using P = Pack<T, V>;
  const int64_t packs = n / V;
  TV3S_GRID_STRIDE(p, packs) {
    const P s = reinterpret_cast<const P*>(saved)[p];
    const P d = reinterpret_cast<const P*>(grad_out)[p];
    P out;
#pragma unroll
    for (int k = 0; k < V; ++k)
      out.v[k] = from_f32<T>(Op::backward(to_f32(s.v[k]), to_f32(d.v[k])));
    reinterpret_cast<P*>(grad_in)[p] = out;
  }
  TV3S_GRID_STRIDE(t, n - packs * V) {
    const int64_t i = packs * V + t;
    grad_in[i] = from_f32<T>(Op::backward(to_f32(saved[i]), to_f32(grad_out[i])));
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

void unary_forward(UnaryOp op, const Tensor& x, Tensor& out) {
  const int64_t n = x.numel();
  if (n == 0) return;
  const bool wide = aligned16(x.raw()) && aligned16(out.raw());
  dispatch_float(unary_op_name(op), x, [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = 16 / sizeof(T);
    dispatch_op(op, [&](auto functor) {
      using Op = decltype(functor);
      if (wide)
        launch<unary_forward_kernel<Op, T, V>>(blocks_for((n + V - 1) / V), kThreads, 0, stream(),
                                               ptr<T>(x), ptr<T>(out), n);
      else
        launch<unary_forward_kernel<Op, T, 1>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(x),
                                               ptr<T>(out), n);
    });
  });
  check_launch(unary_op_name(op));
}

void unary_backward(UnaryOp op, const Tensor& saved, const Tensor& grad_out, Tensor& grad_in) {
  const int64_t n = saved.numel();
  if (n == 0) return;
  const bool wide = aligned16(saved.raw()) && aligned16(grad_out.raw()) && aligned16(grad_in.raw());
  dispatch_float(unary_op_name(op), saved, [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = 16 / sizeof(T);
    dispatch_op(op, [&](auto functor) {
      using Op = decltype(functor);
      if (wide)
        launch<unary_backward_kernel<Op, T, V>>(blocks_for((n + V - 1) / V), kThreads, 0, stream(),
                                                ptr<T>(saved), ptr<T>(grad_out), ptr<T>(grad_in),
                                                n);
      else
        launch<unary_backward_kernel<Op, T, 1>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(saved),
                                                ptr<T>(grad_out), ptr<T>(grad_in), n);
    });
  });
  check_launch(unary_op_name(op));
}

}  // namespace tv3s::cuda
