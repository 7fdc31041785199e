// The fast CPU window_attention: what window_attention_reference_* (src/ops/window_attention.cpp,
// where the math is) computes, one window at a time, through the packed GEMM.
//
// A task is one window of one image; the tasks run in parallel (parallel_for), and
// gemm_cpu, seeing it is inside a parallel region, stays on its calling thread. A task
// copies its L = w² tokens' rows of 3C values — the qkv rows of real positions, pad_qkv for
// padded ones — once into a per-thread [L, 3C] buffer. Head h's q, k and v are then the
// [L, D] matrices at columns h·D, C + h·D and 2C + h·D of that buffer (rows 3C apart),
// which gemm_cpu reads in place, exactly as attention (src/ops/cpu/attention.cpp) reads
// its heads:
//   S = scale·Q·Kᵀ (GEMM), + B + M, row softmax → P,   O = P·V (GEMM)
// The bias B of each head is expanded from the table once per call ([heads, L, L]) and
// shared by all windows. Padded queries are computed with the rest (a window's rows stay
// one matrix) and then dropped.
//
// Backward, per window and head, with dO gathered the same way (zero for padded queries,
// so their dS rows are zero):
//   dP = dO·Vᵀ   dS = P ∘ (dP − Δ)   dQ = scale·dS·K   dK = scale·dSᵀ·Q   dV = Pᵀ·dO
// into a per-thread [L, 3C] buffer. A window's real tokens are its own, so their rows go
// straight to dqkv (every real row is written by exactly one task, no atomics). What
// windows share — d bias_table and d pad_qkv — each task sums into its own partial, and
// the partials are then added in task order: the result does not depend on the number of
// threads.
// Precision: f32 for f32 input (the softmax sum in f64; exponentials by simd::exp8, ≤ 2 ulp),
// f64 for f64 (std::exp).
#include "src/ops/cpu/window_attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/cpu/scratch.h"
#include "src/ops/cpu/simd.h"
#include "tv3s/ops/matmul.h"

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

// idx(t, u) of the relative position bias table.
int64_t bias_index(const WindowAttentionDims& d, int64_t t, int64_t u) {
  const int64_t w = d.window;
  return (t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1);
}

// B[h, t, u] = bias_table[idx(t, u), h]: the bias of every head, expanded once per call.
template <class T>
std::vector<T> expand_bias(const T* table, const WindowAttentionDims& d) {
  std::vector<T> bias(size_t(d.heads * d.L * d.L));
  for (int64_t h = 0; h < d.heads; ++h)
    for (int64_t t = 0; t < d.L; ++t)
      for (int64_t u = 0; u < d.L; ++u)
        bias[(h * d.L + t) * d.L + u] = table[bias_index(d, t, u) * d.heads + h];
  return bias;
}

// A window's rows of `width` values, copied from an [N, H, W, width] map: token t's row
// from its position, or `padded` (a row, or nullptr for zeros) when it is padding.
template <class T>
void gather_rows_of(const T* map, const T* padded, int64_t width, const WindowTokens& tokens,
                    T* rows) {
  for (int64_t t = 0; t < int64_t(tokens.position.size()); ++t) {
    T* row = rows + t * width;
    if (tokens.position[t] >= 0)
      std::copy_n(map + tokens.position[t] * width, width, row);
    else if (padded)
      std::copy_n(padded, width, row);
    else
      std::fill_n(row, width, T(0));
  }
}

// Per-thread buffers, kept between calls (no allocation in the steady state).
template <class T>
struct WindowBuffers {
  WindowTokens tokens;
  ScratchVector<T> x, p, dp, out, dx;  // x, dx [L, 3C]; p, dp [L, L]; out [L, C] (O, or dO)
};
template <class T>
WindowBuffers<T>& thread_buffers(const WindowAttentionDims& d) {
  thread_local WindowBuffers<T> buffers;
  buffers.x.resize(size_t(d.L * 3 * d.C));
  buffers.dx.resize(size_t(d.L * 3 * d.C));
  buffers.p.resize(size_t(d.L * d.L));
  buffers.dp.resize(size_t(d.L * d.L));
  buffers.out.resize(size_t(d.L * d.C));
  return buffers;
}

// P = softmax(scale·Q·Kᵀ + B + M) of head h of the window in buf.x, into buf.p [L, L].
template <class T>
void probabilities(WindowBuffers<T>& buf, const T* bias, const WindowAttentionDims& d, int64_t h,
                   T scale) {
  const int64_t ld = 3 * d.C;
  T* p = buf.p.data();
  std::copy_n(bias + h * d.L * d.L, d.L * d.L, p);
  gemm_cpu(false, true, d.L, d.L, d.D, scale, buf.x.data() + h * d.D, ld,
           buf.x.data() + d.C + h * d.D, ld, T(1), p, d.L);
  for (int64_t t = 0; t < d.L; ++t) {
    T* row = p + t * d.L;
    if (d.shift > 0)
      for (int64_t u = 0; u < d.L; ++u)
        if (buf.tokens.region[u] != buf.tokens.region[t]) row[u] += T(-100);
    exp_shifted(row, d.L, *std::max_element(row, row + d.L));
    double sum = 0;
    for (int64_t u = 0; u < d.L; ++u) sum += double(row[u]);
    const T inv_sum = T(1.0 / sum);
    for (int64_t u = 0; u < d.L; ++u) row[u] *= inv_sum;
  }
}

// --- forward -------------------------------------------------------------------------------

template <class T>
void forward_cpu(const T* qkv, const T* pad, const T* table, const WindowAttentionDims& d, T scale,
                 T* out) {
  const std::vector<T> bias = expand_bias(table, d);
  parallel_for(windows_of(d), worth_threads(d), [&](int64_t task) {
    WindowBuffers<T>& buf = thread_buffers<T>(d);
    window_tokens(d, task, buf.tokens);
    gather_rows_of(qkv, pad, 3 * d.C, buf.tokens, buf.x.data());
    for (int64_t h = 0; h < d.heads; ++h) {
      probabilities(buf, bias.data(), d, h, scale);
      gemm_cpu(false, false, d.L, d.D, d.L, T(1), buf.p.data(), d.L,
               buf.x.data() + 2 * d.C + h * d.D, 3 * d.C, T(0), buf.out.data() + h * d.D, d.C);
    }
    for (int64_t t = 0; t < d.L; ++t)  // padded queries are cropped
      if (buf.tokens.position[t] >= 0)
        std::copy_n(buf.out.data() + t * d.C, d.C, out + buf.tokens.position[t] * d.C);
  });
}

// --- backward ------------------------------------------------------------------------------

template <class T>
void backward_cpu(const T* qkv, const T* pad, const T* table, const T* dout,
                  const WindowAttentionDims& d, T scale, T* dqkv, T* dpad, T* dtable) {
  const std::vector<T> bias = expand_bias(table, d);
  const int64_t tasks = windows_of(d), ld = 3 * d.C;
  const int64_t table_size = (2 * d.window - 1) * (2 * d.window - 1) * d.heads;
  // Task i's partials: its d bias_table [(2w − 1)², heads], then its d pad_qkv [3C].
  const int64_t partial_size = table_size + 3 * d.C;
  std::vector<T> partials(size_t(tasks * partial_size), T(0));

  parallel_for(tasks, worth_threads(d), [&](int64_t task) {
    WindowBuffers<T>& buf = thread_buffers<T>(d);
    window_tokens(d, task, buf.tokens);
    gather_rows_of(qkv, pad, ld, buf.tokens, buf.x.data());
    gather_rows_of(dout, static_cast<const T*>(nullptr), d.C, buf.tokens, buf.out.data());
    T* dtable_part = partials.data() + task * partial_size;
    T* dpad_part = dtable_part + table_size;
    for (int64_t h = 0; h < d.heads; ++h) {
      const T* q = buf.x.data() + h * d.D;
      const T* k = q + d.C;
      const T* v = k + d.C;
      const T* dO = buf.out.data() + h * d.D;
      T* dq = buf.dx.data() + h * d.D;
      T* dk = dq + d.C;
      T* dv = dk + d.C;
      probabilities(buf, bias.data(), d, h, scale);
      T* p = buf.p.data();
      T* ds = buf.dp.data();  // dP, then dS in place
      gemm_cpu(false, true, d.L, d.L, d.D, T(1), dO, d.C, v, ld, T(0), ds, d.L);
      for (int64_t t = 0; t < d.L; ++t) {
        const T* p_row = p + t * d.L;
        T* ds_row = ds + t * d.L;
        T delta = 0;  // Δ_t = Σ_u P[t, u]·dP[t, u]
        for (int64_t u = 0; u < d.L; ++u) delta += p_row[u] * ds_row[u];
        for (int64_t u = 0; u < d.L; ++u) ds_row[u] = p_row[u] * (ds_row[u] - delta);
        for (int64_t u = 0; u < d.L; ++u)
          dtable_part[bias_index(d, t, u) * d.heads + h] += ds_row[u];
      }
      gemm_cpu(false, false, d.L, d.D, d.L, scale, ds, d.L, k, ld, T(0), dq, ld);
      gemm_cpu(true, false, d.L, d.D, d.L, scale, ds, d.L, q, ld, T(0), dk, ld);
      gemm_cpu(true, false, d.L, d.D, d.L, T(1), p, d.L, dO, d.C, T(0), dv, ld);
    }
    // Real tokens' rows to dqkv; padded ones' (their dq is zero) into the partial d pad_qkv.
    for (int64_t t = 0; t < d.L; ++t) {
      const T* row = buf.dx.data() + t * ld;
      if (buf.tokens.position[t] >= 0)
        std::copy_n(row, ld, dqkv + buf.tokens.position[t] * ld);
      else
        for (int64_t j = 0; j < ld; ++j) dpad_part[j] += row[j];
    }
  });

  // The partials added in task order (fixed, whatever the threads).
  std::fill_n(dtable, table_size, T(0));
  std::fill_n(dpad, 3 * d.C, T(0));
  for (int64_t task = 0; task < tasks; ++task) {
    const T* part = partials.data() + task * partial_size;
    for (int64_t j = 0; j < table_size; ++j) dtable[j] += part[j];
    for (int64_t j = 0; j < 3 * d.C; ++j) dpad[j] += part[table_size + j];
  }
}

}  // namespace

void window_attention_forward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                              const WindowAttentionDims& d, double scale, Tensor& out) {
  dispatch_cpu_float("window_attention", qkv, [&](auto tag) {
    using T = decltype(tag);
    forward_cpu(qkv.data<T>(), pad_qkv.data<T>(), bias_table.data<T>(), d, T(scale), out.data<T>());
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
