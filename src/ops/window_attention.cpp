// Swin's shifted-window multi-head self-attention, and its backward rule.
//
// qkv [N, H, W, 3C] (channels [q | k | v], head h owning channels h·D … h·D + D − 1 of
// each, D = C / heads), pad_qkv [3C], bias_table [(2w − 1)², heads], window w, shift s.
// With Hp = ⌈H/w⌉·w and Wp = ⌈W/w⌉·w:
//   X̄[y, x] = qkv[y, x] if y < H and x < W, else pad_qkv          (the padded map)
//   R[y, x] = X̄[(y + s) mod Hp, (x + s) mod Wp]                      (rolled by (−s, −s))
// Each w×w window of R holds L = w² tokens t = (ti, tj) in raster order. For every window,
// head h, query t and key u, with q, k, v the head's slices of the tokens' R rows:
//   S[t, u] = scale·q_t·k_u + B[t, u] + M[t, u]
//   B[t, u] = bias_table[idx(t, u), h]
//   idx(t, u) = (ti − ui + w − 1)·(2w − 1) + (tj − uj + w − 1)
//   M[t, u] = −100 if s > 0 and region(t) ≠ region(u), else 0
//   P[t, ·] = softmax(S[t, ·])            (max subtracted first)
//   O[t]    = Σ_u P[t, u]·v_u
// region(t) = 3·band(y, Hp) + band(x, Wp) at the token's rolled coordinates (y, x), with
// band(r, P) = 0 for r < P − w, 1 for r < P − s, 2 otherwise (the official image mask).
// The output at a map position is the O of the rolled token it became; positions outside
// H×W (padding) are cropped. Rolling is a bijection, so each real position is the token of
// exactly one window: the output is written once, and so is each real row of dqkv.
//
// Backward, from dO (zero for cropped queries), per window and head:
//   dV_u      = Σ_t P[t, u]·dO_t
//   dP[t, u]  = dO_t·v_u
//   Δ_t       = Σ_u P[t, u]·dP[t, u]                 (= dO_t·O_t)
//   dS[t, u]  = P[t, u]·(dP[t, u] − Δ_t)
//   dq_t      = scale·Σ_u dS[t, u]·k_u
//   dk_u      = scale·Σ_t dS[t, u]·q_t
//   d bias_table[j, h] = Σ over images, windows and (t, u) with idx(t, u) = j of dS[t, u]
//   d pad_qkv = Σ over images and padded tokens of [dq | dk | dv] (dq = 0: padded queries
//               are cropped, so their dO is zero)
// A token's dq, dk, dv go to its qkv row when it is a real position.
//
// CPU: the op runs the fast path, src/ops/cpu/window_attention.cpp (a window's tokens
// gathered once, the products by the packed GEMM, windows in parallel). The plain loops
// below are the reference it and the CUDA kernels (cuda/window_attention.cu) are tested
// against (declared in src/ops/window_attention.h); they follow the equations above token
// by token: for each image, window, head and query.
#include "tv3s/ops/window_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "cuda/window_attention.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/ops/cpu/window_attention.h"
#include "src/ops/window_attention.h"
#include "tv3s/autograd.h"

namespace tv3s {

WindowAttentionDims window_attention_dims(const Tensor& qkv, int64_t heads, int64_t window,
                                          int64_t shift) {
  TV3S_CHECK(qkv.ndim() == 4, "window_attention: needs qkv [N, H, W, 3C]; got qkv ", qkv.desc());
  const int64_t channels = qkv.size(3);
  TV3S_CHECK(channels >= 3 && channels % 3 == 0, "window_attention: qkv's last dim must be 3C ",
             "(q, k and v of C channels each); got qkv ", qkv.desc());
  const int64_t C = channels / 3;
  TV3S_CHECK(heads >= 1 && C % heads == 0, "window_attention: C = ", C,
             " channels do not split into ", heads, " heads of equal size (qkv ", qkv.desc(), ")");
  TV3S_CHECK(window >= 1, "window_attention: window must be ≥ 1, got ", window);
  TV3S_CHECK(shift >= 0 && shift < window, "window_attention: shift must be in [0, window) = [0, ",
             window, "), got ", shift);
  WindowAttentionDims d;
  d.N = qkv.size(0);
  d.H = qkv.size(1);
  d.W = qkv.size(2);
  d.C = C;
  d.heads = heads;
  d.D = C / heads;
  d.window = window;
  d.shift = shift;
  d.windows_h = (d.H + window - 1) / window;
  d.windows_w = (d.W + window - 1) / window;
  d.Hp = d.windows_h * window;
  d.Wp = d.windows_w * window;
  d.L = window * window;
  return d;
}

namespace {

// --- CPU reference ---------------------------------------------------------------------------

// Where token t of window (a, b) of the rolled map comes from: its position (y, x) in the
// padded map, whether that is a real position of the H×W map, and its mask region.
struct Token {
  int64_t y, x;
  bool real;
  int region;
};

// band(r, P): which of the official mask's slices [0, P − w), [P − w, P − s), [P − s, P)
// holds rolled coordinate r.
int band(int64_t r, int64_t padded, const WindowAttentionDims& d) {
  if (r < padded - d.window) return 0;
  return r < padded - d.shift ? 1 : 2;
}

Token token_of(const WindowAttentionDims& d, int64_t a, int64_t b, int64_t t) {
  const int64_t ry = a * d.window + t / d.window, rx = b * d.window + t % d.window;  // rolled
  Token token;
  token.y = (ry + d.shift) % d.Hp;  // R[ry, rx] = X̄[(ry + s) mod Hp, (rx + s) mod Wp]
  token.x = (rx + d.shift) % d.Wp;
  token.real = token.y < d.H && token.x < d.W;
  token.region = 3 * band(ry, d.Hp, d) + band(rx, d.Wp, d);
  return token;
}

// idx(t, u) of the relative position bias table.
int64_t bias_index(const WindowAttentionDims& d, int64_t t, int64_t u) {
  const int64_t w = d.window;
  return (t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1);
}

// S[t, ·] of one window and head: scale·q_t·k_u + B[t, u] + M[t, u], then P = softmax.
// rows[u] is token u's 3C values (its qkv row or pad_qkv).
template <class T>
void probabilities(const std::vector<const T*>& rows, const std::vector<Token>& tokens,
                   const T* table, const WindowAttentionDims& d, int64_t h, int64_t t, T scale,
                   std::vector<T>& p) {
  const T* q = rows[t] + h * d.D;
  for (int64_t u = 0; u < d.L; ++u) {
    const T* k = rows[u] + d.C + h * d.D;
    T dot = 0;
    for (int64_t i = 0; i < d.D; ++i) dot += scale * q[i] * k[i];  // q scaled first, as Swin
    T mask = 0;
    if (d.shift > 0 && tokens[t].region != tokens[u].region) mask = -100;
    p[u] = dot + table[bias_index(d, t, u) * d.heads + h] + mask;
  }
  const T m = *std::max_element(p.begin(), p.end());
  T sum = 0;
  for (int64_t u = 0; u < d.L; ++u) sum += (p[u] = std::exp(p[u] - m));
  for (int64_t u = 0; u < d.L; ++u) p[u] /= sum;
}

// The tokens of window (a, b) of image n, and their rows of 3C values.
template <class T>
void gather_window(const T* qkv, const T* pad, const WindowAttentionDims& d, int64_t n, int64_t a,
                   int64_t b, std::vector<Token>& tokens, std::vector<const T*>& rows) {
  for (int64_t t = 0; t < d.L; ++t) {
    tokens[t] = token_of(d, a, b, t);
    rows[t] = tokens[t].real ? qkv + ((n * d.H + tokens[t].y) * d.W + tokens[t].x) * 3 * d.C : pad;
  }
}

template <class T>
void reference_forward(const T* qkv, const T* pad, const T* table, const WindowAttentionDims& d,
                       T scale, T* out) {
  std::vector<Token> tokens(size_t(d.L));
  std::vector<const T*> rows(size_t(d.L));
  std::vector<T> p(size_t(d.L));
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t a = 0; a < d.windows_h; ++a)
      for (int64_t b = 0; b < d.windows_w; ++b) {
        gather_window(qkv, pad, d, n, a, b, tokens, rows);
        for (int64_t h = 0; h < d.heads; ++h)
          for (int64_t t = 0; t < d.L; ++t) {
            if (!tokens[t].real) continue;  // a padded query: cropped from the output
            probabilities(rows, tokens, table, d, h, t, scale, p);
            T* o = out + ((n * d.H + tokens[t].y) * d.W + tokens[t].x) * d.C + h * d.D;
            for (int64_t i = 0; i < d.D; ++i) o[i] = 0;
            for (int64_t u = 0; u < d.L; ++u) {
              const T* v = rows[u] + 2 * d.C + h * d.D;
              for (int64_t i = 0; i < d.D; ++i) o[i] += p[u] * v[i];
            }
          }
      }
}

template <class T>
void reference_backward(const T* qkv, const T* pad, const T* table, const T* dout,
                        const WindowAttentionDims& d, T scale, T* dqkv, T* dpad, T* dtable) {
  std::fill(dqkv, dqkv + d.N * d.H * d.W * 3 * d.C, T(0));
  std::fill(dpad, dpad + 3 * d.C, T(0));
  std::fill(dtable, dtable + (2 * d.window - 1) * (2 * d.window - 1) * d.heads, T(0));
  std::vector<Token> tokens(size_t(d.L));
  std::vector<const T*> rows(size_t(d.L));
  std::vector<T> p(size_t(d.L)), dp(size_t(d.L));
  // Where token t's gradient goes: its dqkv row, or dpad for a padded token.
  auto grad_row = [&](int64_t n, const Token& token) {
    return token.real ? dqkv + ((n * d.H + token.y) * d.W + token.x) * 3 * d.C : dpad;
  };
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t a = 0; a < d.windows_h; ++a)
      for (int64_t b = 0; b < d.windows_w; ++b) {
        gather_window(qkv, pad, d, n, a, b, tokens, rows);
        for (int64_t h = 0; h < d.heads; ++h)
          for (int64_t t = 0; t < d.L; ++t) {
            if (!tokens[t].real) continue;  // cropped: dO_t = 0, nothing flows back
            probabilities(rows, tokens, table, d, h, t, scale, p);
            const T* q = rows[t] + h * d.D;
            const T* dO = dout + ((n * d.H + tokens[t].y) * d.W + tokens[t].x) * d.C + h * d.D;
            T delta = 0;  // Δ_t = Σ_u P[t, u]·dP[t, u]
            for (int64_t u = 0; u < d.L; ++u) {
              const T* v = rows[u] + 2 * d.C + h * d.D;
              dp[u] = 0;
              for (int64_t i = 0; i < d.D; ++i) dp[u] += dO[i] * v[i];
              delta += p[u] * dp[u];
            }
            T* dq = grad_row(n, tokens[t]) + h * d.D;
            for (int64_t u = 0; u < d.L; ++u) {
              const T ds = p[u] * (dp[u] - delta);
              const T* k = rows[u] + d.C + h * d.D;
              T* dk = grad_row(n, tokens[u]) + d.C + h * d.D;
              T* dv = dk + d.C;
              for (int64_t i = 0; i < d.D; ++i) {
                dq[i] += scale * ds * k[i];
                dk[i] += scale * ds * q[i];
                dv[i] += p[u] * dO[i];
              }
              dtable[bias_index(d, t, u) * d.heads + h] += ds;
            }
          }
      }
}

}  // namespace

void window_attention_reference_forward(const Tensor& qkv, const Tensor& pad_qkv,
                                        const Tensor& bias_table, const WindowAttentionDims& d,
                                        double scale, Tensor& out) {
  dispatch_cpu_float("window_attention reference", qkv, [&](auto tag) {
    using T = decltype(tag);
    reference_forward(qkv.data<T>(), pad_qkv.data<T>(), bias_table.data<T>(), d, T(scale),
                      out.data<T>());
  });
}

void window_attention_reference_backward(const Tensor& qkv, const Tensor& pad_qkv,
                                         const Tensor& bias_table, const Tensor& dout,
                                         const WindowAttentionDims& d, double scale, Tensor& dqkv,
                                         Tensor& dpad, Tensor& dtable) {
  dispatch_cpu_float("window_attention reference backward", qkv, [&](auto tag) {
    using T = decltype(tag);
    reference_backward(qkv.data<T>(), pad_qkv.data<T>(), bias_table.data<T>(), dout.data<T>(), d,
                       T(scale), dqkv.data<T>(), dpad.data<T>(), dtable.data<T>());
  });
}

namespace {

// --- checks and dispatch -----------------------------------------------------------------------

// The CUDA kernels' limit (their shared-memory tiles hold one window's keys and values).
// `supported` is cuda::window_attention_supported(d), asked inside TV3S_ON_CUDA so that a
// CPU-only build references no CUDA symbol.
[[maybe_unused]] void check_cuda_supported(bool supported, const WindowAttentionDims& d) {
  TV3S_CHECK(supported, "window_attention: the CUDA kernels do not take window ", d.window, " (",
             d.L, " tokens) with head size D = ", d.D, " (C = ", d.C, ", ", d.heads,
             " heads): one window's keys and values must fit in shared memory");
}

WindowAttentionDims check_window_attention(const Tensor& qkv, const Tensor& pad_qkv,
                                           const Tensor& bias_table, int64_t heads, int64_t window,
                                           int64_t shift, double scale) {
  const char* op = "window_attention";
  check_defined(op, qkv);
  check_defined(op, pad_qkv);
  check_defined(op, bias_table);
  check_same_device(op, qkv, pad_qkv);
  check_same_device(op, qkv, bias_table);
  check_same_dtype(op, qkv, pad_qkv);
  check_same_dtype(op, qkv, bias_table);
  check_compute_dtype(op, qkv);
  const WindowAttentionDims d = window_attention_dims(qkv, heads, window, shift);
  TV3S_CHECK(pad_qkv.shape() == Shape{3 * d.C}, "window_attention: pad_qkv must be [3C] = [",
             3 * d.C, "] (the qkv of a padded position); got pad_qkv ", pad_qkv.desc());
  const int64_t offsets = (2 * window - 1) * (2 * window - 1);
  TV3S_CHECK(bias_table.shape() == (Shape{offsets, heads}),
             "window_attention: bias_table must be [(2·window − 1)², heads] = [", offsets, ", ",
             heads, "]; got bias_table ", bias_table.desc());
  TV3S_CHECK(std::isfinite(scale), "window_attention: scale must be finite, got ", scale);
  if (qkv.is_cuda()) {
    TV3S_ON_CUDA(check_cuda_supported(cuda::window_attention_supported(d), d));
  }
  return d;
}

std::vector<Tensor> window_attention_backward(const Tensor& qkv, const Tensor& pad_qkv,
                                              const Tensor& bias_table, const Tensor& grad,
                                              const WindowAttentionDims& d, double scale) {
  const Tensor dout = grad.to(qkv.dtype());
  if (qkv.numel() == 0) {  // no position: nothing flows back
    return {Tensor::zeros(qkv.shape(), qkv.dtype(), qkv.device()),
            Tensor::zeros(pad_qkv.shape(), qkv.dtype(), qkv.device()),
            Tensor::zeros(bias_table.shape(), qkv.dtype(), qkv.device())};
  }
  Tensor dqkv = Tensor::empty(qkv.shape(), qkv.dtype(), qkv.device());
  Tensor dpad = Tensor::empty(pad_qkv.shape(), qkv.dtype(), qkv.device());
  Tensor dtable = Tensor::empty(bias_table.shape(), qkv.dtype(), qkv.device());
  if (qkv.is_cuda()) {
    TV3S_ON_CUDA(cuda::window_attention_backward(qkv, pad_qkv, bias_table, dout, d, scale, dqkv,
                                                 dpad, dtable));
  } else {
    cpu::window_attention_backward(qkv, pad_qkv, bias_table, dout, d, scale, dqkv, dpad, dtable);
  }
  return {dqkv, dpad, dtable};
}

}  // namespace

Tensor window_attention(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                        int64_t heads, int64_t window, int64_t shift, double scale) {
  const WindowAttentionDims d =
      check_window_attention(qkv, pad_qkv, bias_table, heads, window, shift, scale);
  Tensor out = Tensor::empty(Shape{d.N, d.H, d.W, d.C}, qkv.dtype(), qkv.device());
  if (out.numel() > 0) {
    if (qkv.is_cuda()) {
      TV3S_ON_CUDA(cuda::window_attention_forward(qkv, pad_qkv, bias_table, d, scale, out));
    } else {
      cpu::window_attention_forward(qkv, pad_qkv, bias_table, d, scale, out);
    }
  }
  if (autograd::needs_grad(qkv, pad_qkv, bias_table)) {
    // The backward recomputes P from the inputs (L = w² keys per query: cheap), so the
    // forward saves nothing.
    autograd::record("window_attention", out, {qkv, pad_qkv, bias_table},
                     [qkv = qkv.detach(), pad_qkv = pad_qkv.detach(),
                      bias_table = bias_table.detach(), d, scale](const Tensor& dout) {
                       return window_attention_backward(qkv, pad_qkv, bias_table, dout, d, scale);
                     });
  }
  return out;
}

}  // namespace tv3s
