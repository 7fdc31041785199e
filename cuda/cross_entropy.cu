// Cross-entropy on the GPU, forward and backward (the math is in src/ops/cross_entropy.cpp).
// Forward: one thread per pixel. In [N, C, P] the C logits of a pixel lie P apart, so at
// every class the threads of a warp (consecutive pixels) read consecutive addresses.
// Each thread takes the max and then Σ exp over its pixel's classes, and writes the
// pixel's loss and log-sum-exp. ([N, C] classifier logits, P = 1, read with stride C:
// fine for the small C of segmentation, not tuned for thousands of classes.)
// The reduction is deterministic, without float atomics: threads accumulate their pixels
// (grid-stride, a fixed set per thread), each block adds its threads into one partial
// (block_sum), and a one-block second kernel adds the partials in a fixed order. The
// grid depends only on the pixel count, so the loss is the same bits on every run.
// Bad labels: the kernel keeps the smallest bad pixel index (integer atomicMin: the
// result does not depend on the order); the host reads it after a sync and throws.
// Backward: one thread per logit, elementwise, from the saved log-sum-exp.
#include <algorithm>
#include <climits>

#include "cuda/common.cuh"
#include "cuda/cross_entropy.h"
#include "cuda/row_reduce.cuh"

namespace tv3s::cuda {
namespace {

// What the host reads back after the forward kernels.
struct ForwardStatus {
  unsigned long long first_bad_pixel;  // kNoBadPixel when every label is valid
  long long valid_pixels;
};
constexpr unsigned long long kNoBadPixel = ULLONG_MAX;

// Partials of the first pass: at most this many blocks (a grid-stride loop covers more).
constexpr int64_t kMaxBlocks = 1024;

template <class T>
__global__ void cross_entropy_pixels_kernel(const T* logits, const int32_t* labels, int64_t pixels,
                                            int64_t C, int64_t inner, int ignore_index,
                                            float* pixel_loss, float* lse, float* block_loss,
                                            int* block_valid, ForwardStatus* status) {
  float loss_sum = 0.f;
  int valid = 0;
  TV3S_GRID_STRIDE(pixel, pixels) {
    const int32_t t = labels[pixel];
    float loss = 0.f, log_sum = 0.f;
    if (t != ignore_index) {
      if (t < 0 || t >= C) {
        atomicMin(&status->first_bad_pixel, (unsigned long long)pixel);
      } else {
        const T* xp = logits + (pixel / inner) * C * inner + pixel % inner;  // class c at xp[c·P]
        float m = -INFINITY;
        for (int64_t c = 0; c < C; ++c) m = fmaxf(m, to_f32(xp[c * inner]));
        float s = 0.f;
        for (int64_t c = 0; c < C; ++c) s += expf(to_f32(xp[c * inner]) - m);
        log_sum = m + logf(s);
        loss = log_sum - to_f32(xp[int64_t(t) * inner]);
        ++valid;
      }
    }
    pixel_loss[pixel] = loss;
    lse[pixel] = log_sum;
    loss_sum += loss;
  }
  loss_sum = block_sum(loss_sum);
  valid = block_sum(valid);
  if (threadIdx.x == 0) {
    block_loss[blockIdx.x] = loss_sum;
    block_valid[blockIdx.x] = valid;
  }
}

// One block: Σ of the partials, the valid count, and the reduced loss.
__global__ void cross_entropy_total_kernel(const float* block_loss, const int* block_valid,
                                           int blocks, bool divide_by_valid,
                                           double fixed_denominator, float* total,
                                           ForwardStatus* status) {
  float sum = 0.f;
  long long valid = 0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
    sum += block_loss[b];
    valid += block_valid[b];
  }
  sum = block_sum(sum);
  valid = block_sum(valid);
  if (threadIdx.x == 0) {
    status->valid_pixels = valid;
    if (total) {
      const double denominator = divide_by_valid ? double(valid) : fixed_denominator;
      *total = denominator > 0 ? float(double(sum) / denominator) : 0.f;
    }
  }
}

// dx = (exp(x − lse) − [c = t]) · g · scale; 0 at ignored pixels.
template <class T>
__global__ void cross_entropy_backward_kernel(const T* logits, const int32_t* labels,
                                              const float* lse, const float* grad,
                                              bool grad_per_pixel, float scale, int ignore_index,
                                              int64_t C, int64_t inner, int64_t n, T* dlogits) {
  TV3S_GRID_STRIDE(i, n) {
    const int64_t c = (i / inner) % C;
    const int64_t pixel = (i / (C * inner)) * inner + i % inner;
    const int32_t t = labels[pixel];
    float d = 0.f;
    if (t != ignore_index) {
      const float p = expf(to_f32(logits[i]) - lse[pixel]);
      d = (p - (c == t ? 1.f : 0.f)) * grad[grad_per_pixel ? pixel : 0] * scale;
    }
    dlogits[i] = from_f32<T>(d);
  }
}

}  // namespace

int64_t cross_entropy_forward(const Tensor& logits, const Tensor& labels, int ignore_index,
                              bool divide_by_valid, double fixed_denominator, int64_t outer,
                              int64_t classes, int64_t inner, Tensor& pixel_loss, Tensor& lse,
                              const Tensor& total) {
  const int64_t pixels = outer * inner;
  const int blocks = int(std::clamp<int64_t>((pixels + kThreads - 1) / kThreads, 1, kMaxBlocks));
  Tensor block_loss = Tensor::empty(Shape{blocks}, DType::f32, Device::CUDA);
  Tensor block_valid = Tensor::empty(Shape{blocks}, DType::i32, Device::CUDA);
  // 16 bytes of device scratch, from the caching allocator like every other buffer.
  Tensor status_bytes =
      Tensor::empty(Shape{int64_t(sizeof(ForwardStatus) / sizeof(int32_t))}, DType::i32, Device::CUDA);
  auto* status = static_cast<ForwardStatus*>(status_bytes.raw());
  TV3S_CUDA_CHECK(cudaMemsetAsync(&status->first_bad_pixel, 0xff, sizeof(unsigned long long), stream()));

  dispatch_float("cross_entropy", logits, [&](auto tag) {
    using T = decltype(tag);
    launch<cross_entropy_pixels_kernel<T>>(blocks, kThreads, 0, stream(), ptr<T>(logits),
                                           ptr<int32_t>(labels), pixels, classes, inner,
                                           ignore_index, ptr<float>(pixel_loss), ptr<float>(lse),
                                           ptr<float>(block_loss), ptr<int>(block_valid), status);
  });
  check_launch("cross_entropy");
  launch<cross_entropy_total_kernel>(
      1, kThreads, 0, stream(), ptr<float>(block_loss), ptr<int>(block_valid), blocks,
      divide_by_valid, fixed_denominator, total.defined() ? ptr<float>(total) : nullptr, status);
  check_launch("cross_entropy");

  ForwardStatus host{};
  TV3S_CUDA_CHECK(cudaMemcpyAsync(&host, status, sizeof host, cudaMemcpyDeviceToHost, stream()));
  TV3S_CUDA_CHECK(cudaStreamSynchronize(stream()));
  if (host.first_bad_pixel != kNoBadPixel) {
    int32_t label = 0;
    TV3S_CUDA_CHECK(cudaMemcpyAsync(&label, ptr<int32_t>(labels) + host.first_bad_pixel,
                                    sizeof label, cudaMemcpyDeviceToHost, stream()));
    TV3S_CUDA_CHECK(cudaStreamSynchronize(stream()));
    fail(str("cross_entropy: label ", label, " at pixel ", host.first_bad_pixel,
             " is outside [0, ", classes, ") and is not ignore_index ", ignore_index));
  }
  return int64_t(host.valid_pixels);
}

void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse,
                            const Tensor& grad, bool grad_per_pixel, double scale,
                            int ignore_index, int64_t outer, int64_t classes, int64_t inner,
                            Tensor& dlogits) {
  const int64_t n = outer * classes * inner;
  if (n == 0) return;
  dispatch_float("cross_entropy backward", logits, [&](auto tag) {
    using T = decltype(tag);
    launch<cross_entropy_backward_kernel<T>>(blocks_for(n), kThreads, 0, stream(), ptr<T>(logits),
                                             ptr<int32_t>(labels), ptr<float>(lse),
                                             ptr<float>(grad), grad_per_pixel, float(scale),
                                             ignore_index, classes, inner, n, ptr<T>(dlogits));
  });
  check_launch("cross_entropy backward");
}

}  // namespace tv3s::cuda
