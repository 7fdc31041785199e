// Elementwise binary ops with broadcasting:  out[i] = a[i_a] ∘ b[i_b]
// where i_a, i_b are i with the broadcast dims of a, b pinned to 0 (NumPy rules).
//
// Backward (g = dL/dout), each gradient summed back to its operand's shape (sum_to):
//   add: g, g          sub: g, −g          mul: g·b, g·a          div: g/b, −g·a/b²
//   affine (y = s·x + t): s·g
#include "tv3s/ops/binary.h"

#include "cuda/binary.h"
#include "src/core/parallel.h"
#include "src/core/broadcast.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/reduce.h"

namespace tv3s {
namespace {

template <class T>
T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::add: return x + y;
    case BinaryOp::sub: return x - y;
    case BinaryOp::mul: return x * y;
    case BinaryOp::div: return x / y;
  }
  return 0;
}

// One output row (the last dim) at a time: the operand offsets of a row come from the
// index of the row; along the row they advance by the operands' last-dim strides.
template <class T>
void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t n = out.numel();
  if (a.shape() == b.shape()) {  // the common case: no broadcasting at all
    parallel_for(n, n > 32768, [&](int64_t i) {
      po[i] = apply(op, pa[i], pb[i]);
    });
    return;
  }
  const BroadcastIndex bi = make_broadcast_index(out.shape(), a.shape(), b.shape());
  const int last = bi.ndim - 1;
  const int64_t row_len = bi.ndim ? bi.dims[last] : 1;
  const int64_t rows = row_len ? n / row_len : 0;
  const int64_t sa = bi.ndim ? bi.stride_a[last] : 0, sb = bi.ndim ? bi.stride_b[last] : 0;
  parallel_for(rows, n > 32768, [&](int64_t r) {
    int64_t offset_a = 0, offset_b = 0, rest = r;
    for (int d = last - 1; d >= 0; --d) {
      const int64_t idx = rest % bi.dims[d];
      rest /= bi.dims[d];
      offset_a += idx * bi.stride_a[d];
      offset_b += idx * bi.stride_b[d];
    }
    T* row = po + r * row_len;
    for (int64_t j = 0; j < row_len; ++j) row[j] = apply(op, pa[offset_a + j * sa], pb[offset_b + j * sb]);
  });
}

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
    case BinaryOp::div: return "div";
  }
  return "?";
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = op_name(op);
  check_compute_dtype(name, a);
  check_compute_dtype(name, b);
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
  Tensor out = Tensor::empty(broadcast_shapes(a.shape(), b.shape(), name), a.dtype(), a.device());
  if (out.numel() > 0) {
    if (out.is_cuda()) TV3S_ON_CUDA(cuda::binary(op, a, b, out));
    else dispatch_cpu_float(name, a, [&](auto t) { binary_cpu<decltype(t)>(op, a, b, out); });
  }
  if (autograd::needs_grad(a, b)) {
    const Tensor sa = a.detach(), sb = b.detach();
    autograd::record(name, out, {a, b}, [op, sa, sb](const Tensor& g) {
      Tensor ga, gb;
      switch (op) {
        case BinaryOp::add: ga = g; gb = g; break;
        case BinaryOp::sub: ga = g; gb = affine(g, -1.0, 0.0); break;
        case BinaryOp::mul: ga = mul(g, sb); gb = mul(g, sa); break;
        case BinaryOp::div:
          ga = div(g, sb);
          gb = affine(div(mul(g, sa), mul(sb, sb)), -1.0, 0.0);
          break;
      }
      return std::vector<Tensor>{sum_to(ga, sa.shape()), sum_to(gb, sb.shape())};
    });
  }
  return out;
}

template <class T>
void affine_cpu(const Tensor& x, double scale, double shift, Tensor& out) {
  const T* px = x.data<T>();
  T* po = out.data<T>();
  const T s = T(scale), t = T(shift);
  const int64_t n = x.numel();
  parallel_for(n, n > 32768, [&](int64_t i) {
    po[i] = px[i] * s + t;
  });
}

}  // namespace

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = a.ndim() > b.ndim() ? a.ndim() : b.ndim();
  std::vector<int64_t> dims(size_t(n), 1);
  for (int i = 0; i < n; ++i) {
    const int ia = a.ndim() - n + i, ib = b.ndim() - n + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    TV3S_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a.str(), " and ", b.str(),
               " cannot be broadcast together");
    dims[size_t(i)] = da == 1 ? db : da;
  }
  return Shape(dims);
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }

Tensor affine(const Tensor& x, double scale, double shift) {
  check_compute_dtype("affine", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (out.numel() > 0) {
    if (x.is_cuda()) TV3S_ON_CUDA(cuda::affine(x, scale, shift, out));
    else dispatch_cpu_float("affine", x, [&](auto t) { affine_cpu<decltype(t)>(x, scale, shift, out); });
  }
  if (autograd::needs_grad(x)) {
    autograd::record("affine", out, {x}, [scale](const Tensor& g) {
      return std::vector<Tensor>{affine(g, scale, 0.0)};
    });
  }
  return out;
}

void accumulate_(Tensor& dst, const Tensor& src) {
  check_compute_dtype("accumulate_", dst);
  check_same_device("accumulate_", dst, src);
  check_same_dtype("accumulate_", dst, src);
  check_same_shape("accumulate_", dst, src);
  if (dst.numel() == 0) return;
  // dst = dst + src in place: the same elementwise kernel with out aliasing a (safe:
  // every element is read before it is written, by the same thread).
  if (dst.is_cuda()) TV3S_ON_CUDA(cuda::binary(BinaryOp::add, dst, src, dst));
  else dispatch_cpu_float("accumulate_", dst, [&](auto t) { binary_cpu<decltype(t)>(BinaryOp::add, dst, src, dst); });
}

}  // namespace tv3s
