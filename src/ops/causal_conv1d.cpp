// Causal depthwise 1-D convolution with a carried state (Mamba's conv1d), and its backward.
//
// x [B, L, D] channels-last, weight w [D, 1, K], bias [D], state [B, K−1, D]. With
// x̂ = [initial_state ; x] along the sequence (P = K − 1 + L rows; zero state when none):
//   pre[b, t, d]   = bias[d] + Σ_{k<K} w[d, k] · x̂[b, t + k, d]        t < L
//   y              = silu ? pre · σ(pre) : pre
//   final_state[b] = x̂[b, L .. L + K − 2]       (rows of the state when L < K − 1)
// Scanning a sequence in chunks, each taking the previous chunk's final_state, is one pass
// over the whole sequence.
//
// Backward, two nodes (one per output; the engine adds their contributions).
// y's node, with dy = dL/dy and g = dL/dpre = dy · σ(pre) · (1 + pre · (1 − σ(pre))) under
// SiLU (pre recomputed, not saved), g = dy without:
//   dx̂[b, j, d] = Σ_{k<K, 0≤j−k<L} w[d, k] · g[b, j − k, d]   → dinitial_state (j < K − 1), dx
//   dw[d, k]    = Σ_{b, t} g[b, t, d] · x̂[b, t + k, d]          db[d] = Σ_{b, t} g[b, t, d]
// final_state's node, with ds = dL/dfinal_state: dx̂[b, L + i] = ds[b, i] — a scatter back to
// the rows the state was copied from; weight and bias get nothing.
//
// CPU: the weight is repacked tap-major, [K, D], so every inner loop runs over contiguous
// channels. The convolution and dx̂ are parallel over rows (b, t); dw and db over blocks of
// channels, each summing its channels over all (b, t) in order in double, so the result does
// not depend on the number of threads.
// CUDA (cuda/causal_conv1d.cu): one thread per output element, channels fastest.
#include "tv3s/ops/causal_conv1d.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/causal_conv1d.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/scalar_math.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

constexpr int64_t kParallelMin = 32768;  // multiply-adds; below this one thread is faster

struct Conv1dShape {
  int64_t B, L, D, K;
  int64_t state_rows() const { return K - 1; }
  int64_t padded_rows() const { return K - 1 + L; }  // P, the rows of x̂
};

// --- CPU reference ---------------------------------------------------------------------

// Row j of x̂ = [initial_state ; x] of sequence b, or null where it is the zero state.
template <class T>
const T* padded_row(const T* x, const T* initial, const Conv1dShape& s, int64_t b, int64_t j) {
  if (j >= s.state_rows()) return x + (b * s.L + j - s.state_rows()) * s.D;
  return initial ? initial + (b * s.state_rows() + j) * s.D : nullptr;
}

template <class T>
std::vector<T> weight_by_tap(const T* weight, const Conv1dShape& s) {  // [K, D]
  std::vector<T> by_tap(size_t(s.K * s.D));
  for (int64_t d = 0; d < s.D; ++d)
    for (int64_t k = 0; k < s.K; ++k) by_tap[size_t(k * s.D + d)] = weight[d * s.K + k];
  return by_tap;
}

// out [B, L, D] = pre (or SiLU(pre) when silu).
template <class T>
void conv_forward_cpu(const T* x, const T* weight, const T* bias, const T* initial,
                      const Conv1dShape& s, bool silu, T* out) {
  const std::vector<T> w = weight_by_tap(weight, s);
  const int64_t D = s.D;
  parallel_for(s.B * s.L, s.B * s.L * D * s.K > kParallelMin, [&](int64_t row) {
    const int64_t b = row / s.L, t = row % s.L;
    T* o = out + row * D;
    for (int64_t d = 0; d < D; ++d) o[d] = bias ? bias[d] : T(0);
    for (int64_t k = 0; k < s.K; ++k) {
      const T* in = padded_row(x, initial, s, b, t + k);
      if (!in) continue;
      const T* wk = w.data() + k * D;
      for (int64_t d = 0; d < D; ++d) o[d] += wk[d] * in[d];
    }
    if (silu)
      for (int64_t d = 0; d < D; ++d) o[d] = ops::silu(o[d]);
  });
}

// final_state[b, i] = x̂[b, L + i].
template <class T>
void final_state_cpu(const T* x, const T* initial, const Conv1dShape& s, T* final_state) {
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t i = 0; i < s.state_rows(); ++i) {
      const T* in = padded_row(x, initial, s, b, s.L + i);
      T* o = final_state + (b * s.state_rows() + i) * s.D;
      for (int64_t d = 0; d < s.D; ++d) o[d] = in ? in[d] : T(0);
    }
}

// Each of dx, dweight, dbias, dinitial may be null (not wanted).
template <class T>
void conv_backward_cpu(const T* x, const T* weight, const T* bias, const T* initial, const T* dy,
                       const Conv1dShape& s, bool silu, T* dx, T* dweight, T* dbias,
                       T* dinitial) {
  const int64_t D = s.D, K = s.K, L = s.L;
  // g = dL/dpre.
  std::vector<T> g(size_t(s.B * L * D));
  if (silu) {
    conv_forward_cpu(x, weight, bias, initial, s, false, g.data());  // pre
    for (size_t i = 0; i < g.size(); ++i) g[i] = dy[i] * ops::silu_grad(g[i]);
  } else {
    std::copy(dy, dy + g.size(), g.begin());
  }

  if (dx || dinitial) {
    const std::vector<T> w = weight_by_tap(weight, s);
    const int64_t P = s.padded_rows();
    parallel_for(s.B * P, s.B * P * D * K > kParallelMin, [&](int64_t row) {
      const int64_t b = row / P, j = row % P;
      T* o = j < s.state_rows() ? (dinitial ? dinitial + (b * s.state_rows() + j) * D : nullptr)
                                : (dx ? dx + (b * L + j - s.state_rows()) * D : nullptr);
      if (!o) return;
      for (int64_t d = 0; d < D; ++d) o[d] = T(0);
      for (int64_t k = 0; k < K; ++k) {
        const int64_t t = j - k;
        if (t < 0 || t >= L) continue;
        const T* gt = g.data() + (b * L + t) * D;
        const T* wk = w.data() + k * D;
        for (int64_t d = 0; d < D; ++d) o[d] += wk[d] * gt[d];
      }
    });
  }

  if (dweight || dbias) {
    constexpr int64_t kBlock = 16;  // channels per task: one 64-byte line of f32
    const int64_t blocks = (D + kBlock - 1) / kBlock;
    parallel_for(blocks, s.B * L * D * K > kParallelMin, [&](int64_t block) {
      const int64_t d0 = block * kBlock, width = std::min(kBlock, D - d0);
      std::vector<double> sum_w(size_t(K * kBlock), 0.0);  // [tap, channel of the block]
      double sum_b[kBlock] = {};
      for (int64_t b = 0; b < s.B; ++b) {
        for (int64_t t = 0; t < L; ++t) {
          const T* gt = g.data() + (b * L + t) * D + d0;
          for (int64_t d = 0; d < width; ++d) sum_b[d] += gt[d];
          for (int64_t k = 0; k < K; ++k) {
            const T* in = padded_row(x, initial, s, b, t + k);
            if (!in) continue;
            double* acc = sum_w.data() + k * kBlock;
            for (int64_t d = 0; d < width; ++d) acc[d] += double(gt[d]) * double(in[d0 + d]);
          }
        }
      }
      for (int64_t d = 0; d < width; ++d) {
        if (dweight)
          for (int64_t k = 0; k < K; ++k) dweight[(d0 + d) * K + k] = T(sum_w[size_t(k * kBlock + d)]);
        if (dbias) dbias[d0 + d] = T(sum_b[d]);
      }
    });
  }
}

// dx[b, L − (K−1) + i] += ds[b, i] where that row is in x, dinitial[b, L + i] otherwise.
// dx and dinitial (each may be null) arrive zero-filled.
template <class T>
void state_backward_cpu(const T* dstate, const Conv1dShape& s, T* dx, T* dinitial) {
  for (int64_t b = 0; b < s.B; ++b)
    for (int64_t i = 0; i < s.state_rows(); ++i) {
      const int64_t j = s.L + i;  // the row of x̂
      T* o = j >= s.state_rows()
                 ? (dx ? dx + (b * s.L + j - s.state_rows()) * s.D : nullptr)
                 : (dinitial ? dinitial + (b * s.state_rows() + j) * s.D : nullptr);
      if (!o) continue;
      const T* ds = dstate + (b * s.state_rows() + i) * s.D;
      for (int64_t d = 0; d < s.D; ++d) o[d] = ds[d];
    }
}

// --- dispatch ----------------------------------------------------------------------------

Tensor empty_if(bool wanted, const Shape& shape, const Tensor& like) {
  return wanted ? Tensor::empty(shape, like.dtype(), like.device()) : Tensor();
}

// y's node: {dx, dweight, dbias, dinitial_state}, each only when wanted.
std::vector<Tensor> conv_backward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& initial, bool silu, const Tensor& grad,
                                  const Conv1dShape& s, bool want_dx, bool want_dweight,
                                  bool want_dbias, bool want_dinitial) {
  const Tensor dy = grad.to(x.dtype());
  Tensor dx = empty_if(want_dx, x.shape(), x);
  Tensor dweight = empty_if(want_dweight, weight.shape(), x);
  Tensor dbias = empty_if(want_dbias, Shape{s.D}, x);
  Tensor dinitial = empty_if(want_dinitial, Shape{s.B, s.state_rows(), s.D}, x);
  if (x.is_cuda()) {
    TV3S_ON_CUDA(
        cuda::causal_conv1d_backward(x, weight, bias, initial, silu, dy, dx, dweight, dbias, dinitial));
  } else {
    dispatch_cpu_float("causal_conv1d backward", x, [&](auto tag) {
      using T = decltype(tag);
      conv_backward_cpu(x.data<T>(), weight.data<T>(), data_or_null<T>(bias),
                        data_or_null<T>(initial), dy.data<T>(), s, silu, data_or_null<T>(dx),
                        data_or_null<T>(dweight), data_or_null<T>(dbias),
                        data_or_null<T>(dinitial));
    });
  }
  return {dx, dweight, dbias, dinitial};
}

// final_state's node: {dx, dinitial_state}, each only when wanted (zeros but for K − 1 rows).
std::vector<Tensor> state_backward(const Tensor& grad, DType dtype, Device device,
                                   const Conv1dShape& s, bool want_dx, bool want_dinitial) {
  const Tensor dstate = grad.to(dtype);
  Tensor dx = want_dx ? Tensor::zeros(Shape{s.B, s.L, s.D}, dtype, device) : Tensor();
  Tensor dinitial =
      want_dinitial ? Tensor::zeros(Shape{s.B, s.state_rows(), s.D}, dtype, device) : Tensor();
  if (dstate.is_cuda()) {
    TV3S_ON_CUDA(cuda::causal_conv1d_state_backward(dstate, s.L, dx, dinitial));
  } else {
    dispatch_cpu_float("causal_conv1d backward", dstate, [&](auto tag) {
      using T = decltype(tag);
      state_backward_cpu(dstate.data<T>(), s, data_or_null<T>(dx), data_or_null<T>(dinitial));
    });
  }
  return {dx, dinitial};
}

// bias / initial_state: optional, on x's device and dtype, of shape `want`.
void check_optional(const char* name, const Tensor& t, const Tensor& x, const Shape& want) {
  if (!t.defined()) return;
  check_same_device("causal_conv1d", x, t);
  check_same_dtype("causal_conv1d", x, t);
  TV3S_CHECK(t.shape() == want, "causal_conv1d: ", name, " must be ", want.str(), " for x ",
             x.desc(), ", got ", t.desc());
}

}  // namespace

CausalConv1dResult causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                 const Tensor& initial_state, bool silu) {
  check_compute_dtype("causal_conv1d", x);
  check_defined("causal_conv1d", weight);
  check_same_device("causal_conv1d", x, weight);
  check_same_dtype("causal_conv1d", x, weight);
  TV3S_CHECK(x.ndim() == 3, "causal_conv1d: x must be [B, L, D] (channels-last), got ", x.desc());
  const Conv1dShape s{x.size(0), x.size(1), x.size(2), weight.ndim() == 3 ? weight.size(2) : 0};
  TV3S_CHECK(weight.ndim() == 3 && weight.size(0) == s.D && weight.size(1) == 1 && s.K >= 1,
             "causal_conv1d: weight must be [D, 1, K] with D = ", s.D, " and K ≥ 1 for x ",
             x.desc(), ", got ", weight.desc());
  check_optional("bias", bias, x, Shape{s.D});
  check_optional("initial_state", initial_state, x, Shape{s.B, s.state_rows(), s.D});
  TV3S_CHECK(!x.is_cuda() || s.K <= cuda::kCausalConv1dMaxTaps,
             "causal_conv1d: the CUDA kernels take K ≤ ", cuda::kCausalConv1dMaxTaps,
             ", got weight ", weight.desc());

  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor final_state = Tensor::empty(Shape{s.B, s.state_rows(), s.D}, x.dtype(), x.device());
  if (x.is_cuda()) {
    TV3S_ON_CUDA(cuda::causal_conv1d_forward(x, weight, bias, initial_state, silu, y, final_state));
  } else {
    dispatch_cpu_float("causal_conv1d", x, [&](auto tag) {
      using T = decltype(tag);
      conv_forward_cpu(x.data<T>(), weight.data<T>(), data_or_null<T>(bias),
                       data_or_null<T>(initial_state), s, silu, y.data<T>());
      final_state_cpu(x.data<T>(), data_or_null<T>(initial_state), s, final_state.data<T>());
    });
  }

  const bool want_dx = x.requires_grad(), want_dweight = weight.requires_grad();
  const bool want_dbias = bias.defined() && bias.requires_grad();
  const bool want_dinitial = initial_state.defined() && initial_state.requires_grad();
  if (autograd::needs_grad({&x, &weight, &bias, &initial_state})) {
    autograd::record("causal_conv1d", y, {x, weight, bias, initial_state},
                     [x = x.detach(), weight = weight.detach(), bias = bias.detach(),
                      initial = initial_state.detach(), silu, s, want_dx, want_dweight,
                      want_dbias, want_dinitial](const Tensor& dy) {
                       return conv_backward(x, weight, bias, initial, silu, dy, s, want_dx,
                                            want_dweight, want_dbias, want_dinitial);
                     });
  }
  // final_state is a copy of rows of x and initial_state: only they get its gradient.
  if (autograd::needs_grad(x, initial_state)) {
    autograd::record("causal_conv1d final_state", final_state, {x, initial_state},
                     [dtype = x.dtype(), device = x.device(), s, want_dx,
                      want_dinitial](const Tensor& dstate) {
                       return state_backward(dstate, dtype, device, s, want_dx, want_dinitial);
                     });
  }
  return {y, final_state};
}

}  // namespace tv3s
