// BatchNorm over the channel (last) dim of x [..., C], viewed as [rows, C], and its
// backward rule.
//
// Per channel c, over its n = rows values:
//   training:   μ = (1/n) Σ_r x[r, c]        σ² = (1/n) Σ_r (x[r, c] − μ)²   (biased; two passes)
//               running_mean ← (1 − m)·running_mean + m·μ
//               running_var  ← (1 − m)·running_var  + m·Σ_r (x[r, c] − μ)² / (n − 1)   (unbiased)
//   inference:  μ = running_mean                σ² = running_var
//   rstd = 1 / sqrt(σ² + eps)     x̂ = (x − μ)·rstd     y = x̂·γ + β   (γ = 1, β = 0 if not given)
// μ and rstd are saved for the backward pass (f64 on the CPU, f32 on CUDA), so a later
// update of the running statistics cannot change this op's gradient.
// Backward, with sums over the rows of each channel:
//   dβ = Σ dy      dγ = Σ dy·x̂
//   training:   dx = γ·rstd·(dy − dβ/n − x̂·dγ/n)   (μ and σ² depend on x: the two sums
//                                                    remove dy's components along 1 and x̂)
//   inference:  dx = γ·rstd·dy                      (μ and σ² are constants)
//
// Dtypes: x is f32/f64 on the CPU, f32/f16/bf16 on CUDA; γ, β and the running statistics
// are f32 (f64 when x is f64), whatever x's storage type.
// CPU: the per-channel sums run in double over fixed chunks of rows (chunks in parallel,
// then added in chunk order, so the bits do not depend on the number of threads); the
// elementwise passes run rows in parallel.
#include "tv3s/ops/batchnorm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/batchnorm.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

// --- CPU reference ---------------------------------------------------------------------

constexpr int64_t kRowsPerChunk = 256;

// Column sums over `rows` rows, in double: accumulate(r, acc) adds the terms of row r to
// acc[0, width). Returns the [width] totals.
template <class F>
std::vector<double> column_sums(int64_t rows, int64_t width, F accumulate) {
  const int64_t chunks = (rows + kRowsPerChunk - 1) / kRowsPerChunk;
  std::vector<double> partial(size_t(chunks * width), 0.0);
  parallel_for(chunks, rows * width > 32768, [&](int64_t k) {
    double* acc = partial.data() + k * width;
    for (int64_t r = k * kRowsPerChunk; r < std::min(rows, (k + 1) * kRowsPerChunk); ++r)
      accumulate(r, acc);
  });
  std::vector<double> total(size_t(width), 0.0);
  for (int64_t k = 0; k < chunks; ++k)
    for (int64_t j = 0; j < width; ++j) total[j] += partial[k * width + j];
  return total;
}

// Training: μ and rstd from the batch; running statistics (may be null) updated.
template <class T>
void batch_stats_cpu(const T* x, int64_t rows, int64_t C, double momentum, double eps,
                     T* running_mean, T* running_var, double* mean, double* rstd) {
  const std::vector<double> sums = column_sums(rows, C, [&](int64_t r, double* acc) {
    for (int64_t c = 0; c < C; ++c) acc[c] += x[r * C + c];
  });
  for (int64_t c = 0; c < C; ++c) mean[c] = sums[c] / double(rows);
  const std::vector<double> squares = column_sums(rows, C, [&](int64_t r, double* acc) {
    for (int64_t c = 0; c < C; ++c) {
      const double d = x[r * C + c] - mean[c];
      acc[c] += d * d;
    }
  });
  for (int64_t c = 0; c < C; ++c) {
    rstd[c] = 1.0 / std::sqrt(squares[c] / double(rows) + eps);
    if (running_mean) {
      running_mean[c] = T((1 - momentum) * running_mean[c] + momentum * mean[c]);
      running_var[c] =
          T((1 - momentum) * running_var[c] + momentum * squares[c] / double(rows - 1));
    }
  }
}

template <class T>
void running_stats_cpu(const T* running_mean, const T* running_var, int64_t C, double eps,
                       double* mean, double* rstd) {
  for (int64_t c = 0; c < C; ++c) {
    mean[c] = running_mean[c];
    rstd[c] = 1.0 / std::sqrt(double(running_var[c]) + eps);
  }
}

template <class T>
void normalize_cpu(const T* x, const double* mean, const double* rstd, const T* weight,
                   const T* bias, int64_t rows, int64_t C, T* y) {
  parallel_for(rows, rows * C > 32768, [&](int64_t r) {
    for (int64_t c = 0; c < C; ++c) {
      const double xhat = (x[r * C + c] - mean[c]) * rstd[c];
      y[r * C + c] = T(xhat * (weight ? double(weight[c]) : 1.0) + (bias ? double(bias[c]) : 0.0));
    }
  });
}

// dx, dweight, dbias (each may be null).
template <class T>
void batch_norm_backward_cpu(const T* x, const T* weight, const double* mean, const double* rstd,
                             const T* dy, int64_t rows, int64_t C, bool training, T* dx, T* dweight,
                             T* dbias) {
  // [Σ dy | Σ dy·x̂] per channel: dβ and dγ, and in training a part of dx.
  std::vector<double> sums(size_t(2 * C), 0.0);
  if (dweight || dbias || (dx && training)) {
    sums = column_sums(rows, 2 * C, [&](int64_t r, double* acc) {
      for (int64_t c = 0; c < C; ++c) {
        const double g = dy[r * C + c];
        acc[c] += g;
        acc[C + c] += g * (x[r * C + c] - mean[c]) * rstd[c];
      }
    });
  }
  const double* sum_dy = sums.data();
  const double* sum_dy_xhat = sums.data() + C;
  for (int64_t c = 0; c < C; ++c) {
    if (dbias) dbias[c] = T(sum_dy[c]);
    if (dweight) dweight[c] = T(sum_dy_xhat[c]);
  }
  if (!dx) return;
  const double n = double(rows);
  parallel_for(rows, rows * C > 32768, [&](int64_t r) {
    for (int64_t c = 0; c < C; ++c) {
      const double scale = (weight ? double(weight[c]) : 1.0) * rstd[c];
      double g = dy[r * C + c];
      if (training) {
        const double xhat = (x[r * C + c] - mean[c]) * rstd[c];
        g -= (sum_dy[c] + xhat * sum_dy_xhat[c]) / n;
      }
      dx[r * C + c] = T(scale * g);
    }
  });
}

// --- checks and dispatch ---------------------------------------------------------------

// γ, β and the running statistics: f32, or f64 for f64 x (whatever x's storage type).
DType param_dtype(const Tensor& x) { return x.dtype() == DType::f64 ? DType::f64 : DType::f32; }

void check_channel_vector(const char* name, const Tensor& t, const Tensor& x) {
  if (!t.defined()) return;
  check_same_device("batch_norm", x, t);
  TV3S_CHECK(t.dtype() == param_dtype(x), "batch_norm: ", name, " ", t.desc(), " must be ",
             dtype_name(param_dtype(x)), " for x ", x.desc(),
             " (γ, β and running statistics are f32, or f64 for f64 x)");
  TV3S_CHECK(t.shape() == Shape{x.size(-1)}, "batch_norm: ", name, " ", t.desc(),
             " must be [C] = [", x.size(-1), "] for x ", x.desc());
}

std::vector<Tensor> batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                                        const Tensor& rstd, const Tensor& grad, bool training,
                                        bool want_dx, bool want_dweight, bool want_dbias) {
  const Tensor dy = grad.to(x.dtype());
  const int64_t C = x.size(-1), rows = x.numel() / C;
  const DType pdtype = param_dtype(x);
  Tensor dx = want_dx ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor dweight = want_dweight ? Tensor::empty(Shape{C}, pdtype, x.device()) : Tensor();
  Tensor dbias = want_dbias ? Tensor::empty(Shape{C}, pdtype, x.device()) : Tensor();
  if (x.is_cuda()) {
    TV3S_ON_CUDA(
        cuda::batch_norm_backward(x, weight, mean, rstd, dy, training, dx, dweight, dbias));
  } else {
    dispatch_cpu_float("batch_norm backward", x, [&](auto tag) {
      using T = decltype(tag);
      batch_norm_backward_cpu(x.data<T>(), data_or_null<T>(weight), mean.data<double>(),
                              rstd.data<double>(), dy.data<T>(), rows, C, training,
                              data_or_null<T>(dx), data_or_null<T>(dweight),
                              data_or_null<T>(dbias));
    });
  }
  return {dx, dweight, dbias};
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum, double eps) {
  check_compute_dtype("batch_norm", x);
  TV3S_CHECK(x.ndim() >= 1 && x.size(-1) > 0, "batch_norm: needs x [..., C] with C > 0, got ",
             x.desc());
  TV3S_CHECK(eps >= 0, "batch_norm: eps must be ≥ 0, got ", eps);
  TV3S_CHECK(momentum >= 0 && momentum <= 1, "batch_norm: momentum must be in [0, 1], got ",
             momentum);
  check_channel_vector("weight", weight, x);
  check_channel_vector("bias", bias, x);
  check_channel_vector("running_mean", running_mean, x);
  check_channel_vector("running_var", running_var, x);
  TV3S_CHECK(running_mean.defined() == running_var.defined(),
             "batch_norm: give both running_mean and running_var, or neither");
  TV3S_CHECK(training || running_mean.defined(),
             "batch_norm: inference (training = false) needs running_mean and running_var");
  const int64_t C = x.size(-1), rows = x.numel() / C;
  TV3S_CHECK(!training || rows > 1,
             "batch_norm: training needs more than 1 value per channel, got x ", x.desc());

  const DType stat_dtype = x.is_cuda() ? DType::f32 : DType::f64;
  Tensor mean = Tensor::empty(Shape{C}, stat_dtype, x.device());
  Tensor rstd = Tensor::empty(Shape{C}, stat_dtype, x.device());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (x.is_cuda()) {
    if (training)
      TV3S_ON_CUDA(
          cuda::batch_norm_batch_stats(x, momentum, eps, mean, rstd, running_mean, running_var));
    else
      TV3S_ON_CUDA(cuda::batch_norm_running_stats(running_mean, running_var, eps, mean, rstd));
    if (rows > 0) TV3S_ON_CUDA(cuda::batch_norm_apply(x, mean, rstd, weight, bias, y));
  } else {
    dispatch_cpu_float("batch_norm", x, [&](auto tag) {
      using T = decltype(tag);
      if (training) {
        batch_stats_cpu(x.data<T>(), rows, C, momentum, eps, data_or_null<T>(running_mean),
                        data_or_null<T>(running_var), mean.data<double>(), rstd.data<double>());
      } else {
        running_stats_cpu(running_mean.data<T>(), running_var.data<T>(), C, eps,
                          mean.data<double>(), rstd.data<double>());
      }
      normalize_cpu(x.data<T>(), mean.data<double>(), rstd.data<double>(), data_or_null<T>(weight),
                    data_or_null<T>(bias), rows, C, y.data<T>());
    });
  }
  if (autograd::needs_grad(x, weight, bias)) {
    const bool want_dx = x.requires_grad();
    const bool want_dweight = weight.defined() && weight.requires_grad();
    const bool want_dbias = bias.defined() && bias.requires_grad();
    autograd::record("batch_norm", y, {x, weight, bias},
                     [x = x.detach(), weight = weight.detach(), mean, rstd, training, want_dx,
                      want_dweight, want_dbias](const Tensor& dy) {
                       return batch_norm_backward(x, weight, mean, rstd, dy, training, want_dx,
                                                  want_dweight, want_dbias);
                     });
  }
  return y;
}

}  // namespace tv3s
