// Dense 2-D convolution on channels-last maps, as im2col followed by a GEMM.
//
//   y[n, oy, ox, o] = b[o] + Σ_{ky, kx, c} x[n, oy·sh − ph + ky, ox·sw − pw + kx, c]
//                                          · w[o, c, ky, kx]
//
// im2col lays every receptive field out as one row (the patch), ordered (ky, kx, c):
//   cols[n, oy, ox, (ky·kw + kx)·C + c] = x[n, oy·sh − ph + ky, ox·sw − pw + kx, c]   (0 outside)
// so that, with the weight permuted to [Cout, kh, kw, Cin] and flattened to
// [Cout, kh·kw·Cin], the convolution is one `linear`:  y = cols · w_flatᵀ + b.
// Channels-last makes the patch cheap to build: for a fixed ky, the kx·C entries of a
// patch are one contiguous run of x, copied with a single memcpy.
//
// Backward: linear and permute carry their own rules, so dweight and dbias come for free
// and only im2col needs one, col2im:
//   dx[n, iy, ix, c] = Σ dcols[n, oy, ox, (ky·kw + kx)·C + c]
//                      over iy = oy·sh − ph + ky, ix = ox·sw − pw + kx
// written as a gather — each input element sums the patch entries that copied it, i.e.
// ky ≡ iy + ph (mod sh), oy = (iy + ph − ky)/sh < Ho, and the same along x — so every
// element is written by one thread and the result is deterministic on both devices.
//
// Fast path: a 1×1 kernel with stride 1 and no padding is `linear` on x itself.
// With kernel == stride and no padding (MiT's spatial reduction) the patches do not
// overlap and im2col is a pure rearrangement.
//
// CPU: parallel over output rows (n, oy) for im2col and input rows (n, iy) for col2im;
// CUDA (cuda/conv2d.cu): one thread per element of cols / of dx.
#include <algorithm>

#include "cuda/conv2d.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/autocast.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/conv.h"
#include "tv3s/ops/movement.h"
#include "tv3s/ops/matmul.h"

namespace tv3s {
namespace {

constexpr int64_t kParallelMin = 32768;  // elements; below this one thread is faster

// --- CPU reference ---------------------------------------------------------------------

template <class T>
void im2col_cpu(const T* x, const Im2colGeometry& g, T* cols) {
  const int64_t K = g.patch_size(), run = g.kw * g.C;  // run: one kernel row of a patch
  parallel_for(g.N * g.Ho, g.N * g.Ho * g.Wo * K > kParallelMin, [&](int64_t out_row) {
    const int64_t n = out_row / g.Ho, oy = out_row % g.Ho;
    for (int64_t ox = 0; ox < g.Wo; ++ox) {
      T* patch = cols + (out_row * g.Wo + ox) * K;
      // Kernel columns kx in [kx_begin, kx_end) fall inside x; the rest read padding.
      const int64_t ix0 = ox * g.stride_w - g.pad_w;
      const int64_t kx_begin = std::clamp<int64_t>(-ix0, 0, g.kw);
      const int64_t kx_end = std::clamp<int64_t>(g.W - ix0, kx_begin, g.kw);
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        T* dst = patch + ky * run;
        const int64_t iy = oy * g.stride_h - g.pad_h + ky;
        if (iy < 0 || iy >= g.H || kx_begin == kx_end) {
          std::fill_n(dst, run, T(0));
          continue;
        }
        const T* src = x + ((n * g.H + iy) * g.W + ix0 + kx_begin) * g.C;
        std::fill_n(dst, kx_begin * g.C, T(0));
        std::copy_n(src, (kx_end - kx_begin) * g.C, dst + kx_begin * g.C);
        std::fill_n(dst + kx_end * g.C, (g.kw - kx_end) * g.C, T(0));
      }
    }
  });
}

template <class T>
void col2im_cpu(const T* dcols, const Im2colGeometry& g, T* dx) {
  const int64_t K = g.patch_size();
  parallel_for(g.N * g.H, g.N * g.Ho * g.Wo * K > kParallelMin, [&](int64_t in_row) {
    const int64_t n = in_row / g.H, iy = in_row % g.H;
    for (int64_t ix = 0; ix < g.W; ++ix) {
      T* out = dx + (in_row * g.W + ix) * g.C;
      std::fill_n(out, g.C, T(0));
      // The kernel rows that put iy into some patch: ky ≡ iy + ph (mod sh), ky ≤ iy + ph.
      for (int64_t ky = (iy + g.pad_h) % g.stride_h; ky < g.kh && ky <= iy + g.pad_h;
           ky += g.stride_h) {
        const int64_t oy = (iy + g.pad_h - ky) / g.stride_h;
        if (oy >= g.Ho) continue;
        for (int64_t kx = (ix + g.pad_w) % g.stride_w; kx < g.kw && kx <= ix + g.pad_w;
             kx += g.stride_w) {
          const int64_t ox = (ix + g.pad_w - kx) / g.stride_w;
          if (ox >= g.Wo) continue;
          const T* src = dcols + ((n * g.Ho + oy) * g.Wo + ox) * K + (ky * g.kw + kx) * g.C;
          for (int64_t c = 0; c < g.C; ++c) out[c] += src[c];
        }
      }
    }
  });
}

// --- checks, geometry and dispatch ---------------------------------------------------------

int64_t output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad) {
  return (in + 2 * pad - kernel) / stride + 1;  // floor for the non-negative numerators used
}

Im2colGeometry im2col_geometry(const char* op, const Tensor& x, int64_t kh, int64_t kw,
                               const Conv2dParams& p) {
  TV3S_CHECK(x.ndim() == 4, op, ": x must be [N, H, W, C] (channels-last), got ", x.desc());
  TV3S_CHECK(kh >= 1 && kw >= 1, op, ": kernel must be at least 1×1, got ", kh, "×", kw);
  TV3S_CHECK(p.stride_h >= 1 && p.stride_w >= 1, op, ": strides must be ≥ 1, got ", p.stride_h,
             "×", p.stride_w);
  TV3S_CHECK(p.pad_h >= 0 && p.pad_w >= 0, op, ": padding must be ≥ 0, got ", p.pad_h, "×",
             p.pad_w);
  Im2colGeometry g;
  g.N = x.size(0), g.H = x.size(1), g.W = x.size(2), g.C = x.size(3);
  g.kh = kh, g.kw = kw;
  g.stride_h = p.stride_h, g.stride_w = p.stride_w, g.pad_h = p.pad_h, g.pad_w = p.pad_w;
  TV3S_CHECK(g.H + 2 * g.pad_h >= kh && g.W + 2 * g.pad_w >= kw, op, ": kernel ", kh, "×", kw,
             " is larger than the padded input (x ", x.desc(), ", padding ", g.pad_h, "×", g.pad_w,
             ")");
  g.Ho = output_size(g.H, kh, g.stride_h, g.pad_h);
  g.Wo = output_size(g.W, kw, g.stride_w, g.pad_w);
  return g;
}

Tensor col2im(const Tensor& dcols, const Im2colGeometry& g, DType dtype) {
  const Tensor dc = dcols.to(dtype);
  Tensor dx = Tensor::empty(Shape{g.N, g.H, g.W, g.C}, dtype, dc.device());
  if (dx.numel() == 0) return dx;
  if (dc.is_cuda()) {
    TV3S_ON_CUDA(cuda::col2im(dc, g, dx));
  } else {
    dispatch_cpu_float("col2im", dc, [&](auto tag) {
      using T = decltype(tag);
      col2im_cpu(dc.data<T>(), g, dx.data<T>());
    });
  }
  return dx;
}

}  // namespace

Tensor im2col(const Tensor& x, int64_t kh, int64_t kw, const Conv2dParams& params) {
  check_compute_dtype("im2col", x);
  const Im2colGeometry g = im2col_geometry("im2col", x, kh, kw, params);
  Tensor cols = Tensor::empty(Shape{g.N, g.Ho, g.Wo, g.patch_size()}, x.dtype(), x.device());
  if (cols.numel() > 0) {
    if (x.is_cuda()) {
      TV3S_ON_CUDA(cuda::im2col(x, g, cols));
    } else {
      dispatch_cpu_float("im2col", x, [&](auto tag) {
        using T = decltype(tag);
        im2col_cpu(x.data<T>(), g, cols.data<T>());
      });
    }
  }
  if (autograd::needs_grad(x)) {
    autograd::record("im2col", cols, {x}, [g, dtype = x.dtype()](const Tensor& dcols) {
      return std::vector<Tensor>{col2im(dcols, g, dtype)};
    });
  }
  return cols;
}

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias,
              const Conv2dParams& params) {
  if (autocast::applies(x))
    return autocast::run_narrowed(
        [&](const Tensor& x16, const Tensor& w16, const Tensor& b16) {
          return conv2d(x16, w16, b16, params);
        },
        x, weight, bias);
  check_compute_dtype("conv2d", x);
  check_defined("conv2d", weight);
  check_same_device("conv2d", x, weight);
  check_same_dtype("conv2d", x, weight);
  TV3S_CHECK(x.ndim() == 4, "conv2d: x must be [N, H, W, Cin] (channels-last), got ", x.desc());
  TV3S_CHECK(weight.ndim() == 4, "conv2d: weight must be [Cout, Cin, kh, kw], got ", weight.desc());
  const int64_t Cout = weight.size(0), Cin = weight.size(1), kh = weight.size(2),
                kw = weight.size(3);
  TV3S_CHECK(x.size(3) == Cin, "conv2d: x ", x.desc(), " has ", x.size(3),
             " channels but weight ", weight.desc(), " expects ", Cin);
  if (bias.defined()) {
    check_same_device("conv2d", x, bias);
    check_same_dtype("conv2d", x, bias);
    TV3S_CHECK(bias.shape() == Shape{Cout}, "conv2d: bias must be [Cout] = [", Cout,
               "] for weight ", weight.desc(), ", got ", bias.desc());
  }
  const Im2colGeometry g = im2col_geometry("conv2d", x, kh, kw, params);

  const bool pointwise = kh == 1 && kw == 1 && g.stride_h == 1 && g.stride_w == 1 &&
                         g.pad_h == 0 && g.pad_w == 0;
  if (pointwise) return linear(x, weight.reshape(Shape{Cout, Cin}), bias);
  // Weight [Cout, Cin, kh, kw] → [Cout, kh, kw, Cin]: the (ky, kx, c) order of a patch.
  const Tensor weight_flat = permute(weight, {0, 2, 3, 1}).reshape(Shape{Cout, kh * kw * Cin});
  return linear(im2col(x, kh, kw, params), weight_flat, bias);
}

}  // namespace tv3s
