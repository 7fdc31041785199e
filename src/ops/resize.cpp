// Bilinear resize of channels-last maps x [N, H, W, C] → y [N, out_h, out_w, C], as
// PyTorch's F.interpolate(size=..., mode='bilinear', align_corners=False), and its
// backward rule.
//
// Each axis (in → out) maps output index o to two input taps (PyTorch's
// area_pixel_compute_source_index and guard_index_and_lambda):
//   scale = in / out            src = max(scale·(o + 0.5) − 0.5, 0)
//   i0 = min(floor(src), in − 1)   i1 = min(i0 + 1, in − 1)   λ1 = src − i0   λ0 = 1 − λ1
// computed in the data's precision (float for f32, as PyTorch's opmath type; double for
// f64), each operation rounded on its own as in PyTorch's CPU kernel (no fused
// multiply-add; the CUDA kernels in cuda/resize.cu round the same way, so both devices
// pick the same taps). An axis whose size does not change maps o to itself (i0 = i1 = o,
// λ0 = 1), like PyTorch's copy branch; when neither changes, y is a copy of x.
//   y[n, oh, ow, c] = λ0ʰ·(λ0ʷ·x[i0ʰ, i0ʷ] + λ1ʷ·x[i0ʰ, i1ʷ])
//                   + λ1ʰ·(λ0ʷ·x[i1ʰ, i0ʷ] + λ1ʷ·x[i1ʰ, i1ʷ])       (x at [n, ·, ·, c])
//
// resize_bilinear_argmax: the class of every output pixel, argmax_c y[n, oh, ow, c] (the
// first maximum wins, NaN never does, as argmax), without storing y: each output row is
// blended into a scratch row by the very code of the forward and read at once. The same
// taps and the same expression, so its labels are argmax(resize_bilinear(x)) bit for bit.
//
// Backward, as a gather (no scatter, so no races and a fixed order of additions):
//   dx[n, ih, iw, c] = Σ_oh Σ_ow wʰ(oh, ih)·wʷ(ow, iw)·dy[n, oh, ow, c]
// where w(o, i) is the weight output o gives input i: λ0 if i = i0, λ1 if i = i1 (their
// sum when i0 = i1 = i). i0 and i1 never decrease with o and i1 ≤ i0 + 1, so the outputs
// that read input i — those with i0(o) ≤ i ≤ i1(o) — form one interval [first(i), end(i)).
//
// CPU: the forward runs output rows (n, oh) in parallel, the backward input rows
// (n, ih); the inner loops run over C, contiguous. The backward sums in double.
#include "tv3s/ops/resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda/resize.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/cpu/scratch.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/reduce.h"

namespace tv3s {
namespace {

// Output index o of one axis reads λ0·v[i0] + λ1·v[i1].
template <class Coord>
struct Tap {
  int64_t i0, i1;
  Coord l0, l1;
};

// scale·(o + 0.5) − 0.5 with the product rounded before the subtraction. GCC contracts
// the two into an FMA by default (-ffp-contract=fast), which moves src by an ulp and y by
// up to ~2e-6 in f32 against PyTorch; a volatile product is the portable way to stop it
// (it costs nothing here: one call per output row and column).
template <class Coord>
Coord source_coordinate(Coord scale, int64_t o) {
  const volatile Coord product = scale * (Coord(o) + Coord(0.5));
  return product - Coord(0.5);
}

template <class Coord>
Tap<Coord> tap(int64_t o, int64_t in, int64_t out) {
  if (in == out) return {o, o, Coord(1), Coord(0)};
  const Coord scale = Coord(in) / Coord(out);
  const Coord src = std::max(source_coordinate(scale, o), Coord(0));
  const int64_t i0 = std::min(int64_t(std::floor(src)), in - 1);
  const Coord l1 = std::min(std::max(src - Coord(i0), Coord(0)), Coord(1));
  return {i0, std::min(i0 + 1, in - 1), Coord(1) - l1, l1};
}

// The taps of every output index of one axis, and for every input index the interval
// of outputs that read it.
template <class Coord>
struct AxisMap {
  std::vector<Tap<Coord>> taps;     // [out]
  std::vector<int64_t> first, end;  // [in]: outputs [first[i], end[i]) read input i

  AxisMap(int64_t in, int64_t out) : taps(size_t(out)), first(size_t(in)), end(size_t(in)) {
    for (int64_t o = 0; o < out; ++o) taps[o] = tap<Coord>(o, in, out);
    // first(i) = the first o with i1(o) ≥ i; end(i) = the first o with i0(o) > i.
    int64_t o = 0;
    for (int64_t i = 0; i < in; ++i) {
      while (o < out && taps[o].i1 < i) ++o;
      first[i] = o;
    }
    o = 0;
    for (int64_t i = 0; i < in; ++i) {
      while (o < out && taps[o].i0 <= i) ++o;
      end[i] = o;
    }
  }

  double weight(int64_t o, int64_t i) const {
    const Tap<Coord>& t = taps[o];
    return (t.i0 == i ? double(t.l0) : 0.0) + (t.i1 == i ? double(t.l1) : 0.0);
  }
};

// --- CPU reference -----------------------------------------------------------------------

// Output row `row` = (n, oh) of the resize into y_row [out_w, C].
template <class T>
void resize_row_cpu(const T* x, int64_t in_h, int64_t in_w, int64_t C, int64_t out_h,
                    const AxisMap<T>& map_h, const AxisMap<T>& map_w, int64_t row, T* y_row) {
  const int64_t n = row / out_h, oh = row % out_h;
  const Tap<T>& th = map_h.taps[oh];
  const T* x_top = x + (n * in_h + th.i0) * in_w * C;
  const T* x_bottom = x + (n * in_h + th.i1) * in_w * C;
  for (int64_t ow = 0; ow < int64_t(map_w.taps.size()); ++ow) {
    const Tap<T>& tw = map_w.taps[ow];
    const T *top_left = x_top + tw.i0 * C, *top_right = x_top + tw.i1 * C;
    const T *bottom_left = x_bottom + tw.i0 * C, *bottom_right = x_bottom + tw.i1 * C;
    T* out = y_row + ow * C;
    for (int64_t c = 0; c < C; ++c) {
      out[c] = th.l0 * (tw.l0 * top_left[c] + tw.l1 * top_right[c]) +
               th.l1 * (tw.l0 * bottom_left[c] + tw.l1 * bottom_right[c]);
    }
  }
}

template <class T>
void resize_forward_cpu(const T* x, int64_t N, int64_t in_h, int64_t in_w, int64_t C, int64_t out_h,
                        int64_t out_w, T* y) {
  const AxisMap<T> map_h(in_h, out_h), map_w(in_w, out_w);
  parallel_for(N * out_h, N * out_h * out_w * C > 32768, [&](int64_t row) {
    resize_row_cpu(x, in_h, in_w, C, out_h, map_h, map_w, row, y + row * out_w * C);
  });
}

template <class T>
void resize_argmax_cpu(const T* x, int64_t N, int64_t in_h, int64_t in_w, int64_t C, int64_t out_h,
                       int64_t out_w, int32_t* labels) {
  const AxisMap<T> map_h(in_h, out_h), map_w(in_w, out_w);
  parallel_for(N * out_h, N * out_h * out_w * C > 32768, [&](int64_t row) {
    thread_local ScratchVector<T> scratch;
    scratch.resize(size_t(out_w * C));
    T* y_row = scratch.data();
    resize_row_cpu(x, in_h, in_w, C, out_h, map_h, map_w, row, y_row);
    for (int64_t ow = 0; ow < out_w; ++ow) {
      const T* v = y_row + ow * C;
      int64_t best = 0;
      for (int64_t c = 1; c < C; ++c)
        if (v[c] > v[best]) best = c;  // strict: the first maximum wins, NaN never does
      labels[row * out_w + ow] = int32_t(best);
    }
  });
}

template <class T>
void resize_backward_cpu(const T* dy, int64_t N, int64_t in_h, int64_t in_w, int64_t C,
                         int64_t out_h, int64_t out_w, T* dx) {
  const AxisMap<T> map_h(in_h, out_h), map_w(in_w, out_w);
  parallel_for(N * in_h, N * in_h * in_w * C > 32768, [&](int64_t row) {
    const int64_t n = row / in_h, ih = row % in_h;
    std::vector<double> acc(static_cast<size_t>(C));
    for (int64_t iw = 0; iw < in_w; ++iw) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t oh = map_h.first[ih]; oh < map_h.end[ih]; ++oh) {
        const double wh = map_h.weight(oh, ih);
        const T* dy_row = dy + (n * out_h + oh) * out_w * C;
        for (int64_t ow = map_w.first[iw]; ow < map_w.end[iw]; ++ow) {
          const double w = wh * map_w.weight(ow, iw);
          const T* g = dy_row + ow * C;
          for (int64_t c = 0; c < C; ++c) acc[c] += w * double(g[c]);
        }
      }
      T* out = dx + (row * in_w + iw) * C;
      for (int64_t c = 0; c < C; ++c) out[c] = T(acc[c]);
    }
  });
}

// dx [N, in_h, in_w, C] from dy [N, out_h, out_w, C].
Tensor resize_bilinear_backward(const Tensor& grad, int64_t in_h, int64_t in_w, DType dtype) {
  const Tensor dy = grad.to(dtype);
  const int64_t N = dy.size(0), out_h = dy.size(1), out_w = dy.size(2), C = dy.size(3);
  if (in_h == out_h && in_w == out_w) return dy;  // the forward was a copy
  Tensor dx = Tensor::empty(Shape{N, in_h, in_w, C}, dtype, dy.device());
  if (dx.numel() == 0) return dx;
  if (dy.is_cuda()) {
    TV3S_ON_CUDA(cuda::resize_bilinear_backward(dy, dx));
  } else {
    dispatch_cpu_float("resize_bilinear backward", dy, [&](auto tag) {
      using T = decltype(tag);
      resize_backward_cpu(dy.data<T>(), N, in_h, in_w, C, out_h, out_w, dx.data<T>());
    });
  }
  return dx;
}

}  // namespace

namespace {
void check_resize(const char* op, const Tensor& x, int64_t out_h, int64_t out_w) {
  check_compute_dtype(op, x);
  TV3S_CHECK(x.ndim() == 4, op, ": needs x [N, H, W, C], got ", x.desc());
  const int64_t in_h = x.size(1), in_w = x.size(2), C = x.size(3);
  TV3S_CHECK(in_h >= 1 && in_w >= 1, op, ": input H and W must be ≥ 1, got ", x.desc());
  TV3S_CHECK(out_h >= 1 && out_w >= 1, op, ": output size must be ≥ 1, got ", out_h, "×", out_w);
  // Sides up to 2²³ keep o + 0.5 exact in float; the CUDA kernels index rows in int.
  constexpr int64_t kMaxSide = int64_t(1) << 23;
  TV3S_CHECK(std::max({in_h, in_w, out_h, out_w}) <= kMaxSide &&
                 std::max(in_w, out_w) * C < (int64_t(1) << 30),
             op, ": sizes too large: ", x.desc(), " → ", out_h, "×", out_w);
}
}  // namespace

Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_resize("resize_bilinear", x, out_h, out_w);
  const int64_t N = x.size(0), in_h = x.size(1), in_w = x.size(2), C = x.size(3);

  Tensor y;
  if (in_h == out_h && in_w == out_w) {
    y = x.clone();
  } else {
    y = Tensor::empty(Shape{N, out_h, out_w, C}, x.dtype(), x.device());
    if (y.numel() > 0) {
      if (x.is_cuda()) {
        TV3S_ON_CUDA(cuda::resize_bilinear_forward(x, y));
      } else {
        dispatch_cpu_float("resize_bilinear", x, [&](auto tag) {
          using T = decltype(tag);
          resize_forward_cpu(x.data<T>(), N, in_h, in_w, C, out_h, out_w, y.data<T>());
        });
      }
    }
  }
  if (autograd::needs_grad(x)) {
    autograd::record("resize_bilinear", y, {x}, [in_h, in_w, dtype = x.dtype()](const Tensor& dy) {
      return std::vector<Tensor>{resize_bilinear_backward(dy, in_h, in_w, dtype)};
    });
  }
  return y;
}

Tensor resize_bilinear_argmax(const Tensor& x, int64_t out_h, int64_t out_w) {
  check_resize("resize_bilinear_argmax", x, out_h, out_w);
  const int64_t N = x.size(0), in_h = x.size(1), in_w = x.size(2), C = x.size(3);
  TV3S_CHECK(C >= 1 && C <= INT32_MAX, "resize_bilinear_argmax: needs 1 to 2^31 − 1 channels, got ",
             x.desc());
  if (in_h == out_h && in_w == out_w) return argmax(x, -1);  // resize_bilinear's copy
  Tensor labels = Tensor::empty(Shape{N, out_h, out_w}, DType::i32, x.device());
  if (labels.numel() == 0) return labels;
  if (x.is_cuda()) {
    TV3S_ON_CUDA(cuda::resize_bilinear_argmax(x, labels));
  } else {
    dispatch_cpu_float("resize_bilinear_argmax", x, [&](auto tag) {
      using T = decltype(tag);
      resize_argmax_cpu(x.data<T>(), N, in_h, in_w, C, out_h, out_w, labels.data<int32_t>());
    });
  }
  return labels;
}

}  // namespace tv3s
