// Scaled dot-product attention over H heads, and its backward rule.
//
// q [N, L, H·D], k and v [N, S, H·D]; head h owns channels [h·D, (h+1)·D). For each image
// n and head h, with Q [L, D], K [S, D], V [S, D] that head's slices:
//   Sc = scale · Q·Kᵀ                     [L, S] scores
//   P  = softmax over each row of Sc      (max subtracted first: every exp() ≤ 1)
//   O  = P·V                              [L, D], the head's channels of o
// The forward also saves lse = log Σ_s exp(Sc_s) per query row ([N, H, L]), so the
// backward can recompute P = exp(Sc − lse) instead of keeping the [L, S] matrix.
// Backward, from dO and Δ = rowsum(dO ∘ O) (which equals rowsum(P ∘ dP)):
//   dV = Pᵀ·dO    dP = dO·Vᵀ    dSc = P ∘ (dP − Δ)    dQ = scale·dSc·K    dK = scale·dScᵀ·Q
//
// CPU: the op runs the fast path, src/ops/cpu/attention.cpp (heads read in place by the
// packed GEMM, blocks of queries, a vectorised exp). The plain loops below are the
// reference it is tested against (declared in src/ops/attention.h).
#include "tv3s/ops/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/attention.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/ops/attention.h"
#include "src/ops/cpu/attention.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

struct AttentionDims {
  int64_t N, L, S, H, D;
};

// --- CPU reference ---------------------------------------------------------------------------

// For each (n, h, l): Sc[s] = scale·Σ_i Q[l,i]·K[s,i], m = max_s Sc[s],
// lse = m + log Σ_s e^(Sc[s] − m), P[s] = e^(Sc[s] − lse), O[l,i] = Σ_s P[s]·V[s,i].
template <class T>
void reference_forward(const T* q, const T* k, const T* v, const AttentionDims& d, T scale, T* o,
                       T* lse) {
  const int64_t C = d.H * d.D;
  std::vector<T> p(size_t(d.S));
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t h = 0; h < d.H; ++h)
      for (int64_t l = 0; l < d.L; ++l) {
        const T* q_row = q + (n * d.L + l) * C + h * d.D;
        T m = 0;
        for (int64_t s = 0; s < d.S; ++s) {
          const T* k_row = k + (n * d.S + s) * C + h * d.D;
          T dot = 0;
          for (int64_t i = 0; i < d.D; ++i) dot += q_row[i] * k_row[i];
          p[s] = scale * dot;
          m = s == 0 ? p[s] : std::max(m, p[s]);
        }
        T sum = 0;
        for (int64_t s = 0; s < d.S; ++s) sum += std::exp(p[s] - m);
        const T row_lse = m + std::log(sum);
        lse[(n * d.H + h) * d.L + l] = row_lse;
        T* o_row = o + (n * d.L + l) * C + h * d.D;
        for (int64_t i = 0; i < d.D; ++i) o_row[i] = 0;
        for (int64_t s = 0; s < d.S; ++s) {
          const T p_s = std::exp(p[s] - row_lse);
          const T* v_row = v + (n * d.S + s) * C + h * d.D;
          for (int64_t i = 0; i < d.D; ++i) o_row[i] += p_s * v_row[i];
        }
      }
}

// For each (n, h, l), with P recomputed from lse and Δ = Σ_i dO[l,i]·O[l,i]:
//   dP[s] = Σ_i dO[l,i]·V[s,i]     dSc[s] = P[s]·(dP[s] − Δ)
//   dQ[l,i] = scale·Σ_s dSc[s]·K[s,i]
//   dK[s,i] += scale·dSc[s]·Q[l,i]    dV[s,i] += P[s]·dO[l,i]
template <class T>
void reference_backward(const T* q, const T* k, const T* v, const T* o, const T* lse,
                        const T* dout, const AttentionDims& d, T scale, T* dq, T* dk, T* dv) {
  const int64_t C = d.H * d.D;
  std::fill(dk, dk + d.N * d.S * C, T(0));
  std::fill(dv, dv + d.N * d.S * C, T(0));
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t h = 0; h < d.H; ++h)
      for (int64_t l = 0; l < d.L; ++l) {
        const int64_t row = (n * d.L + l) * C + h * d.D;
        const T *q_row = q + row, *o_row = o + row, *do_row = dout + row;
        T* dq_row = dq + row;
        T delta = 0;
        for (int64_t i = 0; i < d.D; ++i) delta += do_row[i] * o_row[i];
        for (int64_t i = 0; i < d.D; ++i) dq_row[i] = 0;
        for (int64_t s = 0; s < d.S; ++s) {
          const int64_t key = (n * d.S + s) * C + h * d.D;
          const T *k_row = k + key, *v_row = v + key;
          T score = 0, dp = 0;
          for (int64_t i = 0; i < d.D; ++i) {
            score += q_row[i] * k_row[i];
            dp += do_row[i] * v_row[i];
          }
          const T p = std::exp(scale * score - lse[(n * d.H + h) * d.L + l]);
          const T dsc = p * (dp - delta);
          for (int64_t i = 0; i < d.D; ++i) {
            dq_row[i] += scale * dsc * k_row[i];
            dk[key + i] += scale * dsc * q_row[i];
            dv[key + i] += p * do_row[i];
          }
        }
      }
}

AttentionDims dims_of(const Tensor& q, const Tensor& k, int64_t heads) {
  return {q.size(0), q.size(1), k.size(1), heads, q.size(2) / heads};
}

}  // namespace

void attention_reference_forward(const Tensor& q, const Tensor& k, const Tensor& v,
                                 int64_t heads, double scale, Tensor& o, Tensor& lse) {
  dispatch_cpu_float("attention reference", q, [&](auto tag) {
    using T = decltype(tag);
    reference_forward(q.data<T>(), k.data<T>(), v.data<T>(), dims_of(q, k, heads), T(scale),
                      o.data<T>(), lse.data<T>());
  });
}

void attention_reference_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& o, const Tensor& lse, const Tensor& dout,
                                  int64_t heads, double scale, Tensor& dq, Tensor& dk, Tensor& dv) {
  dispatch_cpu_float("attention reference backward", q, [&](auto tag) {
    using T = decltype(tag);
    reference_backward(q.data<T>(), k.data<T>(), v.data<T>(), o.data<T>(), lse.data<T>(),
                       dout.data<T>(), dims_of(q, k, heads), T(scale), dq.data<T>(),
                       dk.data<T>(), dv.data<T>());
  });
}

namespace {

// --- checks and dispatch -----------------------------------------------------------------------

AttentionDims check_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                              double scale) {
  const char* op = "attention";
  check_defined(op, q);
  check_defined(op, k);
  check_defined(op, v);
  check_same_device(op, q, k);
  check_same_device(op, q, v);
  check_same_dtype(op, q, k);
  check_same_dtype(op, q, v);
  check_compute_dtype(op, q);
  TV3S_CHECK(q.ndim() == 3 && k.ndim() == 3 && v.ndim() == 3,
             "attention: needs q [N, L, H·D], k and v [N, S, H·D]; got q ", q.desc(), ", k ",
             k.desc(), ", v ", v.desc());
  TV3S_CHECK(k.shape() == v.shape(), "attention: k ", k.desc(), " and v ", v.desc(),
             " must have the same shape [N, S, H·D]");
  TV3S_CHECK(q.size(0) == k.size(0) && q.size(2) == k.size(2), "attention: q ", q.desc(),
             " and k ", k.desc(), " must agree in N and in the channels H·D");
  TV3S_CHECK(k.size(1) >= 1, "attention: needs at least one key (S ≥ 1), got k ", k.desc());
  const int64_t C = q.size(2);
  TV3S_CHECK(heads >= 1 && C >= 1 && C % heads == 0, "attention: ", C,
             " channels do not split into ", heads, " heads of equal size (q ", q.desc(), ")");
  TV3S_CHECK(std::isfinite(scale), "attention: scale must be finite, got ", scale);
  const AttentionDims d{q.size(0), q.size(1), k.size(1), heads, C / heads};
  if (q.is_cuda()) {
    TV3S_CHECK(d.D <= cuda::kAttentionMaxHeadDim, "attention: head size D = ", d.D, " (", C,
               " channels / ", heads, " heads) exceeds the CUDA kernels' maximum of ",
               cuda::kAttentionMaxHeadDim);
  }
  return d;
}

std::vector<Tensor> attention_backward(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& o, const Tensor& lse, const Tensor& grad,
                                       const AttentionDims& d, double scale) {
  const Tensor dout = grad.to(q.dtype());
  Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
  if (q.numel() == 0) {  // no queries: nothing flows back to the keys and values
    return {dq, Tensor::zeros(k.shape(), k.dtype(), k.device()),
            Tensor::zeros(v.shape(), v.dtype(), v.device())};
  }
  Tensor dk = Tensor::empty(k.shape(), k.dtype(), k.device());
  Tensor dv = Tensor::empty(v.shape(), v.dtype(), v.device());
  if (q.is_cuda()) {
    TV3S_ON_CUDA(cuda::attention_backward(q, k, v, o, lse, dout, d.H, scale, dq, dk, dv));
  } else {
    cpu::attention_backward(q, k, v, o, lse, dout, d.H, scale, dq, dk, dv);
  }
  return {dq, dk, dv};
}

}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, double scale) {
  const AttentionDims d = check_attention(q, k, v, heads, scale);
  Tensor o = Tensor::empty(q.shape(), q.dtype(), q.device());
  // lse in f32 (f64 for f64 input), natural log, on both devices.
  const DType lse_dtype = q.dtype() == DType::f64 ? DType::f64 : DType::f32;
  Tensor lse = Tensor::empty(Shape{d.N, d.H, d.L}, lse_dtype, q.device());
  if (o.numel() > 0) {
    if (q.is_cuda()) {
      TV3S_ON_CUDA(cuda::attention_forward(q, k, v, heads, scale, o, lse));
    } else {
      cpu::attention_forward(q, k, v, heads, scale, o, lse);
    }
  }
  if (autograd::needs_grad(q, k, v)) {
    autograd::record("attention", o, {q, k, v},
                     [q = q.detach(), k = k.detach(), v = v.detach(), o = o.detach(), lse, d,
                      scale](const Tensor& dout) {
                       return attention_backward(q, k, v, o, lse, dout, d, scale);
                     });
  }
  return o;
}

}  // namespace tv3s
