// Softmax and log-softmax over one axis, and their backward rules.
//
// The tensor is viewed as [outer, n, inner] around the axis: row (o, i) holds the n
// values x[o, k, i], k = 0..n−1, which lie `inner` elements apart in memory.
//   softmax:      y_k = exp(x_k − m) / Σ_j exp(x_j − m)        with m = max_j x_j
//   log_softmax:  y_k = x_k − m − log Σ_j exp(x_j − m)
// Subtracting the max changes nothing mathematically but keeps every exp() ≤ 1, so
// large logits cannot overflow (and the largest term is exactly 1, so the sum is ≥ 1).
// Backward, from the saved output y and the incoming gradient dy:
//   softmax:      dx_k = y_k · (dy_k − Σ_j dy_j·y_j)
//   log_softmax:  dx_k = dy_k − exp(y_k) · Σ_j dy_j
#include "tv3s/ops/softmax.h"

#include <algorithm>
#include <cmath>

#include "cuda/softmax.h"
#include "src/core/parallel.h"
#include "src/core/axis_view.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

// --- CPU reference: one row per iteration; sums in double (the accurate side) -------

template <class T>
void softmax_forward_cpu(const T* x, T* y, const AxisView& v, bool log) {
  const int64_t rows = v.outer * v.inner, stride = v.inner;
  parallel_for(rows, rows * v.n > 32768, [&](int64_t r) {
    const int64_t first = (r / v.inner) * v.n * v.inner + r % v.inner;  // element k = 0
    const T* xr = x + first;
    T* yr = y + first;
    T m = -INFINITY;
    for (int64_t k = 0; k < v.n; ++k) m = std::max(m, xr[k * stride]);
    // One exp per element, in the storage precision (it dominates the cost); the sum
    // is kept in double. softmax parks e^(x−m) in y and rescales it in place.
    double s = 0;
    for (int64_t k = 0; k < v.n; ++k) {
      const T e = std::exp(xr[k * stride] - m);
      if (!log) yr[k * stride] = e;
      s += double(e);
    }
    if (log) {
      const double log_sum = double(m) + std::log(s);
      for (int64_t k = 0; k < v.n; ++k) yr[k * stride] = T(double(xr[k * stride]) - log_sum);
    } else {
      const T inv_s = T(1.0 / s);
      for (int64_t k = 0; k < v.n; ++k) yr[k * stride] *= inv_s;
    }
  });
}

template <class T>
void softmax_backward_cpu(const T* y, const T* dy, T* dx, const AxisView& v, bool log) {
  const int64_t rows = v.outer * v.inner, stride = v.inner;
  parallel_for(rows, rows * v.n > 32768, [&](int64_t r) {
    const int64_t first = (r / v.inner) * v.n * v.inner + r % v.inner;
    const T *yr = y + first, *dyr = dy + first;
    T* dxr = dx + first;
    double dot = 0;  // softmax: Σ dy·y; log_softmax: Σ dy
    for (int64_t k = 0; k < v.n; ++k)
      dot += log ? double(dyr[k * stride]) : double(dyr[k * stride]) * double(yr[k * stride]);
    for (int64_t k = 0; k < v.n; ++k) {
      const double yk = yr[k * stride], dyk = dyr[k * stride];
      dxr[k * stride] = T(log ? dyk - std::exp(yk) * dot : yk * (dyk - dot));
    }
  });
}

// --- dispatch -------------------------------------------------------------------------

Tensor softmax_backward(const char* op, const Tensor& y, const Tensor& grad, const AxisView& v,
                        bool log) {
  const Tensor dy = grad.to(y.dtype());
  Tensor dx = Tensor::empty(y.shape(), y.dtype(), y.device());
  if (y.numel() == 0) return dx;
  if (y.is_cuda()) {
    TV3S_ON_CUDA(cuda::softmax_backward(y, dy, dx, v.outer, v.n, v.inner, log));
  } else {
    dispatch_cpu_float(op, y, [&](auto tag) {
      using T = decltype(tag);
      softmax_backward_cpu(y.data<T>(), dy.data<T>(), dx.data<T>(), v, log);
    });
  }
  return dx;
}

Tensor softmax_forward(const char* op, const Tensor& x, int axis, bool log) {
  check_compute_dtype(op, x);
  const AxisView v = view_around(x.shape(), x.shape().axis(axis, op));
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.numel() > 0) {
    if (x.is_cuda()) {
      TV3S_ON_CUDA(cuda::softmax_forward(x, y, v.outer, v.n, v.inner, log));
    } else {
      dispatch_cpu_float(op, x, [&](auto tag) {
        using T = decltype(tag);
        softmax_forward_cpu(x.data<T>(), y.data<T>(), v, log);
      });
    }
  }
  if (autograd::needs_grad(x)) {
    const Tensor saved_y = y.detach();  // the backward needs only the output
    autograd::record(op, y, {x}, [op, saved_y, v, log](const Tensor& dy) {
      return std::vector<Tensor>{softmax_backward(op, saved_y, dy, v, log)};
    });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int axis) { return softmax_forward("softmax", x, axis, false); }

Tensor log_softmax(const Tensor& x, int axis) {
  return softmax_forward("log_softmax", x, axis, true);
}

}  // namespace tv3s
