// LayerNorm over the last dim, and its backward rule.
//
// x is viewed as [rows, C]. For each row:
//   μ = (1/C) Σ_c x_c      σ² = (1/C) Σ_c (x_c − μ)²   (biased, as PyTorch)
//   rstd = 1 / sqrt(σ² + eps)      x̂_c = (x_c − μ) · rstd      y_c = x̂_c · γ_c + β_c
// with γ = 1 and β = 0 when weight / bias are not given. μ and rstd are saved per row
// (f32, or f64 for f64 input) for the backward pass.
// Backward, with g_c = dy_c · γ_c:
//   dx_c = rstd · (g_c − mean_c(g) − x̂_c · mean_c(g · x̂))
//   dγ_c = Σ_rows dy_c · x̂_c          dβ_c = Σ_rows dy_c
// (dx: differentiate x̂ through μ and rstd; the two means are the projections that
// remove the components along 1 and along x̂.)
#include "tv3s/ops/layernorm.h"

#include <cmath>

#include "cuda/layernorm.h"
#include "src/core/parallel.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

// --- CPU reference: sums in double (the accurate side) ------------------------------

template <class T>
void layer_norm_forward_cpu(const T* x, const T* weight, const T* bias, double eps, int64_t rows,
                            int64_t C, T* y, T* mean, T* rstd) {
  parallel_for(rows, rows * C > 32768, [&](int64_t r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    double sum = 0;
    for (int64_t c = 0; c < C; ++c) sum += xr[c];
    const double mu = sum / double(C);
    double squares = 0;  // Σ (x − μ)², two passes: no cancellation as in E[x²] − μ²
    for (int64_t c = 0; c < C; ++c) squares += (xr[c] - mu) * (xr[c] - mu);
    const double rs = 1.0 / std::sqrt(squares / double(C) + eps);
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (xr[c] - mu) * rs;
      yr[c] = T(xhat * (weight ? double(weight[c]) : 1.0) + (bias ? double(bias[c]) : 0.0));
    }
    mean[r] = T(mu);
    rstd[r] = T(rs);
  });
}

// dx for each row (rows in parallel); dweight/dbias (may be null) for each column, summed
// over the rows in order (columns in parallel), so the result does not depend on threads.
template <class T>
void layer_norm_backward_cpu(const T* x, const T* weight, const T* mean, const T* rstd,
                             const T* dy, int64_t rows, int64_t C, T* dx, T* dweight, T* dbias) {
  if (dx) {
    parallel_for(rows, rows * C > 32768, [&](int64_t r) {
      const T *xr = x + r * C, *dyr = dy + r * C;
      const double mu = mean[r], rs = rstd[r];
      double sum_g = 0, sum_g_xhat = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double g = dyr[c] * (weight ? double(weight[c]) : 1.0);
        sum_g += g;
        sum_g_xhat += g * (xr[c] - mu) * rs;
      }
      const double mean_g = sum_g / double(C), mean_g_xhat = sum_g_xhat / double(C);
      for (int64_t c = 0; c < C; ++c) {
        const double g = dyr[c] * (weight ? double(weight[c]) : 1.0);
        const double xhat = (xr[c] - mu) * rs;
        dx[r * C + c] = T(rs * (g - mean_g - xhat * mean_g_xhat));
      }
    });
  }
  if (dweight || dbias) {
    parallel_for(C, rows * C > 32768, [&](int64_t c) {
      double sum_dy_xhat = 0, sum_dy = 0;
      for (int64_t r = 0; r < rows; ++r) {
        const double d = dy[r * C + c];
        sum_dy_xhat += d * (x[r * C + c] - double(mean[r])) * double(rstd[r]);
        sum_dy += d;
      }
      if (dweight) dweight[c] = T(sum_dy_xhat);
      if (dbias) dbias[c] = T(sum_dy);
    });
  }
}

// --- checks and dispatch ----------------------------------------------------------------

void check_param(const char* name, const Tensor& param, const Tensor& x) {
  if (!param.defined()) return;
  check_same_device("layer_norm", x, param);
  check_same_dtype("layer_norm", x, param);
  TV3S_CHECK(param.shape() == Shape{x.size(-1)}, "layer_norm: ", name, " ", param.desc(),
             " must be [C] = [", x.size(-1), "] for x ", x.desc());
}

// Gradients of x, weight and bias (each computed only when `want_*`; else undefined).
std::vector<Tensor> layer_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                                        const Tensor& rstd, const Tensor& grad, bool want_dx,
                                        bool want_dweight, bool want_dbias) {
  const Tensor dy = grad.to(x.dtype());
  const int64_t C = x.size(-1), rows = x.numel() / C;
  const Shape param_shape{C};
  Tensor dx = want_dx ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor dweight = want_dweight ? Tensor::empty(param_shape, x.dtype(), x.device()) : Tensor();
  Tensor dbias = want_dbias ? Tensor::empty(param_shape, x.dtype(), x.device()) : Tensor();
  if (x.is_cuda()) {
    TV3S_ON_CUDA(cuda::layer_norm_backward(x, weight, mean, rstd, dy, dx, dweight, dbias));
  } else {
    dispatch_cpu_float("layer_norm backward", x, [&](auto tag) {
      using T = decltype(tag);
      layer_norm_backward_cpu(x.data<T>(), data_or_null<T>(weight), mean.data<T>(), rstd.data<T>(),
                              dy.data<T>(), rows, C, data_or_null<T>(dx), data_or_null<T>(dweight),
                              data_or_null<T>(dbias));
    });
  }
  return {dx, dweight, dbias};
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_compute_dtype("layer_norm", x);
  TV3S_CHECK(x.ndim() >= 1 && x.size(-1) > 0, "layer_norm: needs x [..., C] with C > 0, got ",
             x.desc());
  TV3S_CHECK(eps >= 0, "layer_norm: eps must be ≥ 0, got ", eps);
  check_param("weight", weight, x);
  check_param("bias", bias, x);
  const int64_t C = x.size(-1), rows = x.numel() / C;
  // Row statistics in f32 (f64 for f64 input): f16/bf16 would lose the variance.
  const DType stat_dtype = x.dtype() == DType::f64 ? DType::f64 : DType::f32;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty(Shape{rows}, stat_dtype, x.device());
  Tensor rstd = Tensor::empty(Shape{rows}, stat_dtype, x.device());
  if (rows > 0) {
    if (x.is_cuda()) {
      TV3S_ON_CUDA(cuda::layer_norm_forward(x, weight, bias, eps, y, mean, rstd));
    } else {
      dispatch_cpu_float("layer_norm", x, [&](auto tag) {
        using T = decltype(tag);
        layer_norm_forward_cpu(x.data<T>(), data_or_null<T>(weight), data_or_null<T>(bias), eps,
                               rows, C, y.data<T>(), mean.data<T>(), rstd.data<T>());
      });
    }
  }
  if (autograd::needs_grad(x, weight, bias)) {
    const bool want_dx = x.requires_grad();
    const bool want_dweight = weight.defined() && weight.requires_grad();
    const bool want_dbias = bias.defined() && bias.requires_grad();
    autograd::record("layer_norm", y, {x, weight, bias},
                     [x = x.detach(), weight = weight.detach(), mean, rstd, want_dx, want_dweight,
                      want_dbias](const Tensor& dy) {
                       return layer_norm_backward(x, weight, mean, rstd, dy, want_dx, want_dweight,
                                                  want_dbias);
                     });
  }
  return y;
}

}  // namespace tv3s
