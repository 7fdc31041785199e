// BatchNorm over the channel (last) dim on the GPU, forward and backward (the math is in
// src/ops/batchnorm.cpp). x is [rows, C], channels-last, so a channel is a strided column.
//  - Per-channel sums (Σx; Σ(x − μ)²; Σdy and Σdy·x̂ for the backward) are deterministic
//    two-pass column reductions, no atomics. Pass 1: a block of 32 channels × 8 row lanes
//    sums one chunk of rows (each thread walks its rows in order, then the 8 lanes are
//    added in order in shared memory) into one partial per (chunk, channel); a warp reads
//    32 consecutive channels of a row. Pass 2: one thread per channel adds the chunk
//    partials in order and finishes (the mean; or σ², rstd and the running statistics;
//    or the sums the gradients need). The chunking depends only on the shape, so every
//    run gives the same bits. Two passes over x for μ then σ² (no E[x²] − μ² cancellation).
//  - y and dx are elementwise: a thread per element, channel = index mod C.
// x, y, dy, dx are f32/f16/bf16; γ, β, the running statistics, the saved mean/rstd and all
// arithmetic are f32.
#include <algorithm>

#include "cuda/batchnorm.h"
#include "cuda/common.cuh"

namespace tv3s::cuda {
namespace {

constexpr int kChannelsPerBlock = 32;
constexpr int kRowLanes = 8;

// The terms summed per channel, two per element i = r·C + c (the second unused by the
// statistics).
template <class T>
struct XTerm {  // Σ x
  const T* x;
  __device__ float2 operator()(int64_t i, int64_t) const { return make_float2(to_f32(x[i]), 0.f); }
};

template <class T>
struct CenteredSquareTerm {  // Σ (x − μ)²
  const T* x;
  const float* mean;
  __device__ float2 operator()(int64_t i, int64_t c) const {
    const float d = to_f32(x[i]) - mean[c];
    return make_float2(d * d, 0.f);
  }
};

template <class T>
struct GradTerms {  // Σ dy, Σ dy·x̂
  const T* x;
  const T* dy;
  const float* mean;
  const float* rstd;
  __device__ float2 operator()(int64_t i, int64_t c) const {
    const float g = to_f32(dy[i]);
    return make_float2(g, g * (to_f32(x[i]) - mean[c]) * rstd[c]);
  }
};

// Pass 1. Block (32 channels, 8 row lanes); grid (channel tiles, row chunks).
template <class Term>
__global__ void channel_partial_sums(Term term, int64_t rows, int64_t C, int64_t rows_per_chunk,
                                     float2* partials) {
  TV3S_SHARED(float2, lane_sums, [kRowLanes][kChannelsPerBlock]);
  const int64_t c = int64_t(blockIdx.x) * kChannelsPerBlock + threadIdx.x;
  const int64_t begin = int64_t(blockIdx.y) * rows_per_chunk;
  const int64_t end = std::min(rows, begin + rows_per_chunk);
  float2 sum = make_float2(0.f, 0.f);
  if (c < C) {
    for (int64_t r = begin + threadIdx.y; r < end; r += kRowLanes) {
      const float2 t = term(r * C + c, c);
      sum.x += t.x;
      sum.y += t.y;
    }
  }
  lane_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float2 total = make_float2(0.f, 0.f);
    for (int lane = 0; lane < kRowLanes; ++lane) {
      total.x += lane_sums[lane][threadIdx.x].x;
      total.y += lane_sums[lane][threadIdx.x].y;
    }
    partials[int64_t(blockIdx.y) * C + c] = total;
  }
}

// Pass 2 helper: channel c's partials added in chunk order.
__device__ float2 sum_chunks(const float2* partials, int64_t chunks, int64_t C, int64_t c) {
  float2 total = make_float2(0.f, 0.f);
  for (int64_t k = 0; k < chunks; ++k) {
    total.x += partials[k * C + c].x;
    total.y += partials[k * C + c].y;
  }
  return total;
}

__global__ void finish_mean(const float2* partials, int64_t chunks, int64_t C, int64_t rows,
                            float* mean) {
  TV3S_GRID_STRIDE(c, C) mean[c] = sum_chunks(partials, chunks, C, c).x / float(rows);
}

// σ² (biased) → rstd; the running statistics (null when not tracked) take the unbiased σ².
__global__ void finish_variance(const float2* partials, int64_t chunks, int64_t C, int64_t rows,
                                float momentum, float eps, const float* mean, float* rstd,
                                float* running_mean, float* running_var) {
  TV3S_GRID_STRIDE(c, C) {
    const float squares = sum_chunks(partials, chunks, C, c).x;
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

// Row chunks of pass 1: ≥ 64 rows each, at most 256 of them.
struct Chunking {
  int64_t chunks, rows_per_chunk;
};

Chunking chunking_for(int64_t rows) {
  const int64_t chunks = std::clamp<int64_t>((rows + 63) / 64, 1, 256);
  return {chunks, std::max<int64_t>(1, (rows + chunks - 1) / chunks)};
}

// Pass 1 of a channel sum into a fresh [chunks, C] float2 buffer.
template <class Term>
Tensor partial_sums(const Term& term, int64_t rows, int64_t C, const Chunking& k) {
  Tensor partials = Tensor::empty(Shape{k.chunks, C, 2}, DType::f32, Device::CUDA);
  const dim3 grid(unsigned((C + kChannelsPerBlock - 1) / kChannelsPerBlock), unsigned(k.chunks));
  const dim3 block(kChannelsPerBlock, kRowLanes);
  launch<channel_partial_sums<Term>>(grid, block, 0, stream(), term, rows, C, k.rows_per_chunk,
                               ptr<float2>(partials));
  return partials;
}

}  // namespace

void batch_norm_batch_stats(const Tensor& x, double momentum, double eps, Tensor& mean,
                            Tensor& rstd, const Tensor& running_mean, const Tensor& running_var) {
  const int64_t C = x.size(-1), rows = x.numel() / C;
  const Chunking k = chunking_for(rows);
  float* running_mean_data = running_mean.defined() ? ptr<float>(running_mean) : nullptr;
  float* running_var_data = running_var.defined() ? ptr<float>(running_var) : nullptr;
  dispatch_float("batch_norm", x, [&](auto tag) {
    using T = decltype(tag);
    const Tensor sums = partial_sums(XTerm<T>{ptr<T>(x)}, rows, C, k);
    launch<finish_mean>(blocks_for(C), kThreads, 0, stream(), ptr<float2>(sums), k.chunks, C, rows,
                        ptr<float>(mean));
    const Tensor squares =
        partial_sums(CenteredSquareTerm<T>{ptr<T>(x), ptr<float>(mean)}, rows, C, k);
    launch<finish_variance>(blocks_for(C), kThreads, 0, stream(), ptr<float2>(squares), k.chunks, C,
                            rows, float(momentum), float(eps), ptr<float>(mean), ptr<float>(rstd),
                            running_mean_data, running_var_data);
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
      const Chunking k = chunking_for(rows);
      const Tensor partials = partial_sums(
          GradTerms<T>{ptr<T>(x), ptr<T>(dy), ptr<float>(mean), ptr<float>(rstd)}, rows, C, k);
      launch<finish_grad_sums>(blocks_for(C), kThreads, 0, stream(), ptr<float2>(partials),
                               k.chunks, C, ptr<float>(sum_dy), ptr<float>(sum_dy_xhat));
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
