// RMSNorm over the last dim, Mamba's fused residual add + RMSNorm, and their backward.
//
// x is viewed as [rows, C]. For each row, with v the vector that is normalised:
//   rms_norm:      v = x
//   add_rms_norm:  v = residual + x   (= x without a residual), also returned: residual_out
//   rstd = 1 / sqrt(mean_c(v_c²) + eps)      x̂_c = v_c · rstd      y_c = x̂_c · w_c
// residual_out is kept in f32 (f64 for f64 x) whatever x's dtype: it is the stream that
// carries through every layer (mamba_ssm's residual_in_fp32), and v is normalised in that
// precision. rstd is saved per row (f32, f64 for f64 x) for the backward pass.
//
// Backward, with g_c = dy_c · w_c (∂rstd/∂v_c = −rstd³ · v_c / C):
//   dv_c = rstd · (g_c − x̂_c · mean_c(g · x̂))       dw_c = Σ_rows dy_c · x̂_c
// add_rms_norm has two outputs, so two autograd nodes: y's node maps dy to dv and hands it
// to both x and residual (v = residual + x); residual_out's node hands its cotangent straight
// to both. The engine adds them.
//
// CPU: rows in parallel for the forward and dv, columns in parallel for dw (each column
// summed over the rows in order, in double: the result does not depend on the threads).
// CUDA (cuda/rmsnorm.cu): one warp per row, as layer_norm.
#include "tv3s/ops/rmsnorm.h"

#include <cmath>

#include "cuda/rmsnorm.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/cast.h"

namespace tv3s {
namespace {

// --- CPU reference: the squares summed in double ------------------------------------------
// On the CPU x is f32 or f64 and the residual stream has x's dtype, so one T serves all.

// residual and residual_out null: v = x. residual_out set: v = residual + x (or x), stored.
template <class T>
void rms_norm_forward_cpu(const T* x, const T* residual, const T* weight, double eps,
                          int64_t rows, int64_t C, T* y, T* residual_out, T* rstd) {
  parallel_for(rows, rows * C > 32768, [&](int64_t r) {
    const T* xr = x + r * C;
    const T* res = residual ? residual + r * C : nullptr;
    auto v = [&](int64_t c) { return res ? res[c] + xr[c] : xr[c]; };  // the add in T, as stored
    double squares = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T vc = v(c);
      if (residual_out) residual_out[r * C + c] = vc;
      squares += double(vc) * double(vc);
    }
    const double rs = 1.0 / std::sqrt(squares / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) y[r * C + c] = T(double(v(c)) * rs * double(weight[c]));
    rstd[r] = T(rs);
  });
}

// dv for each row (rows in parallel); dweight for each column (columns in parallel). Each
// may be null.
template <class T>
void rms_norm_backward_cpu(const T* v, const T* weight, const T* rstd, const T* dy,
                           int64_t rows, int64_t C, T* dv, T* dweight) {
  if (dv) {
    parallel_for(rows, rows * C > 32768, [&](int64_t r) {
      const T *vr = v + r * C, *dyr = dy + r * C;
      const double rs = rstd[r];
      double sum_g_xhat = 0;
      for (int64_t c = 0; c < C; ++c) sum_g_xhat += double(dyr[c]) * double(weight[c]) * vr[c] * rs;
      const double mean_g_xhat = sum_g_xhat / double(C);
      for (int64_t c = 0; c < C; ++c) {
        const double g = double(dyr[c]) * double(weight[c]);
        dv[r * C + c] = T(rs * (g - vr[c] * rs * mean_g_xhat));
      }
    });
  }
  if (dweight) {
    parallel_for(C, rows * C > 32768, [&](int64_t c) {
      double sum = 0;
      for (int64_t r = 0; r < rows; ++r) sum += double(dy[r * C + c]) * v[r * C + c] * double(rstd[r]);
      dweight[c] = T(sum);
    });
  }
}

// --- checks and dispatch --------------------------------------------------------------------

// The residual stream's dtype (and rstd's): f32, or f64 for f64 x.
DType stream_dtype(const Tensor& x) { return x.dtype() == DType::f64 ? DType::f64 : DType::f32; }

void check_input(const char* op, const Tensor& x, const Tensor& weight, double eps) {
  check_compute_dtype(op, x);
  TV3S_CHECK(x.ndim() >= 1 && x.size(-1) > 0, op, ": needs x [..., C] with C > 0, got ", x.desc());
  TV3S_CHECK(eps >= 0, op, ": eps must be ≥ 0, got ", eps);
  check_defined(op, weight);
  check_same_device(op, x, weight);
  check_same_dtype(op, x, weight);
  TV3S_CHECK(weight.shape() == Shape{x.size(-1)}, op, ": weight ", weight.desc(),
             " must be [C] = [", x.size(-1), "] for x ", x.desc());
}

// v = x or residual_out. {dx, dresidual, dweight}, each only when wanted; dx and dresidual
// are both dv = dL/dv, in x's dtype (= weight's) and in the residual dtype.
std::vector<Tensor> rms_norm_backward(const Tensor& v, const Tensor& weight, const Tensor& rstd,
                                      const Tensor& grad, bool want_dx, bool want_dresidual,
                                      bool want_dweight) {
  const DType x_dtype = weight.dtype(), residual_dtype = stream_dtype(weight);
  const Device device = weight.device();
  const Tensor dy = grad.to(x_dtype);
  const int64_t C = v.size(-1), rows = v.numel() / C;
  // dv is computed once and stored once per dtype needed: dv_x in x's dtype, dv_residual in
  // the residual dtype only when that differs (f16/bf16 x on CUDA; never on the CPU).
  const bool one_dtype = x_dtype == residual_dtype;
  Tensor dv_x, dv_residual;
  if (want_dx || (want_dresidual && one_dtype)) dv_x = Tensor::empty(v.shape(), x_dtype, device);
  if (want_dresidual && !one_dtype) dv_residual = Tensor::empty(v.shape(), residual_dtype, device);
  Tensor dweight = want_dweight ? Tensor::empty(weight.shape(), x_dtype, device) : Tensor();
  if (rows > 0) {
    if (v.is_cuda()) {
      TV3S_ON_CUDA(cuda::rms_norm_backward(v, weight, rstd, dy, dv_x, dv_residual, dweight));
    } else {
      dispatch_cpu_float("rms_norm backward", v, [&](auto tag) {
        using T = decltype(tag);
        rms_norm_backward_cpu(v.data<T>(), weight.data<T>(), rstd.data<T>(), dy.data<T>(), rows, C,
                              data_or_null<T>(dv_x), data_or_null<T>(dweight));
      });
    }
  } else if (want_dweight) {
    fill_(dweight, 0.0);  // no rows: a sum over nothing
  }
  return {want_dx ? dv_x : Tensor(), want_dresidual ? (one_dtype ? dv_x : dv_residual) : Tensor(),
          dweight};
}

}  // namespace

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  check_input("rms_norm", x, weight, eps);
  const int64_t C = x.size(-1), rows = x.numel() / C;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor rstd = Tensor::empty(Shape{rows}, stream_dtype(x), x.device());
  if (rows > 0) {
    if (x.is_cuda()) {
      Tensor none;
      TV3S_ON_CUDA(cuda::rms_norm_forward(x, Tensor(), weight, eps, y, none, rstd));
    } else {
      dispatch_cpu_float("rms_norm", x, [&](auto tag) {
        using T = decltype(tag);
        rms_norm_forward_cpu<T>(x.data<T>(), nullptr, weight.data<T>(), eps, rows, C, y.data<T>(),
                                nullptr, rstd.data<T>());
      });
    }
  }
  if (autograd::needs_grad(x, weight)) {
    const bool want_dx = x.requires_grad(), want_dweight = weight.requires_grad();
    autograd::record("rms_norm", y, {x, weight},
                     [x = x.detach(), weight = weight.detach(), rstd, want_dx,
                      want_dweight](const Tensor& dy) {
                       const std::vector<Tensor> g =
                           rms_norm_backward(x, weight, rstd, dy, want_dx, false, want_dweight);
                       return std::vector<Tensor>{g[0], g[2]};
                     });
  }
  return y;
}

AddRmsNormResult add_rms_norm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                              double eps) {
  check_input("add_rms_norm", x, weight, eps);
  const DType residual_dtype = stream_dtype(x);
  if (residual.defined()) {
    check_same_device("add_rms_norm", x, residual);
    TV3S_CHECK(residual.dtype() == residual_dtype, "add_rms_norm: residual must be ",
               dtype_name(residual_dtype), " (the residual stream is kept in f32, f64 for f64 x)",
               " for x ", x.desc(), ", got ", residual.desc());
    TV3S_CHECK(residual.shape() == x.shape(), "add_rms_norm: residual must have x's shape ",
               x.shape().str(), ", got ", residual.desc());
  }
  const int64_t C = x.size(-1), rows = x.numel() / C;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor residual_out = Tensor::empty(x.shape(), residual_dtype, x.device());
  Tensor rstd = Tensor::empty(Shape{rows}, residual_dtype, x.device());
  if (rows > 0) {
    if (x.is_cuda()) {
      TV3S_ON_CUDA(cuda::rms_norm_forward(x, residual, weight, eps, y, residual_out, rstd));
    } else {
      dispatch_cpu_float("add_rms_norm", x, [&](auto tag) {
        using T = decltype(tag);
        rms_norm_forward_cpu(x.data<T>(), data_or_null<T>(residual), weight.data<T>(), eps, rows,
                             C, y.data<T>(), residual_out.data<T>(), rstd.data<T>());
      });
    }
  }
  const bool want_dx = x.requires_grad(), want_dweight = weight.requires_grad();
  const bool want_dresidual = residual.defined() && residual.requires_grad();
  if (autograd::needs_grad(x, residual, weight)) {
    autograd::record("add_rms_norm", y, {x, residual, weight},
                     [v = residual_out.detach(), weight = weight.detach(), rstd, want_dx,
                      want_dresidual, want_dweight](const Tensor& dy) {
                       return rms_norm_backward(v, weight, rstd, dy, want_dx, want_dresidual,
                                                want_dweight);
                     });
  }
  // residual_out = residual + x: its cotangent goes unchanged to both.
  if (autograd::needs_grad(x, residual)) {
    autograd::record("add_rms_norm residual", residual_out, {x, residual},
                     [x_dtype = x.dtype(), residual_dtype, want_dx,
                      want_dresidual](const Tensor& g) {
                       return std::vector<Tensor>{want_dx ? g.to(x_dtype) : Tensor(),
                                                  want_dresidual ? g.to(residual_dtype) : Tensor()};
                     });
  }
  return {y, residual_out};
}

}  // namespace tv3s
