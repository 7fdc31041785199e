// Movement ops: permute, transpose, slice, concat, pad, roll. They move elements and
// never change them, so they work on every dtype, byte for byte.
//
// Each op is written as one or more StridedCopy boxes (cuda/movement.h):
//   permute  out[i_0..i_n] = x[i_{inv 0}..]     read x with permuted strides, write densely
//   slice    out = x[.., begin:end, ..]         one box read at an offset along `axis`
//   concat   out[.., off_k + i, ..] = x_k[.., i, ..]  one box per input, written at off_k
//   pad      out = value; out[before + i] = x[i]     one box written at `before`
//   roll     out[(i + s) mod n] = x[i]          each rolled axis splits into two boxes
// and the box is copied by the CPU reference below or by cuda::strided_copy.
//
// Backward rules (float dtypes): permute → inverse permute; slice → zero-pad back to the
// input's shape; concat → slices of the gradient; pad → crop; roll → roll by −shift.
#include "tv3s/ops/movement.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "src/core/parallel.h"
#include "src/core/cuda_context.h"
#include "tv3s/autograd.h"
#include "cuda/movement.h"

namespace tv3s {
namespace {

constexpr int64_t kParallelMin = 65536;  // elements; below this one thread is faster

using Strides = std::array<int64_t, kMaxDims>;

// Row-major strides (in elements) of a contiguous tensor of `shape`.
Strides contiguous_strides(const Shape& shape) {
  Strides strides{};
  int64_t step = 1;
  for (int k = shape.ndim() - 1; k >= 0; --k) {
    strides[k] = step;
    step *= shape[k];
  }
  return strides;
}

template <class T>
std::string list_str(const std::vector<T>& values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + std::to_string(values[i]);
  return s + "]";
}

// The copy of a `shape` box between two strided layouts, simplified: size-1 dims are
// dropped and neighbours contiguous in both layouts are merged. Fewer, longer dims mean
// fewer index divisions in the kernels and longer memcpy rows here.
StridedCopy make_copy(const Shape& shape, const Strides& src_strides, const Strides& dst_strides) {
  StridedCopy c;
  for (int k = 0; k < shape.ndim(); ++k) {
    if (shape[k] == 1) continue;
    const int last = c.ndim - 1;
    if (c.ndim > 0 && c.src_stride[last] == src_strides[k] * shape[k] &&
        c.dst_stride[last] == dst_strides[k] * shape[k]) {
      c.shape[last] *= shape[k];
      c.src_stride[last] = src_strides[k];
      c.dst_stride[last] = dst_strides[k];
    } else {
      c.shape[c.ndim] = shape[k];
      c.src_stride[c.ndim] = src_strides[k];
      c.dst_stride[c.ndim] = dst_strides[k];
      ++c.ndim;
    }
  }
  return c;
}

// n elements of N bytes each, read every src_step and written every dst_step elements.
// memcpy of a constant size compiles to one move and is safe for any dtype's bits.
template <size_t N>
void copy_elements(const char* src, int64_t src_step, char* dst, int64_t dst_step, int64_t n) {
  for (int64_t i = 0; i < n; ++i) std::memcpy(dst + i * dst_step * N, src + i * src_step * N, N);
}

// CPU reference of StridedCopy: the innermost dim is a row; the rows are numbered and
// each finds its start in src and dst from its multi-index.
void strided_copy_cpu(const StridedCopy& c, const void* src_ptr, void* dst_ptr, size_t element_size) {
  const char* src = static_cast<const char*>(src_ptr);
  char* dst = static_cast<char*>(dst_ptr);
  const int last = c.ndim - 1;
  const int64_t row_len = c.ndim > 0 ? c.shape[last] : 1;
  const int64_t src_step = c.ndim > 0 ? c.src_stride[last] : 1;
  const int64_t dst_step = c.ndim > 0 ? c.dst_stride[last] : 1;
  const int64_t rows = c.numel() / row_len;
  parallel_for(rows, c.numel() > kParallelMin, [&](int64_t row) {
    int64_t s = 0, d = 0, rest = row;
    for (int k = last - 1; k >= 0; --k) {
      const int64_t i = rest % c.shape[k];
      rest /= c.shape[k];
      s += i * c.src_stride[k];
      d += i * c.dst_stride[k];
    }
    const char* from = src + s * int64_t(element_size);
    char* to = dst + d * int64_t(element_size);
    if (src_step == 1 && dst_step == 1) {
      std::memcpy(to, from, size_t(row_len) * element_size);
      return;
    }
    switch (element_size) {
      case 1: copy_elements<1>(from, src_step, to, dst_step, row_len); break;
      case 2: copy_elements<2>(from, src_step, to, dst_step, row_len); break;
      case 4: copy_elements<4>(from, src_step, to, dst_step, row_len); break;
      case 8: copy_elements<8>(from, src_step, to, dst_step, row_len); break;
    }
  });
}

// Copies the box `shape` from src (read with src_strides from element src_offset) to
// dst (written with dst_strides from element dst_offset), on their device.
void copy_box(const Shape& shape, const Tensor& src, const Strides& src_strides,
              int64_t src_offset, Tensor& dst, const Strides& dst_strides, int64_t dst_offset) {
  if (shape.numel() == 0) return;
  const StridedCopy c = make_copy(shape, src_strides, dst_strides);
  const size_t element_size = dtype_size(src.dtype());
  const void* from = static_cast<const char*>(src.raw()) + src_offset * int64_t(element_size);
  void* to = static_cast<char*>(dst.raw()) + dst_offset * int64_t(element_size);
  if (dst.is_cuda()) TV3S_ON_CUDA(cuda::strided_copy(c, from, to, element_size));
  else strided_copy_cpu(c, from, to, element_size);
}

// The box of `shape` starting at multi-index `begin` of x, as a new tensor
// (the n-dimensional slice; also the backward of pad).
Tensor crop(const Tensor& x, const std::vector<int64_t>& begin, const Shape& shape) {
  const Strides strides = contiguous_strides(x.shape());
  int64_t offset = 0;
  for (int k = 0; k < x.ndim(); ++k) offset += begin[size_t(k)] * strides[k];
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  copy_box(shape, x, strides, offset, out, contiguous_strides(shape), 0);
  return out;
}

bool records_grad(const Tensor& x) { return is_floating(x.dtype()) && autograd::needs_grad(x); }

// dims as axes in 0..ndim-1 (negative ones count from the end); throws unless they are
// a permutation.
std::vector<int> resolve_permutation(const Tensor& x, const std::vector<int>& dims) {
  const int n = x.ndim();
  TV3S_CHECK(int(dims.size()) == n, "permute: dims ", list_str(dims), " has ", dims.size(),
             " entries for ", x.desc(), " (needs ", n, ")");
  std::vector<int> axes(size_t(n), 0);
  std::vector<bool> seen(size_t(n), false);
  for (int i = 0; i < n; ++i) {
    const int a = dims[size_t(i)] < 0 ? dims[size_t(i)] + n : dims[size_t(i)];
    TV3S_CHECK(a >= 0 && a < n && !seen[size_t(a)], "permute: dims ", list_str(dims),
               " are not a permutation of the ", n, " axes of ", x.desc());
    seen[size_t(a)] = true;
    axes[size_t(i)] = a;
  }
  return axes;
}

// True when the permutation keeps every dim of size > 1 in its order: then the elements
// stay in the same memory order and permute is a reshape (a free view).
bool keeps_memory_order(const Shape& shape, const std::vector<int>& axes) {
  int previous = -1;
  for (int a : axes) {
    if (shape[a] == 1) continue;
    if (a < previous) return false;
    previous = a;
  }
  return true;
}

}  // namespace

Tensor permute(const Tensor& x, const std::vector<int>& dims) {
  check_defined("permute", x);
  const std::vector<int> axes = resolve_permutation(x, dims);
  const Strides x_strides = contiguous_strides(x.shape());
  Shape out_shape = x.shape();
  Strides read_strides{};  // out dim i walks x's dim axes[i]
  for (int i = 0; i < x.ndim(); ++i) {
    out_shape[i] = x.shape()[axes[size_t(i)]];
    read_strides[i] = x_strides[axes[size_t(i)]];
  }
  if (keeps_memory_order(x.shape(), axes)) return x.reshape(out_shape);

  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  copy_box(out_shape, x, read_strides, 0, out, contiguous_strides(out_shape), 0);
  if (records_grad(x)) {
    std::vector<int> inverse(axes.size());
    for (size_t i = 0; i < axes.size(); ++i) inverse[size_t(axes[i])] = int(i);
    autograd::record("permute", out, {x}, [inverse](const Tensor& g) {
      return std::vector<Tensor>{permute(g, inverse)};
    });
  }
  return out;
}

Tensor transpose(const Tensor& x, int axis0, int axis1) {
  check_defined("transpose", x);
  const int a0 = x.shape().axis(axis0, "transpose");
  const int a1 = x.shape().axis(axis1, "transpose");
  std::vector<int> dims(size_t(x.ndim()));
  for (int i = 0; i < x.ndim(); ++i) dims[size_t(i)] = i;
  std::swap(dims[size_t(a0)], dims[size_t(a1)]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int axis, int64_t begin, int64_t end) {
  check_defined("slice", x);
  const int a = x.shape().axis(axis, "slice");
  const int64_t n = x.shape()[a];
  const int64_t first = begin < 0 ? begin + n : begin;
  TV3S_CHECK(first >= 0 && first <= n, "slice: begin ", begin, " out of range for axis ", a,
             " of ", x.desc());
  const int64_t stop = std::clamp(end < 0 ? end + n : end, first, n);  // empty when end ≤ begin
  Shape out_shape = x.shape();
  out_shape[a] = stop - first;

  // With only 1s before `axis`, the slice is one contiguous range of x: a view.
  bool contiguous_range = true;
  for (int k = 0; k < a; ++k) contiguous_range = contiguous_range && x.shape()[k] == 1;
  Tensor out;
  if (contiguous_range) {
    out = x.alias(out_shape, first * contiguous_strides(x.shape())[a]);
  } else {
    std::vector<int64_t> at(size_t(x.ndim()), 0);
    at[size_t(a)] = first;
    out = crop(x, at, out_shape);
  }
  if (records_grad(x)) {
    std::vector<int64_t> before(size_t(x.ndim()), 0), after(size_t(x.ndim()), 0);
    before[size_t(a)] = first;
    after[size_t(a)] = n - stop;
    autograd::record("slice", out, {x}, [before, after](const Tensor& g) {
      return std::vector<Tensor>{pad(g, before, after, 0.0)};
    });
  }
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  TV3S_CHECK(!xs.empty(), "concat: no tensors given");
  for (const Tensor& x : xs) check_defined("concat", x);
  const Tensor& first = xs[0];
  const int a = first.shape().axis(axis, "concat");
  Shape out_shape = first.shape();
  out_shape[a] = 0;
  bool any_grad = false;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    check_same_device("concat", first, x);
    check_same_dtype("concat", first, x);
    bool same = x.ndim() == first.ndim();
    for (int k = 0; same && k < x.ndim(); ++k) same = k == a || x.shape()[k] == first.shape()[k];
    TV3S_CHECK(same, "concat: tensor ", i, " is ", x.desc(), " but tensor 0 is ", first.desc(),
               " (shapes must match except along axis ", a, ")");
    out_shape[a] += x.shape()[a];
    any_grad = any_grad || records_grad(x);
  }

  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const Strides out_strides = contiguous_strides(out_shape);
  std::vector<int64_t> lengths;  // of each input along `axis`
  int64_t at = 0;
  for (const Tensor& x : xs) {
    copy_box(x.shape(), x, contiguous_strides(x.shape()), 0, out, out_strides, at * out_strides[a]);
    lengths.push_back(x.shape()[a]);
    at += x.shape()[a];
  }
  if (any_grad) {
    autograd::record("concat", out, xs, [a, lengths](const Tensor& g) {
      std::vector<Tensor> grads;
      int64_t begin = 0;
      for (int64_t len : lengths) {
        grads.push_back(slice(g, a, begin, begin + len));
        begin += len;
      }
      return grads;
    });
  }
  return out;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& before, const std::vector<int64_t>& after,
           double value) {
  check_defined("pad", x);
  const size_t n = size_t(x.ndim());
  TV3S_CHECK(before.size() == n && after.size() == n, "pad: before ", list_str(before),
             " and after ", list_str(after), " need ", n, " entries each for ", x.desc());
  Shape out_shape = x.shape();
  for (size_t k = 0; k < n; ++k) {
    TV3S_CHECK(before[k] >= 0 && after[k] >= 0, "pad: negative padding before ",
               list_str(before), " after ", list_str(after), " for ", x.desc());
    out_shape[int(k)] += before[k] + after[k];
  }
  Tensor out = Tensor::full(out_shape, value, x.dtype(), x.device());
  const Strides out_strides = contiguous_strides(out_shape);
  int64_t at = 0;
  for (size_t k = 0; k < n; ++k) at += before[k] * out_strides[k];
  copy_box(x.shape(), x, contiguous_strides(x.shape()), 0, out, out_strides, at);
  if (records_grad(x)) {
    const Shape x_shape = x.shape();
    autograd::record("pad", out, {x}, [before, x_shape](const Tensor& g) {
      return std::vector<Tensor>{crop(g, before, x_shape)};
    });
  }
  return out;
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int>& axes) {
  check_defined("roll", x);
  if (axes.empty()) {  // torch.roll without dims: roll the flattened tensor
    TV3S_CHECK(shifts.size() == 1, "roll: without axes, roll takes one shift (of the flattened ",
               "tensor), got ", list_str(shifts), " for ", x.desc());
    return roll(x.reshape(Shape{x.numel()}), shifts, {0}).reshape(x.shape());
  }
  TV3S_CHECK(shifts.size() == axes.size(), "roll: ", shifts.size(), " shifts ", list_str(shifts),
             " for ", axes.size(), " axes ", list_str(axes), " of ", x.desc());
  // Net shift of each axis in [0, n): repeated axes add up, as in torch.roll.
  std::vector<int64_t> net(size_t(x.ndim()), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int a = x.shape().axis(axes[i], "roll");
    const int64_t n = x.shape()[a];
    if (n > 0) net[size_t(a)] = (net[size_t(a)] + shifts[i] % n + n) % n;
  }
  std::vector<int> rolled;
  for (int a = 0; a < x.ndim(); ++a)
    if (net[size_t(a)] != 0) rolled.push_back(a);

  // Along a rolled axis (length n, shift s), x[0, n−s) lands at out[s, n) and x[n−s, n)
  // wraps to out[0, s). Every combination of those segments over the rolled axes is one
  // box (bit j of `wrapped` picks the segment of rolled axis j).
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  const Strides strides = contiguous_strides(x.shape());
  for (unsigned wrapped = 0; wrapped < (1u << rolled.size()); ++wrapped) {
    Shape box = x.shape();
    int64_t from = 0, to = 0;
    for (size_t j = 0; j < rolled.size(); ++j) {
      const int a = rolled[j];
      const int64_t n = x.shape()[a], s = net[size_t(a)];
      if (wrapped >> j & 1u) {
        box[a] = s;
        from += (n - s) * strides[a];
      } else {
        box[a] = n - s;
        to += s * strides[a];
      }
    }
    copy_box(box, x, strides, from, out, strides, to);
  }
  if (records_grad(x)) {
    std::vector<int64_t> back(net.size());
    std::vector<int> all_axes(net.size());
    for (size_t a = 0; a < net.size(); ++a) {
      back[a] = -net[a];
      all_axes[a] = int(a);
    }
    autograd::record("roll", out, {x}, [back, all_axes](const Tensor& g) {
      return std::vector<Tensor>{roll(g, back, all_axes)};
    });
  }
  return out;
}

}  // namespace tv3s
