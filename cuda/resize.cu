// Bilinear resize on the GPU, forward and backward (the math is in src/ops/resize.cpp).
// Both kernels give one thread one element of their output, channels fastest, so a warp
// reads and writes the contiguous channels of neighbouring pixels:
//  - forward: a thread per y element blends its 4 taps.
//  - argmax (resize_bilinear_argmax): a thread per output pixel blends its C channels
//    one after the other with the forward's own `blend` and keeps the first maximum, so
//    its labels are the forward's argmax exactly; the resized scores are never stored.
//  - backward: a thread per dx element gathers over the outputs that read it. Those
//    form an interval per axis, found by binary search on the tap function (monotone in
//    the output index) — the same function the forward uses, so both agree on every
//    tap. No atomics: the order of additions is fixed, the result deterministic.
// Grid: blockIdx.y walks the rows (n, h) of the output, blockIdx.x/threadIdx.x cover a
// row's W·C elements with 32-bit index math; what depends only on the row (the H taps,
// the H interval) is computed once per row. Coordinates and sums in f32 (as PyTorch's
// CUDA kernels); storage f32/f16/bf16.
#include <algorithm>

#include "cuda/common.cuh"
#include "cuda/resize.h"

namespace tv3s::cuda {
namespace {

struct Tap {
  int i0, i1;
  float l0, l1;
};

// The CPU twin is tap<float> in src/ops/resize.cpp: same operations, same roundings.
// __fmul_rn/__fsub_rn are never contracted into an FMA (nvcc would), so src is rounded
// after each operation as on the CPU and in PyTorch's CPU kernel.
__device__ __forceinline__ Tap tap(int o, int in, int out, float scale) {
  if (in == out) return {o, o, 1.f, 0.f};
  const float src = fmaxf(__fsub_rn(__fmul_rn(scale, float(o) + 0.5f), 0.5f), 0.f);
  const int i0 = min(int(floorf(src)), in - 1);
  const float l1 = fminf(fmaxf(src - float(i0), 0.f), 1.f);
  return {i0, min(i0 + 1, in - 1), 1.f - l1, l1};
}

// Weight of input i in output o's blend (0 when o does not read i).
__device__ __forceinline__ float tap_weight(const Tap& t, int i) {
  return (t.i0 == i ? t.l0 : 0.f) + (t.i1 == i ? t.l1 : 0.f);
}

// The outputs that read input i: [first, end), first = min{o : i1(o) ≥ i},
// end = min{o : i0(o) > i} (both predicates are monotone in o).
struct Interval {
  int first, end;
};

__device__ Interval outputs_reading(int i, int in, int out, float scale) {
  int lo = 0, hi = out;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (tap(mid, in, out, scale).i1 >= i) hi = mid;
    else lo = mid + 1;
  }
  const int first = lo;
  hi = out;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (tap(mid, in, out, scale).i0 > i) hi = mid;
    else lo = mid + 1;
  }
  return {first, lo};
}

struct Sizes {
  int64_t N;
  int in_h, in_w, out_h, out_w, C;
  float scale_h, scale_w;  // in / out, rounded to float as PyTorch's accscalar_t
};

// Channel c of one output pixel from its four taps (offsets `left`, `right` in the two
// input rows), as stored in T: the forward writes it, the argmax compares it.
template <class T>
__device__ __forceinline__ T blend(const Tap& th, const Tap& tw, const T* x_top, const T* x_bottom,
                                   int left, int right) {
  const float top = tw.l0 * to_f32(x_top[left]) + tw.l1 * to_f32(x_top[right]);
  const float bottom = tw.l0 * to_f32(x_bottom[left]) + tw.l1 * to_f32(x_bottom[right]);
  return from_f32<T>(th.l0 * top + th.l1 * bottom);
}

template <class T>
__global__ void resize_bilinear_forward_kernel(const T* x, Sizes s, T* y) {
  const int row_len = s.out_w * s.C;
  for (int64_t row = blockIdx.y; row < s.N * s.out_h; row += gridDim.y) {
    const int64_t n = row / s.out_h;
    const Tap th = tap(int(row - n * s.out_h), s.in_h, s.out_h, s.scale_h);
    const T* x_top = x + (n * s.in_h + th.i0) * s.in_w * s.C;
    const T* x_bottom = x + (n * s.in_h + th.i1) * s.in_w * s.C;
    T* y_row = y + row * row_len;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < row_len; j += blockDim.x * gridDim.x) {
      const int ow = j / s.C, c = j - ow * s.C;
      const Tap tw = tap(ow, s.in_w, s.out_w, s.scale_w);
      y_row[j] = blend(th, tw, x_top, x_bottom, tw.i0 * s.C + c, tw.i1 * s.C + c);
    }
  }
}

// labels [N, out_h, out_w]: a thread per output pixel, the channels in order.
template <class T>
__global__ void resize_bilinear_argmax_kernel(const T* x, Sizes s, int32_t* labels) {
  for (int64_t row = blockIdx.y; row < s.N * s.out_h; row += gridDim.y) {
    const int64_t n = row / s.out_h;
    const Tap th = tap(int(row - n * s.out_h), s.in_h, s.out_h, s.scale_h);
    const T* x_top = x + (n * s.in_h + th.i0) * s.in_w * s.C;
    const T* x_bottom = x + (n * s.in_h + th.i1) * s.in_w * s.C;
    for (int ow = blockIdx.x * blockDim.x + threadIdx.x; ow < s.out_w; ow += blockDim.x * gridDim.x) {
      const Tap tw = tap(ow, s.in_w, s.out_w, s.scale_w);
      float best_value = to_f32(blend(th, tw, x_top, x_bottom, tw.i0 * s.C, tw.i1 * s.C));
      int best = 0;
      for (int c = 1; c < s.C; ++c) {
        const float v = to_f32(blend(th, tw, x_top, x_bottom, tw.i0 * s.C + c, tw.i1 * s.C + c));
        if (v > best_value) {  // strict: the first maximum wins, NaN never does (as argmax)
          best_value = v;
          best = c;
        }
      }
      labels[row * s.out_w + ow] = best;
    }
  }
}

template <class T>
__global__ void resize_bilinear_backward_kernel(const T* dy, Sizes s, T* dx) {
  const int row_len = s.in_w * s.C;
  for (int64_t row = blockIdx.y; row < s.N * s.in_h; row += gridDim.y) {
    const int64_t n = row / s.in_h;
    const int ih = int(row - n * s.in_h);
    const Interval rows_h = outputs_reading(ih, s.in_h, s.out_h, s.scale_h);
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < row_len; j += blockDim.x * gridDim.x) {
      const int iw = j / s.C, c = j - iw * s.C;
      const Interval cols_w = outputs_reading(iw, s.in_w, s.out_w, s.scale_w);
      float sum = 0.f;
      for (int oh = rows_h.first; oh < rows_h.end; ++oh) {
        const float wh = tap_weight(tap(oh, s.in_h, s.out_h, s.scale_h), ih);
        const T* dy_row = dy + (n * s.out_h + oh) * s.out_w * s.C + c;
        for (int ow = cols_w.first; ow < cols_w.end; ++ow) {
          const float ww = tap_weight(tap(ow, s.in_w, s.out_w, s.scale_w), iw);
          sum += wh * ww * to_f32(dy_row[int64_t(ow) * s.C]);
        }
      }
      dx[row * row_len + j] = from_f32<T>(sum);
    }
  }
}

Sizes sizes_of(const Tensor& input, const Tensor& output) {
  Sizes s;
  s.N = input.size(0);
  s.in_h = int(input.size(1));
  s.in_w = int(input.size(2));
  s.out_h = int(output.size(1));
  s.out_w = int(output.size(2));
  s.C = int(input.size(3));
  s.scale_h = float(s.in_h) / float(s.out_h);
  s.scale_w = float(s.in_w) / float(s.out_w);
  return s;
}

// x blocks cover one row of row_len elements; y blocks walk the rows (kernels loop).
dim3 grid_for_rows(int64_t rows, int row_len) {
  return dim3(blocks_for(row_len), unsigned(std::clamp<int64_t>(rows, 1, 65535)));
}

}  // namespace

void resize_bilinear_forward(const Tensor& x, Tensor& y) {
  const Sizes s = sizes_of(x, y);
  dispatch_float("resize_bilinear", x, [&](auto tag) {
    using T = decltype(tag);
    const dim3 grid = grid_for_rows(s.N * s.out_h, s.out_w * s.C);
    launch<resize_bilinear_forward_kernel<T>>(grid, kThreads, 0, stream(), ptr<T>(x), s, ptr<T>(y));
  });
  check_launch("resize_bilinear");
}

void resize_bilinear_argmax(const Tensor& x, Tensor& labels) {
  const Sizes s = sizes_of(x, labels);  // labels [N, out_h, out_w]: sizes 1 and 2 as y's
  dispatch_float("resize_bilinear_argmax", x, [&](auto tag) {
    using T = decltype(tag);
    const dim3 grid = grid_for_rows(s.N * s.out_h, s.out_w);
    launch<resize_bilinear_argmax_kernel<T>>(grid, kThreads, 0, stream(), ptr<T>(x), s,
                                             ptr<int32_t>(labels));
  });
  check_launch("resize_bilinear_argmax");
}

void resize_bilinear_backward(const Tensor& dy, Tensor& dx) {
  const Sizes s = sizes_of(dx, dy);
  dispatch_float("resize_bilinear backward", dy, [&](auto tag) {
    using T = decltype(tag);
    const dim3 grid = grid_for_rows(s.N * s.in_h, s.in_w * s.C);
    launch<resize_bilinear_backward_kernel<T>>(grid, kThreads, 0, stream(), ptr<T>(dy), s,
                                               ptr<T>(dx));
  });
  check_launch("resize_bilinear backward");
}

}  // namespace tv3s::cuda
