// Reductions.
//   sum_to(x, s)[o]      = Σ_{i ↦ o} x[i]      (i ranges over the elements broadcast onto o)
//   sum(x, axis)         = sum_to(x, shape with that axis = 1), then the axis dropped
//   mean(x, axis)        = sum(x, axis) / n
//   max(x, axis)[o]      = max_k x[o, k];   argmax = the first k attaining it (i32)
// Backward:
//   sum_to: g broadcast back to x's shape (g + zeros — an add with broadcasting)
//   mean:   the same, times 1/n
//   max:    g routed to the argmax position, 0 elsewhere (ties: the first, as argmax)
#include "tv3s/ops/reduce.h"

#include <vector>

#include "cuda/reduce.h"
#include "src/core/parallel.h"
#include "src/core/axis_view.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/reduce_index.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/binary.h"

namespace tv3s {
namespace {

// When the reduced dims are one contiguous run (a single axis, a bias gradient's leading
// dims, ...), x is [outer, n, inner] and the sum can stream through memory in order:
// each (o, k) adds a contiguous row of `inner` values into a row of f64 accumulators.
bool reduced_dims_are_one_run(const Shape& in, const Shape& out, AxisView& v) {
  const int lead = in.ndim() - out.ndim();  // dims missing from `out` are reduced
  int first = -1, last = -1;
  for (int i = 0; i < in.ndim(); ++i) {
    const bool reduced = i < lead || (out[i - lead] == 1 && in[i] != 1);
    if (!reduced) continue;
    if (first < 0) first = i;
    else if (last != i - 1) {
      for (int j = last + 1; j < i; ++j)  // a kept dim in between breaks the run, unless it is 1
        if (in[j] != 1) return false;
    }
    last = i;
  }
  v = AxisView{};
  for (int i = 0; i < in.ndim(); ++i) {
    if (first >= 0 && i >= first && i <= last) v.n *= in[i];
    else if (first < 0 || i < first) v.outer *= in[i];
    else v.inner *= in[i];
  }
  return true;
}

template <class T>
void sum_run_cpu(const T* px, T* po, const AxisView& v) {
  const bool worth_threads = v.outer > 1 && v.outer * v.n * v.inner > 32768;
  if (v.inner == 1) {  // summing contiguous rows: one scalar accumulator per row
    parallel_for(v.outer, worth_threads, [&](int64_t o) {
      double acc = 0;
      for (int64_t k = 0; k < v.n; ++k) acc += double(px[o * v.n + k]);
      po[o] = T(acc);
    });
    return;
  }
  parallel_for(v.outer, worth_threads, [&](int64_t o) {
    std::vector<double> acc(size_t(v.inner), 0.0);
    const T* block = px + o * v.n * v.inner;
    for (int64_t k = 0; k < v.n; ++k)
      for (int64_t i = 0; i < v.inner; ++i) acc[size_t(i)] += double(block[k * v.inner + i]);
    for (int64_t i = 0; i < v.inner; ++i) po[o * v.inner + i] = T(acc[size_t(i)]);
  });
}

// Output element o sums its reduced set in index order, in f64.
template <class T>
void sum_to_cpu(const Tensor& x, Tensor& out, const ReduceIndex& ri) {
  const T* px = x.data<T>();
  T* po = out.data<T>();
  AxisView run;
  if (reduced_dims_are_one_run(x.shape(), out.shape(), run)) {
    sum_run_cpu(px, po, run);
    return;
  }
  parallel_for(ri.out_count, ri.out_count > 64 && x.numel() > 32768, [&](int64_t o) {
    const int64_t base = offset_of(o, ri.kept_ndim, ri.kept_dims, ri.kept_strides);
    double acc = 0;
    for (int64_t r = 0; r < ri.reduced_count; ++r)
      acc += double(px[base + offset_of(r, ri.reduced_ndim, ri.reduced_dims, ri.reduced_strides)]);
    po[o] = T(acc);
  });
}

template <class T>
void max_cpu(const Tensor& x, Tensor* values, Tensor* indices, const AxisView& v) {
  const T* px = x.data<T>();
  T* pv = values ? values->data<T>() : nullptr;
  int32_t* pi = indices ? indices->data<int32_t>() : nullptr;
  parallel_for(v.outer, x.numel() > 32768, [&](int64_t o) {
    for (int64_t in = 0; in < v.inner; ++in) {
      const T* row = px + o * v.n * v.inner + in;
      int64_t best = 0;
      for (int64_t k = 1; k < v.n; ++k)  // strict '>' keeps the first max; NaN never wins
        if (row[k * v.inner] > row[best * v.inner]) best = k;
      if (pv) pv[o * v.inner + in] = row[best * v.inner];
      if (pi) pi[o * v.inner + in] = int32_t(best);
    }
  });
}

template <class T>
void max_backward_cpu(const Tensor& g, const Tensor& indices, Tensor& dx, const AxisView& v) {
  const T* pg = g.data<T>();
  const int32_t* pi = indices.data<int32_t>();
  T* pd = dx.data<T>();
  for (int64_t o = 0; o < v.outer; ++o)
    for (int64_t in = 0; in < v.inner; ++in)
      pd[(o * v.n + pi[o * v.inner + in]) * v.inner + in] = pg[o * v.inner + in];
}

Shape reduced_shape(const Shape& s, int axis, bool keepdim) {
  std::vector<int64_t> dims = s.vec();
  if (keepdim) dims[size_t(axis)] = 1;
  else dims.erase(dims.begin() + axis);
  return Shape(dims);
}

// Shared by max and argmax: values and/or first-max indices over `axis` (kept as 1).
void max_with_indices(const char* op, const Tensor& x, int axis, Tensor* values, Tensor* indices) {
  const AxisView v = view_around(x.shape(), axis);
  TV3S_CHECK(v.n > 0, op, ": cannot reduce over an empty axis of ", x.desc());
  TV3S_CHECK(v.n <= INT32_MAX, op, ": axis too long for i32 indices in ", x.desc());
  const Shape kept = reduced_shape(x.shape(), axis, true);
  if (values) *values = Tensor::empty(kept, x.dtype(), x.device());
  if (indices) *indices = Tensor::empty(kept, DType::i32, x.device());
  if (x.numel() == 0) return;
  if (x.is_cuda()) TV3S_ON_CUDA(cuda::max_over_axis(x, values, indices, v.outer, v.n, v.inner));
  else dispatch_cpu_float(op, x, [&](auto t) { max_cpu<decltype(t)>(x, values, indices, v); });
}

}  // namespace

Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_compute_dtype("sum_to", x);
  if (x.shape() == shape) return x;
  const ReduceIndex ri = make_reduce_index(x.shape(), shape, "sum_to");
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (out.numel() > 0) {
    if (x.is_cuda()) TV3S_ON_CUDA(cuda::sum_to(x, out, ri));
    else dispatch_cpu_float("sum_to", x, [&](auto t) { sum_to_cpu<decltype(t)>(x, out, ri); });
  }
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("sum_to", out, {x}, [in_shape](const Tensor& g) {
      return std::vector<Tensor>{add(Tensor::zeros(in_shape, g.dtype(), g.device()), g)};
    });
  }
  return out;
}

Tensor sum(const Tensor& x, int axis, bool keepdim) {
  check_defined("sum", x);
  const int a = x.shape().axis(axis, "sum");
  const Tensor kept = sum_to(x, reduced_shape(x.shape(), a, true));
  return keepdim ? kept : kept.reshape(reduced_shape(x.shape(), a, false));
}

Tensor mean(const Tensor& x, int axis, bool keepdim) {
  check_defined("mean", x);
  const int a = x.shape().axis(axis, "mean");
  TV3S_CHECK(x.shape()[a] > 0, "mean: empty axis ", axis, " in ", x.desc());
  return affine(sum(x, a, keepdim), 1.0 / double(x.shape()[a]), 0.0);
}

Tensor sum_all(const Tensor& x) { return sum_to(x, Shape{}); }

Tensor mean_all(const Tensor& x) {
  check_defined("mean_all", x);
  TV3S_CHECK(x.numel() > 0, "mean_all: empty tensor ", x.desc());
  return affine(sum_all(x), 1.0 / double(x.numel()), 0.0);
}

Tensor argmax(const Tensor& x, int axis, bool keepdim) {
  check_compute_dtype("argmax", x);
  const int a = x.shape().axis(axis, "argmax");
  Tensor indices;
  max_with_indices("argmax", x, a, nullptr, &indices);
  return keepdim ? indices : indices.reshape(reduced_shape(x.shape(), a, false));
}

Tensor max(const Tensor& x, int axis, bool keepdim) {
  check_compute_dtype("max", x);
  const int a = x.shape().axis(axis, "max");
  Tensor values, indices;
  max_with_indices("max", x, a, &values, autograd::needs_grad(x) ? &indices : nullptr);
  if (autograd::needs_grad(x)) {
    const Shape in_shape = x.shape();
    autograd::record("max", values, {x}, [in_shape, a, indices](const Tensor& g) {
      const AxisView v = view_around(in_shape, a);
      Tensor dx = Tensor::zeros(in_shape, g.dtype(), g.device());
      if (g.is_cuda()) TV3S_ON_CUDA(cuda::max_backward(g, indices, dx, v.outer, v.n, v.inner));
      else dispatch_cpu_float("max backward", g, [&](auto t) { max_backward_cpu<decltype(t)>(g, indices, dx, v); });
      return std::vector<Tensor>{dx};
    });
  }
  return keepdim ? values : values.reshape(reduced_shape(x.shape(), a, false));
}

}  // namespace tv3s
