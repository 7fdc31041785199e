// The fast CPU window_attention: what window_attention_reference_* (src/ops/window_attention.cpp,
// where the math is) computes, one window at a time.
//
// A task is one window of one image; the tasks run in parallel (parallel_for). A task
// gathers, per head, its L = w² tokens' q (scaled), k and v into small contiguous per-thread
// buffers — from the qkv rows of real positions, from pad_qkv for padded ones — once, and
// also kᵀ (and vᵀ for the backward), so that every inner loop runs over a contiguous
// row: the scores of query t are S[t, ·] = B[t, ·] + M[t, ·] + Σ_i q_t[i]·kᵀ[i, ·] (a loop
// over the L keys), and O_t = Σ_u P[t, u]·v_u (a loop over the D channels). Both vectorise
// without reordering any sum. The bias B of each head is expanded from the table once per
// call ([heads, L, L]), shared by all windows.
//
// Backward: a window's tokens are its own, so every real row of dqkv is written by exactly
// one task (no atomics). What windows share — d bias_table and d pad_qkv — each task
// accumulates in its own partial, and the partials are then added in task order: the
// result does not depend on the number of threads.
// Precision: f32 for f32 input (the softmax sum in f64; exponentials by simd::exp8, ≤ 2 ulp),
// f64 for f64 (std::exp).
#include "src/ops/cpu/window_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/cpu/simd.h"

namespace tv3s::cpu {
namespace {

// Problems smaller than this many multiply-adds (all windows and heads: L·L·D each) stay
// on one thread.
constexpr int64_t kMinParallelWork = int64_t(1) << 17;

int64_t windows_of(const WindowAttentionDims& d) { return d.N * d.windows_h * d.windows_w; }

bool worth_threads(const WindowAttentionDims& d) {
  return windows_of(d) > 1 && windows_of(d) * d.heads * d.L * d.L * d.D > kMinParallelWork;
}

// --- softmax pieces ------------------------------------------------------------------------

// row[i] = e^(row[i] − shift) for i < n; f32 by simd::exp8, 8 at a time (std::exp is a
// scalar library call), f64 by std::exp.
void exp_shifted(float* row, int64_t n, float shift) {
  using simd::f32x8;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    f32x8 x;
    std::memcpy(&x, row + i, sizeof x);
    x = simd::exp8(x - shift);
    std::memcpy(row + i, &x, sizeof x);
  }
  if (i < n) {  // the last n mod 8 values, in a zero-padded vector
    f32x8 x{};
    std::memcpy(&x, row + i, size_t(n - i) * sizeof(float));
    x = simd::exp8(x - shift);
    std::memcpy(row + i, &x, size_t(n - i) * sizeof(float));
  }
}
void exp_shifted(double* row, int64_t n, double shift) {
  for (int64_t i = 0; i < n; ++i) row[i] = std::exp(row[i] - shift);
}

// --- a window's geometry -------------------------------------------------------------------

// Token t of window (a, b) of the rolled map: the offset of its position in an [N, H, W, ·]
// map (−1 for a padded position) and its mask region (as the reference's token_of).
struct WindowTokens {
  std::vector<int64_t> position;  // n·H·W + y·W + x, or −1
  std::vector<int> region;
};

int band(int64_t r, int64_t padded, const WindowAttentionDims& d) {
  if (r < padded - d.window) return 0;
  return r < padded - d.shift ? 1 : 2;
}

void window_tokens(const WindowAttentionDims& d, int64_t task, WindowTokens& tokens) {
  const int64_t per_image = d.windows_h * d.windows_w;
  const int64_t n = task / per_image, a = task % per_image / d.windows_w, b = task % d.windows_w;
  tokens.position.resize(size_t(d.L));
  tokens.region.resize(size_t(d.L));
  for (int64_t t = 0; t < d.L; ++t) {
    const int64_t ry = a * d.window + t / d.window, rx = b * d.window + t % d.window;
    const int64_t y = (ry + d.shift) % d.Hp, x = (rx + d.shift) % d.Wp;
    tokens.position[t] = y < d.H && x < d.W ? (n * d.H + y) * d.W + x : -1;
    tokens.region[t] = 3 * band(ry, d.Hp, d) + band(rx, d.Wp, d);
  }
}

// B[h, t, u] = bias_table[idx(t, u), h]: the bias of every head, expanded once per call.
template <class T>
std::vector<T> expand_bias(const T* table, const WindowAttentionDims& d) {
  const int64_t w = d.window;
  std::vector<T> bias(size_t(d.heads * d.L * d.L));
  for (int64_t h = 0; h < d.heads; ++h)
    for (int64_t t = 0; t < d.L; ++t)
      for (int64_t u = 0; u < d.L; ++u) {
        const int64_t idx = (t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1);
        bias[(h * d.L + t) * d.L + u] = table[idx * d.heads + h];
      }
  return bias;
}

// One head of one window in contiguous buffers: q (already scaled) and k, v [L, D], kᵀ and
// vᵀ [D, L]. Per thread, reused by every task it runs.
template <class T>
struct HeadBuffers {
  std::vector<T> q, k, v, kt, vt, scores, dscores, dk, dv;

  void gather(const T* qkv, const T* pad, const WindowAttentionDims& d, const WindowTokens& tokens,
              int64_t h, T scale, bool transpose_v) {
    const size_t n = size_t(d.L * d.D);
    q.resize(n), k.resize(n), v.resize(n), kt.resize(n), vt.resize(n);
    for (int64_t t = 0; t < d.L; ++t) {
      const T* row = tokens.position[t] >= 0 ? qkv + tokens.position[t] * 3 * d.C : pad;
      for (int64_t i = 0; i < d.D; ++i) {
        q[t * d.D + i] = scale * row[h * d.D + i];
        k[t * d.D + i] = kt[i * d.L + t] = row[d.C + h * d.D + i];
        v[t * d.D + i] = row[2 * d.C + h * d.D + i];
        if (transpose_v) vt[i * d.L + t] = v[t * d.D + i];
      }
    }
  }

  // scores = P[t, ·]: bias, mask, q_t·kᵀ, then the softmax.
  void probabilities(const T* bias_row, const WindowAttentionDims& d, const WindowTokens& tokens,
                     int64_t t) {
    scores.resize(size_t(d.L));
    T* s = scores.data();
    for (int64_t u = 0; u < d.L; ++u) s[u] = bias_row[u];
    if (d.shift > 0)
      for (int64_t u = 0; u < d.L; ++u)
        if (tokens.region[u] != tokens.region[t]) s[u] += T(-100);
    for (int64_t i = 0; i < d.D; ++i) {
      const T qi = q[t * d.D + i];
      const T* kt_row = kt.data() + i * d.L;
      for (int64_t u = 0; u < d.L; ++u) s[u] += qi * kt_row[u];
    }
    exp_shifted(s, d.L, *std::max_element(s, s + d.L));
    double sum = 0;
    for (int64_t u = 0; u < d.L; ++u) sum += double(s[u]);
    const T inv_sum = T(1.0 / sum);
    for (int64_t u = 0; u < d.L; ++u) s[u] *= inv_sum;
  }
};

template <class T>
HeadBuffers<T>& thread_buffers() {
  thread_local HeadBuffers<T> buffers;
  return buffers;
}

// --- forward -------------------------------------------------------------------------------

template <class T>
void forward_cpu(const T* qkv, const T* pad, const T* table, const WindowAttentionDims& d,
                 T scale, T* out) {
  const std::vector<T> bias = expand_bias(table, d);
  parallel_for(windows_of(d), worth_threads(d), [&](int64_t task) {
    thread_local WindowTokens tokens;
    window_tokens(d, task, tokens);
    HeadBuffers<T>& buf = thread_buffers<T>();
    for (int64_t h = 0; h < d.heads; ++h) {
      buf.gather(qkv, pad, d, tokens, h, scale, false);
      for (int64_t t = 0; t < d.L; ++t) {
        if (tokens.position[t] < 0) continue;  // a padded query: cropped
        buf.probabilities(bias.data() + (h * d.L + t) * d.L, d, tokens, t);
        T* o = out + tokens.position[t] * d.C + h * d.D;
        std::fill(o, o + d.D, T(0));
        for (int64_t u = 0; u < d.L; ++u) {
          const T p = buf.scores[u];
          const T* v = buf.v.data() + u * d.D;
          for (int64_t i = 0; i < d.D; ++i) o[i] += p * v[i];
        }
      }
    }
  });
}

// --- backward ------------------------------------------------------------------------------

template <class T>
void backward_cpu(const T* qkv, const T* pad, const T* table, const T* dout,
                  const WindowAttentionDims& d, T scale, T* dqkv, T* dpad, T* dtable) {
  const std::vector<T> bias = expand_bias(table, d);
  const int64_t tasks = windows_of(d);
  const int64_t table_size = (2 * d.window - 1) * (2 * d.window - 1) * d.heads;
  // Task i's partials: its d bias_table, then its d pad_qkv (k and v parts: padded tokens
  // are never queries, so the q part of d pad_qkv is zero).
  const int64_t partial_size = table_size + 2 * d.C;
  std::vector<T> partials(size_t(tasks * partial_size), T(0));

  parallel_for(tasks, worth_threads(d), [&](int64_t task) {
    thread_local WindowTokens tokens;
    window_tokens(d, task, tokens);
    HeadBuffers<T>& buf = thread_buffers<T>();
    T* dtable_part = partials.data() + task * partial_size;
    T* dpad_part = dtable_part + table_size;
    buf.dscores.resize(size_t(d.L));
    buf.dk.resize(size_t(d.L * d.D));
    buf.dv.resize(size_t(d.L * d.D));
    T* ds = buf.dscores.data();
    for (int64_t h = 0; h < d.heads; ++h) {
      buf.gather(qkv, pad, d, tokens, h, scale, true);
      std::fill(buf.dk.begin(), buf.dk.end(), T(0));
      std::fill(buf.dv.begin(), buf.dv.end(), T(0));
      for (int64_t t = 0; t < d.L; ++t) {
        if (tokens.position[t] < 0) continue;  // cropped: dO_t = 0, nothing flows back
        const T* bias_row = bias.data() + (h * d.L + t) * d.L;
        buf.probabilities(bias_row, d, tokens, t);
        const T* p = buf.scores.data();
        const T* dO = dout + tokens.position[t] * d.C + h * d.D;
        // dP[t, ·] = dO_t·vᵀ, then dS = P ∘ (dP − Δ).
        std::fill(ds, ds + d.L, T(0));
        for (int64_t i = 0; i < d.D; ++i) {
          const T* vt_row = buf.vt.data() + i * d.L;
          for (int64_t u = 0; u < d.L; ++u) ds[u] += dO[i] * vt_row[u];
        }
        T delta = 0;
        for (int64_t u = 0; u < d.L; ++u) delta += p[u] * ds[u];
        for (int64_t u = 0; u < d.L; ++u) ds[u] = p[u] * (ds[u] - delta);
        // dq_t = scale·Σ_u dS[u]·k_u; dk_u += dS[u]·(scale·q_t); dv_u += P[u]·dO_t.
        T* dq = dqkv + tokens.position[t] * 3 * d.C + h * d.D;
        std::fill(dq, dq + d.D, T(0));
        const T* q = buf.q.data() + t * d.D;
        for (int64_t u = 0; u < d.L; ++u) {
          const T* k = buf.k.data() + u * d.D;
          T* dk = buf.dk.data() + u * d.D;
          T* dv = buf.dv.data() + u * d.D;
          const T ds_u = ds[u], scaled_ds = scale * ds[u], p_u = p[u];
          for (int64_t i = 0; i < d.D; ++i) {
            dq[i] += scaled_ds * k[i];
            dk[i] += ds_u * q[i];
            dv[i] += p_u * dO[i];
          }
        }
        // d bias_table[idx(t, u), h] += dS[u], through the expanded bias's layout.
        const int64_t w = d.window;
        for (int64_t u = 0; u < d.L; ++u) {
          const int64_t idx = (t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1);
          dtable_part[idx * d.heads + h] += ds[u];
        }
      }
      // The window's dk, dv: to the qkv rows of real tokens, to the partial d pad_qkv for
      // padded ones.
      for (int64_t u = 0; u < d.L; ++u) {
        const T* dk = buf.dk.data() + u * d.D;
        const T* dv = buf.dv.data() + u * d.D;
        if (tokens.position[u] >= 0) {
          T* row = dqkv + tokens.position[u] * 3 * d.C;
          std::copy(dk, dk + d.D, row + d.C + h * d.D);
          std::copy(dv, dv + d.D, row + 2 * d.C + h * d.D);
        } else {
          for (int64_t i = 0; i < d.D; ++i) {
            dpad_part[h * d.D + i] += dk[i];
            dpad_part[d.C + h * d.D + i] += dv[i];
          }
        }
      }
    }
  });

  // The partials added in task order (fixed, whatever the threads).
  std::fill(dtable, dtable + table_size, T(0));
  std::fill(dpad, dpad + 3 * d.C, T(0));
  for (int64_t task = 0; task < tasks; ++task) {
    const T* part = partials.data() + task * partial_size;
    for (int64_t j = 0; j < table_size; ++j) dtable[j] += part[j];
    for (int64_t j = 0; j < 2 * d.C; ++j) dpad[d.C + j] += part[table_size + j];
  }
}

}  // namespace

void window_attention_forward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                              const WindowAttentionDims& d, double scale, Tensor& out) {
  dispatch_cpu_float("window_attention", qkv, [&](auto tag) {
    using T = decltype(tag);
    forward_cpu(qkv.data<T>(), pad_qkv.data<T>(), bias_table.data<T>(), d, T(scale),
                out.data<T>());
  });
}

void window_attention_backward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                               const Tensor& dout, const WindowAttentionDims& d, double scale,
                               Tensor& dqkv, Tensor& dpad, Tensor& dtable) {
  dispatch_cpu_float("window_attention backward", qkv, [&](auto tag) {
    using T = decltype(tag);
    backward_cpu(qkv.data<T>(), pad_qkv.data<T>(), bias_table.data<T>(), dout.data<T>(), d,
                 T(scale), dqkv.data<T>(), dpad.data<T>(), dtable.data<T>());
  });
}

}  // namespace tv3s::cpu
