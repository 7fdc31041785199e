// BatchNorm over the channel (last) dim on the GPU, forward and backward (the math is in
// src/ops/batchnorm.cpp). x is [rows, C], channels-last, so a channel is a strided column.
//  - Per-channel sums (Σx; Σ(x − μ)²; Σdy and Σdy·x̂ for the backward) are the
//    deterministic two-pass column sums of column_reduce.cuh; the finish (pass 2) here
//    makes the mean; or σ², rstd and the running statistics; or the sums the gradients
//    need. Two passes over x for μ then σ² (no E[x²] − μ² cancellation).
//  - y and dx are elementwise: a thread per element, channel = index mod C.
// x, y, dy, dx are f32/f16/bf16; γ, β, the running statistics, the saved mean/rstd and all
// arithmetic are f32.
#include "cuda/batchnorm.h"
#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"

namespace tv3s::cuda {
namespace {

// The terms summed per channel c over the rows r (column_reduce.cuh).
template <class T>
struct XTerm {  // Σ x
  using Sum = float;
  const T* x;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, float& sum) const {
    sum += to_f32(x[r * C + c]);
  }
};

template <class T>
struct CenteredSquareTerm {  // Σ (x − μ)²
  using Sum = float;
  const T* x;
  const float* mean;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, float& sum) const {
    const float d = to_f32(x[r * C + c]) - mean[c];
    sum += d * d;
  }
};

template <class T>
struct GradTerms {  // Σ dy, Σ dy·x̂
  using Sum = float2;
  const T* x;
  const T* dy;
  const float* mean;
  const float* rstd;
  int64_t C;
  __device__ void operator()(int64_t r, int64_t c, float2& sum) const {
    const float g = to_f32(dy[r * C + c]);
    sum.x += g;
    sum.y += g * (to_f32(x[r * C + c]) - mean[c]) * rstd[c];
  }
};

__global__ void finish_mean(const float* partials, int64_t chunks, int64_t C, int64_t rows,
                            float* mean) {
  TV3S_GRID_STRIDE(c, C) mean[c] = sum_chunks(partials, chunks, C, c) / float(rows);
}

// σ² (biased) → rstd; the running statistics (null when not tracked) take the unbiased σ².
__global__ void finish_variance(const float* partials, int64_t chunks, int64_t C, int64_t rows,
                                float momentum, float eps, const float* mean, float* rstd,
                                float* running_mean, float* running_var) {
  TV3S_GRID_STRIDE(c, C) {
    const float squares = sum_chunks(partials, chunks, C, c);
    rstd[c] = rsqrtf(squares / float(rows) + eps);
    if (running_mean) {
      running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * mean[c];
      running_var[c] = (1.f - momentum) * running_var[c] + momentum * (squares / float(rows - 1));
    }
  }
}

__global__ void finish_grad_sums(const float2* partials, int64_t chunks, int64_t C, float* sum_dy,
                                 float* sum_dy_xhat) {
  TV3S_GRID_STRIDE(c, C) {
    const float2 total = sum_chunks(partials, chunks, C, c);
    sum_dy[c] = total.x;
    sum_dy_xhat[c] = total.y;
  }
}

__global__ void running_stats_kernel(const float* running_mean, const float* running_var, float eps,
                                     int64_t C, float* mean, float* rstd) {
  TV3S_GRID_STRIDE(c, C) {
    mean[c] = running_mean[c];
    rstd[c] = rsqrtf(running_var[c] + eps);
  }
}

template <class T>
__global__ void batch_norm_apply_kernel(const T* x, const float* mean, const float* rstd,
                                        const float* weight, const float* bias, int64_t n,
                                        int64_t C, T* y) {
  TV3S_GRID_STRIDE(i, n) {
    const int64_t c = i % C;
    const float xhat = (to_f32(x[i]) - mean[c]) * rstd[c];
    y[i] = from_f32<T>(xhat * (weight ? weight[c] : 1.f) + (bias ? bias[c] : 0.f));
  }
}

// dx = γ·rstd·(dy − (Σdy + x̂·Σdy·x̂)/rows) in training (sums given), γ·rstd·dy otherwise.
template <class T>
__global__ void batch_norm_dx_kernel(const T* x, const T* dy, const float* weight,
                                     const float* mean, const float* rstd, const float* sum_dy,
                                     const float* sum_dy_xhat, int64_t rows, int64_t n, int64_t C,
                                     T* dx) {
  TV3S_GRID_STRIDE(i, n) {
    const int64_t c = i % C;
    float g = to_f32(dy[i]);
    if (sum_dy) {
      const float xhat = (to_f32(x[i]) - mean[c]) * rstd[c];
      g -= (sum_dy[c] + xhat * sum_dy_xhat[c]) / float(rows);
    }
    dx[i] = from_f32<T>((weight ? weight[c] : 1.f) * rstd[c] * g);
  }
}

}  // namespace

void batch_norm_batch_stats(const Tensor& x, double momentum, double eps, Tensor& mean,
                            Tensor& rstd, const Tensor& running_mean, const Tensor& running_var) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  float* running_mean_data = running_mean.defined() ? ptr<float>(running_mean) : nullptr;
  float* running_var_data = running_var.defined() ? ptr<float>(running_var) : nullptr;
  dispatch_float("batch_norm", x, [&](auto tag) {
    using T = decltype(tag);
    const ColumnPartials sums = column_partials(XTerm<T>{ptr<T>(x), C}, rows, C);
    launch<finish_mean>(blocks_for(C), kThreads, 0, stream(), ptr<float>(sums.data), sums.chunks,
                        C, rows, ptr<float>(mean));
    const ColumnPartials squares =
        column_partials(CenteredSquareTerm<T>{ptr<T>(x), ptr<float>(mean), C}, rows, C);
    launch<finish_variance>(blocks_for(C), kThreads, 0, stream(), ptr<float>(squares.data),
                            squares.chunks, C, rows, float(momentum), float(eps), ptr<float>(mean),
                            ptr<float>(rstd), running_mean_data, running_var_data);
  });
  check_launch("batch_norm statistics");
}

void batch_norm_running_stats(const Tensor& running_mean, const Tensor& running_var, double eps,
                              Tensor& mean, Tensor& rstd) {
  const int64_t C = running_mean.numel();
  launch<running_stats_kernel>(blocks_for(C), kThreads, 0, stream(), ptr<float>(running_mean),
                               ptr<float>(running_var), float(eps), C, ptr<float>(mean),
                               ptr<float>(rstd));
  check_launch("batch_norm running statistics");
}

void batch_norm_apply(const Tensor& x, const Tensor& mean, const Tensor& rstd, const Tensor& weight,
                      const Tensor& bias, Tensor& y) {
  const int64_t n = x.numel(), C = x.size(-1);
  dispatch_float("batch_norm", x, [&](auto tag) {
    using T = decltype(tag);
    launch<batch_norm_apply_kernel<T>>(
        blocks_for(n), kThreads, 0, stream(), ptr<T>(x), ptr<float>(mean), ptr<float>(rstd),
        ptr_or_null<float>(weight), ptr_or_null<float>(bias), n, C, ptr<T>(y));
  });
  check_launch("batch_norm");
}

void batch_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& dy, bool training, Tensor& dx,
                         Tensor& dweight, Tensor& dbias) {
  const int64_t n = x.numel(), C = x.size(-1), rows = n / C;
  dispatch_float("batch_norm backward", x, [&](auto tag) {
    using T = decltype(tag);
    // Σdy and Σdy·x̂ are dβ and dγ: written straight into them when asked for.
    const bool need_sums = dweight.defined() || dbias.defined() || (dx.defined() && training);
    Tensor sum_dy, sum_dy_xhat;
    if (need_sums) {
      sum_dy = dbias.defined() ? dbias : Tensor::empty(Shape{C}, DType::f32, Device::CUDA);
      sum_dy_xhat = dweight.defined() ? dweight : Tensor::empty(Shape{C}, DType::f32, Device::CUDA);
      const ColumnPartials partials = column_partials(
          GradTerms<T>{ptr<T>(x), ptr<T>(dy), ptr<float>(mean), ptr<float>(rstd), C}, rows, C);
      launch<finish_grad_sums>(blocks_for(C), kThreads, 0, stream(), ptr<float2>(partials.data),
                               partials.chunks, C, ptr<float>(sum_dy), ptr<float>(sum_dy_xhat));
    }
    if (dx.defined() && n > 0) {
      launch<batch_norm_dx_kernel<T>>(
          blocks_for(n), kThreads, 0, stream(), ptr<T>(x), ptr<T>(dy), ptr_or_null<float>(weight),
          ptr<float>(mean), ptr<float>(rstd), training ? ptr<float>(sum_dy) : nullptr,
          training ? ptr<float>(sum_dy_xhat) : nullptr, rows, n, C, ptr<T>(dx));
    }
  });
  check_launch("batch_norm backward");
}

}  // namespace tv3s::cuda
