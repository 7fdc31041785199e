// Cross-entropy of class logits against integer labels, with an ignore index.
//
// logits [N, C, d1, ...] are viewed as [N, C, P] (P = d1·d2·…; 1 for [N, C]). A "pixel"
// is a position (n, p); its label t = labels[n, p] and its logits x_c = logits[n, c, p].
//   lse  = m + log Σ_c exp(x_c − m),   m = max_c x_c      (log-sum-exp, stable)
//   loss = lse − x_t = −log softmax(x)_t                  (0 where t = ignore_index)
// Reductions, with V = #pixels whose label ≠ ignore_index and A = N·P all pixels:
//   sum = Σ loss;  mean_valid = sum / V (0 when V = 0);  mean_all = sum / A (mmseg 0.11);
//   none = the per-pixel losses.
// Backward, at valid pixels (0 at ignored ones), with g the incoming gradient (one value,
// or one per pixel for none) and scale = 1 (sum, none), 1/V (mean_valid), 1/A (mean_all):
//   dx_c = (softmax(x)_c − [c = t]) · g · scale,   softmax(x)_c = exp(x_c − lse)
// so the forward saves lse per pixel.
#include "tv3s/ops/loss.h"

#include <algorithm>
#include <cmath>

#include "cuda/cross_entropy.h"
#include "src/core/parallel.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

// logits viewed as [outer = N, classes = C, inner = P].
struct ClassView {
  int64_t outer = 1, classes = 1, inner = 1;
  int64_t pixels() const { return outer * inner; }
};

ClassView view_classes(const Shape& logits) {
  ClassView v;
  v.outer = logits[0];
  v.classes = logits[1];
  for (int d = 2; d < logits.ndim(); ++d) v.inner *= logits[d];
  return v;
}

void check_inputs(const Tensor& logits, const Tensor& labels) {
  check_compute_dtype("cross_entropy", logits);
  check_defined("cross_entropy", labels);
  TV3S_CHECK(labels.dtype() == DType::i32, "cross_entropy: labels must be i32, got ",
             labels.desc());
  check_same_device("cross_entropy", logits, labels);
  TV3S_CHECK(logits.ndim() >= 2 && logits.size(1) > 0,
             "cross_entropy: logits must be [N, C, ...] with C > 0, got ", logits.desc());
  // labels = logits' shape without the class axis.
  std::vector<int64_t> want = logits.shape().vec();
  want.erase(want.begin() + 1);
  TV3S_CHECK(labels.shape() == Shape(want), "cross_entropy: labels ", labels.desc(),
             " do not match logits ", logits.desc(), " (expected labels ", Shape(want).str(), ")");
}

// The denominator of the reduction (scale = 1/denominator; 0 when it is 0).
double loss_denominator(Reduction reduction, int64_t valid, int64_t pixels) {
  switch (reduction) {
    case Reduction::mean_valid: return double(valid);
    case Reduction::mean_all: return double(pixels);
    case Reduction::sum:
    case Reduction::none: return 1.0;
  }
  return 1.0;
}

// --- CPU reference ------------------------------------------------------------------------

// Throws naming the first pixel whose label is neither a class nor ignore_index.
void check_label_values_cpu(const int32_t* labels, int64_t pixels, int64_t classes,
                            int ignore_index) {
  for (int64_t i = 0; i < pixels; ++i) {
    const int32_t t = labels[i];
    TV3S_CHECK(t == ignore_index || (t >= 0 && t < classes), "cross_entropy: label ", t,
               " at pixel ", i, " is outside [0, ", classes, ") and is not ignore_index ",
               ignore_index);
  }
}

// Per-pixel loss and lse; returns the number of valid pixels. Sums in double.
template <class T>
int64_t cross_entropy_forward_cpu(const T* x, const int32_t* labels, const ClassView& v,
                                  int ignore_index, T* pixel_loss, T* lse) {
  int64_t valid = 0;
#pragma omp parallel for reduction(+ : valid) if (v.pixels() * v.classes > 32768)
  for (int64_t pixel = 0; pixel < v.pixels(); ++pixel) {
    const int32_t t = labels[pixel];
    if (t == ignore_index) {
      pixel_loss[pixel] = 0;
      lse[pixel] = 0;
      continue;
    }
    const T* xp = x + (pixel / v.inner) * v.classes * v.inner + pixel % v.inner;  // class c at xp[c·P]
    double m = -INFINITY;
    for (int64_t c = 0; c < v.classes; ++c) m = std::max(m, double(xp[c * v.inner]));
    double s = 0;
    for (int64_t c = 0; c < v.classes; ++c) s += std::exp(double(xp[c * v.inner]) - m);
    const double log_sum = m + std::log(s);
    pixel_loss[pixel] = T(log_sum - double(xp[t * v.inner]));
    lse[pixel] = T(log_sum);
    ++valid;
  }
  return valid;
}

// Σ loss / denominator, summed in pixel order (deterministic whatever the thread count).
template <class T>
T reduce_loss_cpu(const T* pixel_loss, int64_t pixels, double denominator) {
  double sum = 0;
  for (int64_t i = 0; i < pixels; ++i) sum += pixel_loss[i];
  return T(denominator > 0 ? sum / denominator : 0.0);
}

template <class T>
void cross_entropy_backward_cpu(const T* x, const int32_t* labels, const T* lse, const T* grad,
                                bool grad_per_pixel, double scale, int ignore_index,
                                const ClassView& v, T* dx) {
  parallel_for(v.pixels(), v.pixels() * v.classes > 32768, [&](int64_t pixel) {
    const int64_t first = (pixel / v.inner) * v.classes * v.inner + pixel % v.inner;
    const int32_t t = labels[pixel];
    const double g = double(grad[grad_per_pixel ? pixel : 0]) * scale;
    for (int64_t c = 0; c < v.classes; ++c) {
      const int64_t at = first + c * v.inner;
      if (t == ignore_index) {
        dx[at] = 0;
        continue;
      }
      const double p = std::exp(double(x[at]) - double(lse[pixel]));
      dx[at] = T((p - (c == t ? 1.0 : 0.0)) * g);
    }
  });
}

// --- dispatch -------------------------------------------------------------------------------

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse,
                              const Tensor& grad, bool grad_per_pixel, double scale,
                              int ignore_index, const ClassView& v) {
  const Tensor g = grad.to(lse.dtype());  // the loss dtype (f32, or f64 for f64 logits)
  Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
  if (logits.numel() == 0) return dlogits;
  if (logits.is_cuda()) {
    TV3S_ON_CUDA(cuda::cross_entropy_backward(logits, labels, lse, g, grad_per_pixel, scale,
                                              ignore_index, v.outer, v.classes, v.inner, dlogits));
  } else {
    dispatch_cpu_float("cross_entropy backward", logits, [&](auto tag) {
      using T = decltype(tag);
      cross_entropy_backward_cpu(logits.data<T>(), labels.data<int32_t>(), lse.data<T>(),
                                 g.data<T>(), grad_per_pixel, scale, ignore_index, v,
                                 dlogits.data<T>());
    });
  }
  return dlogits;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int ignore_index,
                     Reduction reduction) {
  check_inputs(logits, labels);
  const ClassView v = view_classes(logits.shape());
  const DType loss_dtype = logits.dtype() == DType::f64 ? DType::f64 : DType::f32;
  const Device device = logits.device();
  Tensor pixel_loss = Tensor::empty(labels.shape(), loss_dtype, device);
  Tensor lse = Tensor::empty(labels.shape(), loss_dtype, device);
  const bool reduce = reduction != Reduction::none;
  Tensor out = reduce ? Tensor::empty(Shape{}, loss_dtype, device) : pixel_loss;
  int64_t valid = 0;
  if (logits.is_cuda()) {
    // mean_valid's denominator is only known on the device; the others are fixed.
    TV3S_ON_CUDA(valid = cuda::cross_entropy_forward(
                     logits, labels, ignore_index,
                     /*divide_by_valid=*/reduction == Reduction::mean_valid,
                     /*fixed_denominator=*/loss_denominator(reduction, 0, v.pixels()), v.outer,
                     v.classes, v.inner, pixel_loss, lse, reduce ? out : Tensor()));
  } else {
    check_label_values_cpu(labels.data<int32_t>(), v.pixels(), v.classes, ignore_index);
    dispatch_cpu_float("cross_entropy", logits, [&](auto tag) {
      using T = decltype(tag);
      valid = cross_entropy_forward_cpu(logits.data<T>(), labels.data<int32_t>(), v, ignore_index,
                                        pixel_loss.data<T>(), lse.data<T>());
      if (reduce)
        out.data<T>()[0] = reduce_loss_cpu(pixel_loss.data<T>(), v.pixels(),
                                           loss_denominator(reduction, valid, v.pixels()));
    });
  }
  if (autograd::needs_grad(logits)) {
    const double denominator = loss_denominator(reduction, valid, v.pixels());
    const double scale = denominator > 0 ? 1.0 / denominator : 0.0;
    const bool grad_per_pixel = !reduce;
    autograd::record("cross_entropy", out, {logits, labels},
                     [logits = logits.detach(), labels = labels.detach(), lse, grad_per_pixel,
                      scale, ignore_index, v](const Tensor& grad) {
                       return std::vector<Tensor>{cross_entropy_backward(logits, labels, lse, grad,
                                                                         grad_per_pixel, scale,
                                                                         ignore_index, v),
                                                  Tensor()};
                     });
  }
  return out;
}

}  // namespace tv3s
