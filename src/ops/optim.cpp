// Optimizer kernels: AdamW's update of one parameter tensor, and a non-finite count.
//
// AdamW, PyTorch 2.2's single-tensor path (torch/optim/adamw.py, amsgrad off), one element
// at a time. PyTorch runs each line as its own f32 kernel with the scalars computed in
// Python doubles and rounded to f32 when they enter the kernel; we do the same, in the
// same order, so the result is PyTorch's to about one ulp:
//   g  = grad · grad_scale                             (mixed precision: 1/loss_scale)
//   p  = p · (1 − lr·wd)                               param.mul_(1 − lr·wd)
//   m  = m + (1 − β1)·(g − m)                          exp_avg.lerp_(g, 1 − β1)
//   v  = v·β2 + ((1 − β2)·g)·g                         exp_avg_sq.mul_(β2).addcmul_(g, g, 1 − β2)
//   d  = sqrt(v) / sqrt(1 − β2^s) + eps                denom
//   p  = p + (−lr/(1 − β1^s) · m) / d                  param.addcdiv_(m, d, −step_size)
// Rounding details measured against torch 2.x on an AVX2 CPU: its lerp and addcmul are
// fused multiply-adds (written out below with std::fma); addcdiv multiplies before it
// divides. Its CPU sqrt is not always correctly rounded (differs from IEEE sqrt by 1 ulp
// on ~17% of random inputs); ours is IEEE, which is why "about one ulp" and not bit-exact.
// Every other multiply-add must stay two roundings, so this file is compiled with
// -ffp-contract=off (CMakeLists.txt). The CUDA kernel uses the same operations with
// explicit round-to-nearest intrinsics and agrees with this reference bit for bit.
#include "tv3s/ops/optim.h"

#include <cmath>

#include "cuda/optim.h"
#include "src/core/cuda_context.h"
#include "src/core/parallel.h"

namespace tv3s {

AdamWScalars adamw_scalars(const AdamWStep& s) {
  AdamWScalars k;
  // As PyTorch's Python code computes them, in double; each becomes f32 in the kernel.
  const double bias_correction1 = 1.0 - std::pow(s.beta1, double(s.step));
  const double bias_correction2 = 1.0 - std::pow(s.beta2, double(s.step));
  k.grad_scale = float(s.grad_scale);
  k.decay = float(1.0 - s.lr * s.weight_decay);
  k.lerp_weight = float(1.0 - s.beta1);
  k.lerp_small = std::fabs(1.0 - s.beta1) < 0.5;
  k.lerp_weight_minus_one = k.lerp_weight - 1.0f;
  k.beta2 = float(s.beta2);
  k.one_minus_beta2 = float(1.0 - s.beta2);
  k.bias_correction2_sqrt = float(std::sqrt(bias_correction2));
  k.eps = float(s.eps);
  k.neg_step_size = float(-(s.lr / bias_correction1));
  return k;
}

namespace {

void check_adamw_args(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                      const AdamWStep& s) {
  constexpr const char* op = "adamw_step_";
  for (const Tensor* t : {&param, &grad, &m, &v}) check_defined(op, *t);
  TV3S_CHECK(param.dtype() == DType::f32 && m.dtype() == DType::f32 && v.dtype() == DType::f32, op,
             ": param, m and v must be f32 (got ", param.desc(), ", ", m.desc(), ", ", v.desc(), ")");
  const bool grad_ok = grad.dtype() == DType::f32 ||
                       (grad.is_cuda() && (grad.dtype() == DType::f16 || grad.dtype() == DType::bf16));
  TV3S_CHECK(grad_ok, op, ": grad must be f32 (f16/bf16 also on CUDA), got ", grad.desc());
  for (const Tensor* t : {&grad, &m, &v}) {
    check_same_device(op, param, *t);
    check_same_shape(op, param, *t);
  }
  TV3S_CHECK(s.step >= 1, op, ": step is 1-based, got ", s.step);
}

// One element of the update; the CUDA kernel (cuda/optim.cu) is the same sequence.
inline void adamw_element(float& p, float grad, float& m, float& v, const AdamWScalars& k) {
  const float g = grad * k.grad_scale;
  p = p * k.decay;
  // lerp(m, g, w) as PyTorch computes it: from the nearer end, as one fused multiply-add.
  m = k.lerp_small ? std::fma(k.lerp_weight, g - m, m) : std::fma(k.lerp_weight_minus_one, g - m, g);
  v = std::fma(k.one_minus_beta2 * g, g, v * k.beta2);
  const float denom = std::sqrt(v) / k.bias_correction2_sqrt + k.eps;
  p = p + (k.neg_step_size * m) / denom;
}

}  // namespace

void adamw_step_(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const AdamWStep& s) {
  check_adamw_args(param, grad, m, v, s);
  const int64_t n = param.numel();
  if (n == 0) return;
  const AdamWScalars k = adamw_scalars(s);
  if (param.is_cuda()) {
    TV3S_ON_CUDA(cuda::adamw_step(param, grad, m, v, k));
    return;
  }
  float* p = param.data<float>();
  const float* g = grad.data<float>();
  float* pm = m.data<float>();
  float* pv = v.data<float>();
  parallel_for(n, n > 32768, [&](int64_t i) { adamw_element(p[i], g[i], pm[i], pv[i], k); });
}

namespace {

// Non-finite means an all-ones exponent field, tested on the bits (no float compare that
// a compiler could assume away).
template <class Bits>
int64_t count_exponent_all_ones(const Bits* x, int64_t n, Bits exponent_mask) {
  int64_t count = 0;
  if (n <= 32768) {  // not worth waking threads (see src/core/parallel.h)
    for (int64_t i = 0; i < n; ++i) count += (x[i] & exponent_mask) == exponent_mask;
    return count;
  }
#pragma omp parallel for reduction(+ : count)
  for (int64_t i = 0; i < n; ++i) count += (x[i] & exponent_mask) == exponent_mask;
  return count;
}

}  // namespace

int64_t count_nonfinite(const Tensor& x) {
  check_defined("count_nonfinite", x);
  check_floating("count_nonfinite", x);
  const int64_t n = x.numel();
  if (n == 0) return 0;
  if (x.is_cuda()) {
    TV3S_ON_CUDA(return cuda::count_nonfinite(x));
  }
  switch (x.dtype()) {
    case DType::f32: return count_exponent_all_ones(static_cast<const uint32_t*>(x.raw()), n, uint32_t(0x7f800000u));
    case DType::f64:
      return count_exponent_all_ones(static_cast<const uint64_t*>(x.raw()), n, uint64_t(0x7ff0000000000000ull));
    case DType::f16: return count_exponent_all_ones(static_cast<const uint16_t*>(x.raw()), n, uint16_t(0x7c00));
    case DType::bf16: return count_exponent_all_ones(static_cast<const uint16_t*>(x.raw()), n, uint16_t(0x7f80));
    default: break;
  }
  fail(str("count_nonfinite: unsupported dtype ", x.desc()));
}

int64_t count_nonfinite(const std::vector<Tensor>& xs) {
  if (xs.empty()) return 0;
  for (const Tensor& x : xs) {
    check_defined("count_nonfinite", x);
    check_floating("count_nonfinite", x);
    if (x.device() != xs[0].device())
      fail(str("count_nonfinite: tensors on different devices (", xs[0].desc(), " and ", x.desc(), ")"));
  }
  if (xs[0].is_cuda()) {
    TV3S_ON_CUDA(return cuda::count_nonfinite(xs));
  }
  int64_t count = 0;
  for (const Tensor& x : xs) count += count_nonfinite(x);
  return count;
}

}  // namespace tv3s
