// Elementwise binary ops on the GPU. One thread per output element (grid-stride).
// Same-shape operands take a flat kernel; otherwise each thread unravels its output
// index over the (≤ 8) dims and reads the operands at their broadcast strides.
// Storage f32/f16/bf16, arithmetic in f32.
#include "cuda/binary.h"
#include "cuda/common.cuh"
#include "src/core/broadcast.h"

namespace tv3s::cuda {
namespace {

template <BinaryOp op>
__device__ __forceinline__ float apply(float x, float y) {
  if constexpr (op == BinaryOp::add) return x + y;
  if constexpr (op == BinaryOp::sub) return x - y;
  if constexpr (op == BinaryOp::mul) return x * y;
  return x / y;
}

template <class T, BinaryOp op>
__global__ void binary_same_shape(const T* a, const T* b, T* out, int64_t n) {
  TV3S_GRID_STRIDE(i, n) out[i] = from_f32<T>(apply<op>(to_f32(a[i]), to_f32(b[i])));
}

template <class T, BinaryOp op>
__global__ void binary_broadcast(const T* a, const T* b, T* out, int64_t n, BroadcastIndex bi) {
  TV3S_GRID_STRIDE(i, n) {
    int64_t rest = i, offset_a = 0, offset_b = 0;
    for (int d = bi.ndim - 1; d >= 0; --d) {
      const int64_t idx = rest % bi.dims[d];
      rest /= bi.dims[d];
      offset_a += idx * bi.stride_a[d];
      offset_b += idx * bi.stride_b[d];
    }
    out[i] = from_f32<T>(apply<op>(to_f32(a[offset_a]), to_f32(b[offset_b])));
  }
}

template <class T>
__global__ void affine_kernel(const T* x, T* out, float scale, float shift, int64_t n) {
  TV3S_GRID_STRIDE(i, n) out[i] = from_f32<T>(to_f32(x[i]) * scale + shift);
}

template <class T, BinaryOp op>
void run_binary(const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = out.numel();
  if (a.shape() == b.shape()) {
    launch<binary_same_shape<T, op>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(a), ptr<T>(b),
                                     ptr<T>(out), n);
  } else {
    const BroadcastIndex bi = make_broadcast_index(out.shape(), a.shape(), b.shape());
    launch<binary_broadcast<T, op>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(a), ptr<T>(b),
                                    ptr<T>(out), n, bi);
  }
}

}  // namespace

void binary(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float("binary", a, [&](auto tag) {
    using T = decltype(tag);
    switch (op) {
      case BinaryOp::add: run_binary<T, BinaryOp::add>(a, b, out); break;
      case BinaryOp::sub: run_binary<T, BinaryOp::sub>(a, b, out); break;
      case BinaryOp::mul: run_binary<T, BinaryOp::mul>(a, b, out); break;
      case BinaryOp::div: run_binary<T, BinaryOp::div>(a, b, out); break;
    }
  });
  check_launch("binary");
}

void affine(const Tensor& x, double scale, double shift, Tensor& out) {
  const int64_t n = x.numel();
  dispatch_float("affine", x, [&](auto tag) {
    using T = decltype(tag);
    launch<affine_kernel<T>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(x), ptr<T>(out),
                             float(scale), float(shift), n);
  });
  check_launch("affine");
}

}  // namespace tv3s::cuda
