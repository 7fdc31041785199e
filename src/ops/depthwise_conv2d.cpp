// Depthwise 2-D convolution (groups = C), stride 1, on channels-last maps: each channel is
// convolved with its own kh×kw kernel (MiT's Mix-FFN: 3×3, padding 1, up to 2048 channels).
//
//   y[n, oy, ox, c] = b[c] + Σ_{ky, kx} x[n, oy − ph + ky, ox − pw + kx, c] · w[c, ky, kx]
//   (x is zero outside the map; Ho = H + 2·ph − kh + 1, Wo likewise)
//
// Backward, with dy = dL/dy:
//   dx[n, iy, ix, c] = Σ_{ky, kx} dy[n, iy + ph − ky, ix + pw − kx, c] · w[c, ky, kx]
//     — the same correlation run over dy with the kernel rotated by 180° and pads
//       kh − 1 − ph, kw − 1 − pw (so the forward kernels compute dx too, as a gather);
//   dw[c, ky, kx] = Σ_{n, oy, ox} dy[n, oy, ox, c] · x[n, oy − ph + ky, ox − pw + kx, c]
//   db[c]         = Σ_{n, oy, ox} dy[n, oy, ox, c]
//
// CPU: the weight is repacked tap-major, [kh·kw, C], so that every inner loop runs over
// contiguous channels of x, w and y (vectorised). The correlation is parallel over output
// rows (n, oy). dw and db are parallel over blocks of channels; each block sums its
// channels over all pixels in order (in double), so the result does not depend on the
// number of threads.
// CUDA (cuda/depthwise_conv2d.cu): one thread per output element, channels fastest.
#include <algorithm>
#include <vector>

#include "cuda/depthwise_conv2d.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/conv.h"

namespace tv3s {
namespace {

constexpr int64_t kParallelMin = 32768;  // multiply-adds; below this one thread is faster

// The kernel columns kx for which ox − pw + kx lands inside [0, W).
struct TapRange {
  int64_t begin, end;
};
TapRange valid_taps(int64_t out, int64_t pad, int64_t kernel, int64_t in) {
  const int64_t begin = std::clamp<int64_t>(pad - out, 0, kernel);
  return {begin, std::clamp<int64_t>(in + pad - out, begin, kernel)};
}

// --- CPU reference ---------------------------------------------------------------------

template <class T>
void depthwise_forward_cpu(const T* x, const T* weight, const T* bias, const DepthwiseGeometry& g,
                           bool flip_kernel, T* y) {
  const int64_t C = g.C, taps = g.taps();
  std::vector<T> weight_by_tap(size_t(taps * C));  // [ky, kx, c], rotated when flip_kernel
  for (int64_t c = 0; c < C; ++c)
    for (int64_t t = 0; t < taps; ++t)
      weight_by_tap[size_t(t * C + c)] = weight[c * taps + (flip_kernel ? taps - 1 - t : t)];

  parallel_for(g.N * g.Ho, g.N * g.Ho * g.Wo * C * taps > kParallelMin, [&](int64_t out_row) {
    const int64_t n = out_row / g.Ho, oy = out_row % g.Ho;
    for (int64_t ox = 0; ox < g.Wo; ++ox) {
      T* out = y + (out_row * g.Wo + ox) * C;
      for (int64_t c = 0; c < C; ++c) out[c] = bias ? bias[c] : T(0);
      const TapRange kx_range = valid_taps(ox, g.pad_w, g.kw, g.W);
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        const int64_t iy = oy - g.pad_h + ky;
        if (iy < 0 || iy >= g.H) continue;
        for (int64_t kx = kx_range.begin; kx < kx_range.end; ++kx) {
          const T* in = x + ((n * g.H + iy) * g.W + ox - g.pad_w + kx) * C;
          const T* w = weight_by_tap.data() + (ky * g.kw + kx) * C;
          for (int64_t c = 0; c < C; ++c) out[c] += in[c] * w[c];
        }
      }
    }
  });
}

// dweight and dbias may each be null (not wanted); x is read only for dweight.
template <class T>
void depthwise_param_grads_cpu(const T* x, const T* dy, const DepthwiseGeometry& g, T* dweight,
                               T* dbias) {
  constexpr int64_t kBlock = 16;  // channels per task: one 64-byte line of f32
  const int64_t C = g.C, taps = g.taps(), pixels = g.N * g.Ho * g.Wo;
  const int64_t blocks = (C + kBlock - 1) / kBlock;
  parallel_for(blocks, pixels * C * taps > kParallelMin, [&](int64_t block) {
    const int64_t c0 = block * kBlock, width = std::min(kBlock, C - c0);
    std::vector<double> sum_w(size_t(taps * kBlock), 0.0);  // [tap, channel of the block]
    double sum_b[kBlock] = {};
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t oy = 0; oy < g.Ho; ++oy) {
        for (int64_t ox = 0; ox < g.Wo; ++ox) {
          const T* d = dy + ((n * g.Ho + oy) * g.Wo + ox) * C + c0;
          for (int64_t c = 0; c < width; ++c) sum_b[c] += d[c];
          if (!dweight) continue;
          const TapRange kx_range = valid_taps(ox, g.pad_w, g.kw, g.W);
          for (int64_t ky = 0; ky < g.kh; ++ky) {
            const int64_t iy = oy - g.pad_h + ky;
            if (iy < 0 || iy >= g.H) continue;
            for (int64_t kx = kx_range.begin; kx < kx_range.end; ++kx) {
              const T* in = x + ((n * g.H + iy) * g.W + ox - g.pad_w + kx) * C + c0;
              double* acc = sum_w.data() + (ky * g.kw + kx) * kBlock;
              for (int64_t c = 0; c < width; ++c) acc[c] += double(d[c]) * double(in[c]);
            }
          }
        }
      }
    }
    for (int64_t c = 0; c < width; ++c) {
      if (dweight)
        for (int64_t t = 0; t < taps; ++t)
          dweight[(c0 + c) * taps + t] = T(sum_w[size_t(t * kBlock + c)]);
      if (dbias) dbias[c0 + c] = T(sum_b[c]);
    }
  });
}

// --- dispatch ------------------------------------------------------------------------------

// y [N, Ho, Wo, C] = correlation of x [N, H, W, C] with weight (rotated when flip_kernel).
Tensor correlate(const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const DepthwiseGeometry& g, bool flip_kernel) {
  Tensor y = Tensor::empty(Shape{g.N, g.Ho, g.Wo, g.C}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  if (x.is_cuda()) {
    TV3S_ON_CUDA(cuda::depthwise_conv2d_forward(x, weight, bias, g, flip_kernel, y));
  } else {
    dispatch_cpu_float("depthwise_conv2d", x, [&](auto tag) {
      using T = decltype(tag);
      depthwise_forward_cpu(x.data<T>(), weight.data<T>(), data_or_null<T>(bias), g, flip_kernel,
                            y.data<T>());
    });
  }
  return y;
}

// x is defined only when want_dweight (it is read by nothing else).
std::vector<Tensor> depthwise_backward(const Tensor& x, const Tensor& weight, const Tensor& grad,
                                       const DepthwiseGeometry& g, bool want_dx,
                                       bool want_dweight, bool want_dbias) {
  const DType dtype = weight.dtype();
  const Device device = weight.device();
  const Tensor dy = grad.to(dtype);
  Tensor dx = want_dx ? correlate(dy, weight, Tensor(), g.transposed(), true) : Tensor();
  const Shape weight_shape{g.C, 1, g.kh, g.kw};
  Tensor dweight = want_dweight ? Tensor::empty(weight_shape, dtype, device) : Tensor();
  Tensor dbias = want_dbias ? Tensor::empty(Shape{g.C}, dtype, device) : Tensor();
  if (want_dweight || want_dbias) {
    if (dy.is_cuda()) {
      TV3S_ON_CUDA(cuda::depthwise_conv2d_param_grads(x, dy, g, dweight, dbias));
    } else {
      dispatch_cpu_float("depthwise_conv2d backward", dy, [&](auto tag) {
        using T = decltype(tag);
        depthwise_param_grads_cpu(data_or_null<T>(x), dy.data<T>(), g, data_or_null<T>(dweight),
                                  data_or_null<T>(dbias));
      });
    }
  }
  return {dx, dweight, dbias};
}

}  // namespace

Tensor depthwise_conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t pad_h,
                        int64_t pad_w) {
  check_compute_dtype("depthwise_conv2d", x);
  check_defined("depthwise_conv2d", weight);
  check_same_device("depthwise_conv2d", x, weight);
  check_same_dtype("depthwise_conv2d", x, weight);
  TV3S_CHECK(x.ndim() == 4, "depthwise_conv2d: x must be [N, H, W, C] (channels-last), got ",
             x.desc());
  const int64_t C = x.size(3);
  TV3S_CHECK(weight.ndim() == 4 && weight.size(0) == C && weight.size(1) == 1 &&
                 weight.size(2) >= 1 && weight.size(3) >= 1,
             "depthwise_conv2d: weight must be [C, 1, kh, kw] with C = ", C, " for x ", x.desc(),
             ", got ", weight.desc());
  if (bias.defined()) {
    check_same_device("depthwise_conv2d", x, bias);
    check_same_dtype("depthwise_conv2d", x, bias);
    TV3S_CHECK(bias.shape() == Shape{C}, "depthwise_conv2d: bias must be [C] = [", C, "] for x ",
               x.desc(), ", got ", bias.desc());
  }
  TV3S_CHECK(pad_h >= 0 && pad_w >= 0, "depthwise_conv2d: padding must be ≥ 0, got ", pad_h, "×",
             pad_w);
  DepthwiseGeometry g;
  g.N = x.size(0), g.H = x.size(1), g.W = x.size(2), g.C = C;
  g.kh = weight.size(2), g.kw = weight.size(3), g.pad_h = pad_h, g.pad_w = pad_w;
  g.Ho = g.H + 2 * pad_h - g.kh + 1;
  g.Wo = g.W + 2 * pad_w - g.kw + 1;
  TV3S_CHECK(g.Ho >= 1 && g.Wo >= 1, "depthwise_conv2d: kernel ", g.kh, "×", g.kw,
             " is larger than the padded input (x ", x.desc(), ", padding ", pad_h, "×", pad_w,
             ")");

  Tensor y = correlate(x, weight, bias, g, false);
  if (autograd::needs_grad(x, weight, bias)) {
    const bool want_dx = x.requires_grad(), want_dweight = weight.requires_grad();
    const bool want_dbias = bias.defined() && bias.requires_grad();
    // Keep only what the wanted gradients read: dx needs the weight, dweight needs x.
    autograd::record("depthwise_conv2d", y, {x, weight, bias},
                     [x = want_dweight ? x.detach() : Tensor(), weight = weight.detach(), g,
                      want_dx, want_dweight, want_dbias](const Tensor& dy) {
                       return depthwise_backward(x, weight, dy, g, want_dx, want_dweight,
                                                 want_dbias);
                     });
  }
  return y;
}

}  // namespace tv3s
