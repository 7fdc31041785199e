// Selective scan (Mamba's S6), channels-last, with an initial and a final state.
//
// For each sequence b, channel d and state n, over the tokens t = 0..L−1:
//   v[t]  = delta[b,t,d] + delta_bias[d]
//   Δ[t]  = softplus(v[t]) = log(1 + e^v)  (v itself when v > 20, as PyTorch; Δ = v when
//           delta_softplus is off)
//   a[t]  = exp(Δ[t]·A[d,n])                       the decay, in (0, 1] since A < 0
//   h[t]  = a[t]·h[t−1] + Δ[t]·B[b,t,n]·u[b,t,d]     h[−1] = initial_state[b,d,n] (or 0)
//   ŷ[t]  = Σ_n C[b,t,n]·h[t] + D[d]·u[b,t,d]
//   y[t]  = ŷ[t]·SiLU(z[b,t,d])                     (ŷ[t] when z is undefined)
//   final_state[b,d,n] = h[L−1]
// Scanning tokens [0, L1) and then [L1, L) from the first part's final state is the same
// computation as one scan of [0, L): streaming inference scans a frame at a time.
//
// Backward. Given ∂L/∂y (dy) and ∂L/∂final_state (dh_final), let s[t] = dy[t]·SiLU(z[t])
// be the cotangent of ŷ[t], and g[t] = ∂L/∂h[t] the total gradient of the state (through
// ŷ[t] and every later state):
//   g[L−1] = dh_final + s[L−1]·C[L−1],     g[t] = s[t]·C[t] + a[t+1]·g[t+1]
// — the same kind of linear recurrence as the forward, run backwards. Then
//   dz[t]     = dy[t]·ŷ[t]·SiLU′(z[t])               SiLU′(z) = σ(z)·(1 + z·(1 − σ(z)))
//   du[t]     = s[t]·D + Δ[t]·Σ_n g[t]·B[t]
//   dΔ[t]     = Σ_n g[t]·(B[t]·u[t] + A·a[t]·h[t−1])   (∂h[t]/∂Δ = B·u + A·a·h[t−1])
//   ddelta[t] = dΔ[t]·softplus′(v[t])                 softplus′(v) = σ(v) (1 when v > 20)
//   dB[b,t,n] = Σ_d g[t]·Δ[t]·u[t]        dC[b,t,n] = Σ_d s[t]·h[t]
//   dA[d,n]   = Σ_{b,t} g[t]·Δ[t]·a[t]·h[t−1]
//   dD[d]     = Σ_{b,t} s[t]·u[t]         ddelta_bias[d] = Σ_{b,t} ddelta[t]
//   dinitial_state = a[0]·g[0]
// The reverse sweep needs h[t−1] in reverse order. It is recomputed, not stored: a
// forward sweep keeps the state before every kCheckpointEvery-th token, then each such
// stretch is rescanned (its states kept) just before the reverse sweep walks it. Memory is
// L/64 + 64 states per channel instead of L.
//
// The op has two outputs, so it records two autograd nodes: one maps dy to the input
// gradients (dh_final = 0), the other maps dh_final to them (dy = 0). The engine adds
// the two when the loss reaches both.
//
// CPU: the forward is parallel over (sequence, block of 8 channels). A block keeps its
// 8×N states as [n][channel] so that every inner loop runs over 8 contiguous channels
// (one f32x8: u, Δ and y are contiguous along channels in the token layout); in f32,
// e^{Δ·A}, softplus and SiLU are f32x8 code around simd::exp8 (≤ 2 ulp; libm in f64).
// The backward is parallel over sequences; a sequence adds its channels into dB, dC in
// order, and dA, dD, ddelta_bias are summed over sequences in order afterwards (in
// double), so the result does not depend on the number of threads.
// CUDA (cuda/selective_scan.cu): the forward scans chunks of the sequence in parallel and
// joins them through their end states; the backward gives each state its own thread.
#include "tv3s/ops/selective_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cuda/selective_scan.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/core/simd_math.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/convert.h"

namespace tv3s {
namespace {

constexpr int kLanes = 8;                 // channels scanned together (one f32x8)
constexpr int64_t kCheckpointEvery = 64;  // backward: tokens between stored states
constexpr int64_t kParallelMin = 32768;   // state updates; below this one thread is faster

// --- scalar pieces ---------------------------------------------------------------------

template <class T>
T sigmoid(T v) {
  return T(1) / (T(1) + std::exp(-v));
}
template <class T>
T softplus(T v) {
  return v > T(20) ? v : std::log1p(std::exp(v));
}
template <class T>
T softplus_grad(T v) {
  return v > T(20) ? T(1) : sigmoid(v);
}
template <class T>
T silu(T v) {
  return v * sigmoid(v);
}
template <class T>
T silu_grad(T v) {
  const T s = sigmoid(v);
  return s * (T(1) + v * (T(1) - s));
}

// Lane-wise e^x, softplus and SiLU for the 8 lanes of a channel block. In f32 they are
// f32x8 code around simd::exp8 (≤ 2 ulp): per token these cost as much as the 16 state
// updates when done with scalar libm calls. In f64, the scalar functions above.
inline simd::f32x8 load8(const float* x) {
  simd::f32x8 v;
  std::memcpy(&v, x, sizeof v);
  return v;
}
inline void store8(simd::f32x8 v, float* out) { std::memcpy(out, &v, sizeof v); }

inline void exp_lanes(const float* x, float* out) { store8(simd::exp8(load8(x)), out); }
inline void exp_lanes(const double* x, double* out) {
  for (int j = 0; j < kLanes; ++j) out[j] = std::exp(x[j]);
}

// softplus(v) = max(v, 0) + log1p(w) with w = e^{−|v|} ∈ (0, 1], and
// log1p(w) = 2·atanh(s) = 2·(s + s³/3 + s⁵/5 + …), s = w / (2 + w) ∈ [0, 1/3]: seven
// terms leave < 1e-8 relative (the next is ≤ 2·3⁻¹⁵/15). v itself above 20.
inline void softplus_lanes(const float* v_in, float* out) {
  const simd::f32x8 v = load8(v_in);
  const simd::f32x8 w = simd::exp8(v < 0.f ? v : -v);
  const simd::f32x8 s = w / (2.f + w), s2 = s * s;
  simd::f32x8 series = simd::splat8(1.f / 13);
  for (const float k : {11.f, 9.f, 7.f, 5.f, 3.f, 1.f}) series = series * s2 + 1.f / k;
  const simd::f32x8 result = (v > 0.f ? v : simd::splat8(0.f)) + 2.f * s * series;
  store8(v > 20.f ? v : result, out);
}
inline void softplus_lanes(const double* v, double* out) {
  for (int j = 0; j < kLanes; ++j) out[j] = softplus(v[j]);
}

// out[j] = x[j]·SiLU(z[j]) = x[j]·z[j] / (1 + e^{−z[j]}).
inline void times_silu_lanes(const float* z_in, float* x) {
  const simd::f32x8 z = load8(z_in);
  store8(load8(x) * z / (1.f + simd::exp8(-z)), x);
}
inline void times_silu_lanes(const double* z, double* x) {
  for (int j = 0; j < kLanes; ++j) x[j] *= silu(z[j]);
}

// --- the inputs as pointers --------------------------------------------------------------

template <class T>
struct ScanData {
  const T *u, *delta, *A, *B, *C, *D, *z, *delta_bias, *h0;  // optional ones may be null
  int64_t batch, length, channels, states;
  bool softplus;

  explicit ScanData(const ScanInputs& in)
      : u(in.u.data<T>()), delta(in.delta.data<T>()), A(in.A.data<T>()), B(in.B.data<T>()),
        C(in.C.data<T>()), D(data_or_null<T>(in.D)), z(data_or_null<T>(in.z)),
        delta_bias(data_or_null<T>(in.delta_bias)), h0(data_or_null<T>(in.initial_state)),
        batch(in.batch()), length(in.length()), channels(in.channels()), states(in.states()),
        softplus(in.delta_softplus) {}
};

// One block of up to kLanes channels [d0, d0 + width) of sequence b. Lanes past `width`
// hold zeros: with Δ = u = A = 0 their state stays 0 and they contribute nothing.
template <class T>
struct LaneBlock {
  int64_t b, d0;
  int width;

  LaneBlock(const ScanData<T>& s, int64_t task) {
    const int64_t blocks = (s.channels + kLanes - 1) / kLanes;
    b = task / blocks;
    d0 = task % blocks * kLanes;
    width = int(std::min<int64_t>(kLanes, s.channels - d0));
  }
  // Element (b, t, d0) of a [B, L, D] tensor.
  int64_t token(const ScanData<T>& s, int64_t t) const {
    return (b * s.length + t) * s.channels + d0;
  }
  // Δ (and the pre-softplus value v) and u of token t, for the lanes.
  void load(const ScanData<T>& s, int64_t t, T* dt, T* v, T* u) const {
    const int64_t at = token(s, t);
    for (int j = 0; j < kLanes; ++j) {
      v[j] = j < width ? s.delta[at + j] + (s.delta_bias ? s.delta_bias[d0 + j] : T(0)) : T(0);
      u[j] = j < width ? s.u[at + j] : T(0);
    }
    if (s.softplus) softplus_lanes(v, dt);
    else std::copy(v, v + kLanes, dt);
    for (int j = width; j < kLanes; ++j) dt[j] = T(0);
  }
  // A[d, n] for the lanes, as [n][lane].
  std::vector<T> decay_rates(const ScanData<T>& s) const {
    std::vector<T> A(size_t(s.states * kLanes), T(0));
    for (int64_t n = 0; n < s.states; ++n)
      for (int j = 0; j < width; ++j) A[size_t(n * kLanes + j)] = s.A[(d0 + j) * s.states + n];
    return A;
  }
  // The initial state, as [n][lane].
  std::vector<T> initial_state(const ScanData<T>& s) const {
    std::vector<T> h(size_t(s.states * kLanes), T(0));
    if (s.h0)
      for (int64_t n = 0; n < s.states; ++n)
        for (int j = 0; j < width; ++j)
          h[size_t(n * kLanes + j)] = s.h0[(b * s.channels + d0 + j) * s.states + n];
    return h;
  }
};

// One token of the recurrence for a lane block: h ← a ⊙ h + Δ·u·B[t], with the decays
// a = e^{Δ·A} written to `decay` ([n][lane]) and Σ_n C[t]·h added to y when C is given.
template <class T>
void scan_step(const ScanData<T>& s, int64_t b, int64_t t, const T* A, const T* dt,
               const T* dtu, T* h, T* decay, const T* C, T* y) {
  const T* B_t = s.B + (b * s.length + t) * s.states;
  for (int64_t n = 0; n < s.states; ++n) {
    T arg[kLanes];
    for (int j = 0; j < kLanes; ++j) arg[j] = dt[j] * A[n * kLanes + j];
    T* a = decay + n * kLanes;
    exp_lanes(arg, a);
    T* hn = h + n * kLanes;
    for (int j = 0; j < kLanes; ++j) hn[j] = a[j] * hn[j] + dtu[j] * B_t[n];
    if (C)
      for (int j = 0; j < kLanes; ++j) y[j] += C[n] * hn[j];
  }
}

// --- CPU forward -------------------------------------------------------------------------

template <class T>
void scan_forward_cpu(const ScanData<T>& s, T* y, T* final_state) {
  const int64_t L = s.length, D = s.channels, N = s.states;
  const int64_t blocks = (D + kLanes - 1) / kLanes;
  parallel_for(s.batch * blocks, s.batch * L * D * N > kParallelMin, [&](int64_t task) {
    const LaneBlock<T> lanes(s, task);
    const std::vector<T> A = lanes.decay_rates(s);
    std::vector<T> h = lanes.initial_state(s), decay(size_t(N * kLanes));
    for (int64_t t = 0; t < L; ++t) {
      T dt[kLanes], v[kLanes], u[kLanes], dtu[kLanes], y_t[kLanes] = {};
      lanes.load(s, t, dt, v, u);
      for (int j = 0; j < kLanes; ++j) dtu[j] = dt[j] * u[j];
      scan_step(s, lanes.b, t, A.data(), dt, dtu, h.data(), decay.data(),
                s.C + (lanes.b * L + t) * N, y_t);
      const int64_t at = lanes.token(s, t);
      T z_t[kLanes] = {};
      for (int j = 0; j < lanes.width; ++j) {
        y_t[j] += (s.D ? s.D[lanes.d0 + j] : T(0)) * u[j];
        if (s.z) z_t[j] = s.z[at + j];
      }
      if (s.z) times_silu_lanes(z_t, y_t);
      std::copy(y_t, y_t + lanes.width, y + at);
    }
    for (int64_t n = 0; n < N; ++n)
      for (int j = 0; j < lanes.width; ++j)
        final_state[(lanes.b * D + lanes.d0 + j) * N + n] = h[size_t(n * kLanes + j)];
  });
}

// --- CPU backward ------------------------------------------------------------------------

template <class T>
struct GradData {
  T *u, *delta, *A, *B, *C, *D, *z, *delta_bias, *h0;  // null: not wanted
  explicit GradData(const ScanGrads& g)
      : u(data_or_null<T>(g.u)), delta(data_or_null<T>(g.delta)),
        A(data_or_null<T>(g.A)), B(data_or_null<T>(g.B)), C(data_or_null<T>(g.C)),
        D(data_or_null<T>(g.D)), z(data_or_null<T>(g.z)),
        delta_bias(data_or_null<T>(g.delta_bias)), h0(data_or_null<T>(g.initial_state)) {}
};

// dy and dfinal may be null (zero). Sums over channels and sequences are in double.
template <class T>
void scan_backward_cpu(const ScanData<T>& s, const T* dy, const T* dfinal,
                       const GradData<T>& grad) {
  const int64_t L = s.length, D = s.channels, N = s.states, NL = N * kLanes;
  const int64_t blocks = (D + kLanes - 1) / kLanes;
  const int64_t chunks = (L + kCheckpointEvery - 1) / kCheckpointEvery;
  // Per-sequence partial sums of dA [b][d][n], dD and ddelta_bias [b][d], added up below.
  std::vector<double> dA_part(size_t(s.batch * D * N)), dD_part(size_t(s.batch * D)),
      dbias_part(size_t(s.batch * D));

  parallel_for(s.batch, s.batch * L * D * N > kParallelMin / 4, [&](int64_t b) {
    std::vector<double> dB_sum(grad.B ? size_t(L * N) : 0), dC_sum(grad.C ? size_t(L * N) : 0);
    std::vector<T> checkpoint(size_t(chunks * NL));
    // The rescanned stretch: per token, the state before it and its decays ([n][lane]),
    // Δ, v, u and ŷ of the lanes.
    std::vector<T> h_before(size_t(kCheckpointEvery * NL)), decay(size_t(kCheckpointEvery * NL));
    std::vector<T> dt_of(size_t(kCheckpointEvery * kLanes)), v_of(dt_of.size()),
        u_of(dt_of.size()), yhat_of(dt_of.size());
    for (int64_t block = 0; block < blocks; ++block) {
      const LaneBlock<T> lanes(s, b * blocks + block);
      const std::vector<T> A = lanes.decay_rates(s);
      T D_lane[kLanes] = {};
      for (int j = 0; j < lanes.width; ++j) D_lane[j] = s.D ? s.D[lanes.d0 + j] : T(0);

      // 1. Forward sweep: the state before every kCheckpointEvery-th token.
      std::vector<T> h = lanes.initial_state(s);
      std::vector<T> scratch(static_cast<size_t>(NL));
      for (int64_t t = 0; t < L; ++t) {
        if (t % kCheckpointEvery == 0)
          std::copy(h.begin(), h.end(), checkpoint.begin() + (t / kCheckpointEvery) * NL);
        T dt[kLanes], v[kLanes], u[kLanes], dtu[kLanes];
        lanes.load(s, t, dt, v, u);
        for (int j = 0; j < kLanes; ++j) dtu[j] = dt[j] * u[j];
        scan_step(s, b, t, A.data(), dt, dtu, h.data(), scratch.data(), (const T*)nullptr,
                  (T*)nullptr);
      }

      // 2. Reverse sweep, a stretch at a time. g = ∂L/∂h[t]; a_next = a[t+1] (1 past the end).
      std::vector<T> g(size_t(NL), T(0)), a_next(size_t(NL), T(1));
      if (dfinal)
        for (int64_t n = 0; n < N; ++n)
          for (int j = 0; j < lanes.width; ++j)
            g[size_t(n * kLanes + j)] = dfinal[(b * D + lanes.d0 + j) * N + n];
      std::vector<double> dA_sum(size_t(NL), 0.0);
      double dD_sum[kLanes] = {}, dbias_sum[kLanes] = {};
      for (int64_t chunk = chunks - 1; chunk >= 0; --chunk) {
        const int64_t t0 = chunk * kCheckpointEvery, t1 = std::min(L, t0 + kCheckpointEvery);
        // Rescan the stretch from its checkpoint, keeping what the reverse sweep reads.
        std::copy(checkpoint.begin() + chunk * NL, checkpoint.begin() + (chunk + 1) * NL,
                  h.begin());
        for (int64_t t = t0; t < t1; ++t) {
          const int64_t i = t - t0;
          T* dt = &dt_of[size_t(i * kLanes)];
          T* u = &u_of[size_t(i * kLanes)];
          T dtu[kLanes], yhat[kLanes] = {};
          lanes.load(s, t, dt, &v_of[size_t(i * kLanes)], u);
          for (int j = 0; j < kLanes; ++j) dtu[j] = dt[j] * u[j];
          std::copy(h.begin(), h.end(), h_before.begin() + i * NL);
          scan_step(s, b, t, A.data(), dt, dtu, h.data(), &decay[size_t(i * NL)],
                    s.C + (b * L + t) * N, yhat);
          for (int j = 0; j < kLanes; ++j)
            yhat_of[size_t(i * kLanes + j)] = yhat[j] + D_lane[j] * u[j];
        }
        for (int64_t t = t1 - 1; t >= t0; --t) {
          const int64_t i = t - t0, at = lanes.token(s, t);
          const T* dt = &dt_of[size_t(i * kLanes)];
          const T* u = &u_of[size_t(i * kLanes)];
          const T* v = &v_of[size_t(i * kLanes)];
          // s[t] = dy·SiLU(z): the cotangent of ŷ; and dz.
          T ds[kLanes] = {};
          for (int j = 0; j < lanes.width; ++j) {
            const T dy_j = dy ? dy[at + j] : T(0);
            ds[j] = s.z ? dy_j * silu(s.z[at + j]) : dy_j;
            if (grad.z)
              grad.z[at + j] = dy_j * yhat_of[size_t(i * kLanes + j)] * silu_grad(s.z[at + j]);
          }
          const T* B_t = s.B + (b * L + t) * N;
          const T* C_t = s.C + (b * L + t) * N;
          T sum_gB[kLanes] = {}, sum_gAah[kLanes] = {};  // Σ_n g·B and Σ_n g·A·a·h[t−1]
          for (int64_t n = 0; n < N; ++n) {
            T* gn = &g[size_t(n * kLanes)];
            T* an = &a_next[size_t(n * kLanes)];
            const T* a = &decay[size_t(i * NL + n * kLanes)];
            const T* hp = &h_before[size_t(i * NL + n * kLanes)];
            const T* An = &A[size_t(n * kLanes)];
            double dB_tn = 0, dC_tn = 0;
            for (int j = 0; j < kLanes; ++j) {
              gn[j] = an[j] * gn[j] + ds[j] * C_t[n];
              const T h_t = a[j] * hp[j] + dt[j] * u[j] * B_t[n];
              dB_tn += double(gn[j] * dt[j] * u[j]);
              dC_tn += double(ds[j] * h_t);
              sum_gB[j] += gn[j] * B_t[n];
              const T gah = gn[j] * a[j] * hp[j];
              sum_gAah[j] += gah * An[j];
              dA_sum[size_t(n * kLanes + j)] += double(gah * dt[j]);
              an[j] = a[j];
            }
            if (grad.B) dB_sum[size_t(t * N + n)] += dB_tn;
            if (grad.C) dC_sum[size_t(t * N + n)] += dC_tn;
          }
          for (int j = 0; j < lanes.width; ++j) {
            const T d_dt = u[j] * sum_gB[j] + sum_gAah[j];
            const T d_delta = s.softplus ? d_dt * softplus_grad(v[j]) : d_dt;
            if (grad.u) grad.u[at + j] = dt[j] * sum_gB[j] + D_lane[j] * ds[j];
            if (grad.delta) grad.delta[at + j] = d_delta;
            dD_sum[j] += double(ds[j] * u[j]);
            dbias_sum[j] += double(d_delta);
          }
        }
      }
      // ∂L/∂h[−1] = a[0]·g[0] (a_next is a[0] now; 1 when L = 0).
      for (int64_t n = 0; n < N; ++n)
        for (int j = 0; j < lanes.width; ++j) {
          const int64_t at = (b * D + lanes.d0 + j) * N + n;
          const size_t k = size_t(n * kLanes + j);
          if (grad.h0) grad.h0[at] = a_next[k] * g[k];
          dA_part[size_t(at)] = dA_sum[k];
        }
      for (int j = 0; j < lanes.width; ++j) {
        dD_part[size_t(b * D + lanes.d0 + j)] = dD_sum[j];
        dbias_part[size_t(b * D + lanes.d0 + j)] = dbias_sum[j];
      }
    }
    for (int64_t k = 0; k < L * N; ++k) {
      if (grad.B) grad.B[b * L * N + k] = T(dB_sum[size_t(k)]);
      if (grad.C) grad.C[b * L * N + k] = T(dC_sum[size_t(k)]);
    }
  });

  // Sums over sequences, in order.
  auto sum_over_batch = [&](const std::vector<double>& part, int64_t count, T* out) {
    if (!out) return;
    for (int64_t k = 0; k < count; ++k) {
      double total = 0;
      for (int64_t b = 0; b < s.batch; ++b) total += part[size_t(b * count + k)];
      out[k] = T(total);
    }
  };
  sum_over_batch(dA_part, D * N, grad.A);
  sum_over_batch(dD_part, D, grad.D);
  sum_over_batch(dbias_part, D, grad.delta_bias);
}

// --- dispatch ----------------------------------------------------------------------------

ScanResult scan_forward(const ScanInputs& in) {
  const int64_t Bn = in.batch(), L = in.length(), D = in.channels(), N = in.states();
  const DType dtype = in.u.dtype();
  const Device device = in.u.device();
  ScanResult r;
  r.y = Tensor::empty(Shape{Bn, L, D}, dtype, device);
  if (L == 0 || Bn * D == 0) {  // nothing to scan: the state passes through
    r.final_state = in.initial_state.defined() ? in.initial_state.detach().clone()
                                               : Tensor::zeros(Shape{Bn, D, N}, dtype, device);
    return r;
  }
  r.final_state = Tensor::empty(Shape{Bn, D, N}, dtype, device);
  if (in.u.is_cuda()) {
    TV3S_ON_CUDA(cuda::selective_scan_forward(in, r.y, r.final_state));
  } else {
    dispatch_cpu_float("selective_scan", in.u, [&](auto tag) {
      using T = decltype(tag);
      scan_forward_cpu(ScanData<T>(in), r.y.data<T>(), r.final_state.data<T>());
    });
  }
  return r;
}

// Which inputs get a gradient, in ScanInputs order.
struct WantedGrads {
  bool u, delta, A, B, C, D, z, delta_bias, initial_state;
};

Tensor empty_if(bool wanted, const Tensor& like) {
  return wanted ? Tensor::empty(like.shape(), like.dtype(), like.device()) : Tensor();
}

// The input gradients from dy (cotangent of y) and dfinal (of final_state); either may be
// undefined (zero). Returned in the op's input order.
std::vector<Tensor> scan_backward(const ScanInputs& in, const Tensor& dy_in,
                                  const Tensor& dfinal_in, WantedGrads want) {
  const DType dtype = in.u.dtype();
  const Tensor dy = dy_in.defined() ? dy_in.to(dtype) : Tensor();
  const Tensor dfinal = dfinal_in.defined() ? dfinal_in.to(dtype) : Tensor();
  if (!dy.defined()) want.z = want.D = false;  // they reach only y
  ScanGrads g;
  g.u = empty_if(want.u, in.u);
  g.delta = empty_if(want.delta, in.delta);
  g.A = empty_if(want.A, in.A);
  g.B = empty_if(want.B, in.B);
  g.C = empty_if(want.C, in.C);
  g.D = empty_if(want.D, in.D);
  g.z = empty_if(want.z, in.z);
  g.delta_bias = empty_if(want.delta_bias, in.delta_bias);
  g.initial_state = empty_if(want.initial_state, in.initial_state);
  const int64_t L = in.length(), D = in.channels();
  if (L == 0 || in.batch() * D == 0) {
    // Nothing was scanned: every sum is empty, and the initial state was the final one.
    for (Tensor* t : {&g.u, &g.delta, &g.A, &g.B, &g.C, &g.D, &g.z, &g.delta_bias,
                      &g.initial_state})
      if (t->defined()) fill_(*t, 0.0);
    if (g.initial_state.defined() && dfinal.defined()) copy_(g.initial_state, dfinal);
  } else if (in.u.is_cuda()) {
    TV3S_ON_CUDA(cuda::selective_scan_backward(in, dy, dfinal, g));
  } else {
    dispatch_cpu_float("selective_scan backward", in.u, [&](auto tag) {
      using T = decltype(tag);
      scan_backward_cpu(ScanData<T>(in), data_or_null<T>(dy), data_or_null<T>(dfinal),
                        GradData<T>(g));
    });
  }
  return {g.u, g.delta, g.A, g.B, g.C, g.D, g.z, g.delta_bias, g.initial_state};
}

// --- checks --------------------------------------------------------------------------------

void check_input(const char* name, const Tensor& t, const Shape& want, const Tensor& u) {
  TV3S_CHECK(t.defined(), "selective_scan: ", name, " is required (", want.str(), ")");
  check_same_device("selective_scan", u, t);
  check_same_dtype("selective_scan", u, t);
  TV3S_CHECK(t.shape() == want, "selective_scan: ", name, " must be ", want.str(), " for u ",
             u.desc(), ", got ", t.desc());
}

void check_optional(const char* name, const Tensor& t, const Shape& want, const Tensor& u) {
  if (t.defined()) check_input(name, t, want, u);
}

}  // namespace

ScanResult selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                          const Tensor& C, const Tensor& D, const Tensor& z,
                          const Tensor& delta_bias, const Tensor& initial_state,
                          bool delta_softplus) {
  check_defined("selective_scan", u);
  check_compute_dtype("selective_scan", u);
  TV3S_CHECK(u.ndim() == 3, "selective_scan: u must be [B, L, D] (tokens, channels last), got ",
             u.desc());
  check_defined("selective_scan", A);
  TV3S_CHECK(A.ndim() == 2 && A.size(0) == u.size(2) && A.size(1) >= 1,
             "selective_scan: A must be [D, N] with D = ", u.size(2), " and N ≥ 1 for u ",
             u.desc(), ", got ", A.desc());
  const int64_t Bn = u.size(0), L = u.size(1), Dn = u.size(2), N = A.size(1);
  check_input("A", A, Shape{Dn, N}, u);
  check_input("delta", delta, Shape{Bn, L, Dn}, u);
  check_input("B", B, Shape{Bn, L, N}, u);
  check_input("C", C, Shape{Bn, L, N}, u);
  check_optional("D", D, Shape{Dn}, u);
  check_optional("z", z, Shape{Bn, L, Dn}, u);
  check_optional("delta_bias", delta_bias, Shape{Dn}, u);
  check_optional("initial_state", initial_state, Shape{Bn, Dn, N}, u);
  if (u.is_cuda())
    TV3S_CHECK(N <= cuda::kScanMaxStates, "selective_scan: the CUDA kernels take N ≤ ",
               cuda::kScanMaxStates, " states, got A ", A.desc());

  const ScanInputs in{u, delta, A, B, C, D, z, delta_bias, initial_state, delta_softplus};
  ScanResult r = scan_forward(in);
  if (autograd::needs_grad({&u, &delta, &A, &B, &C, &D, &z, &delta_bias, &initial_state})) {
    auto wants = [](const Tensor& t) { return t.defined() && t.requires_grad(); };
    const WantedGrads want{wants(u), wants(delta),      wants(A),
                           wants(B), wants(C),          wants(D),
                           wants(z), wants(delta_bias), wants(initial_state)};
    auto detached = [](const Tensor& t) { return t.defined() ? t.detach() : Tensor(); };
    const ScanInputs saved{detached(u), detached(delta), detached(A),
                           detached(B), detached(C),     detached(D),
                           detached(z), detached(delta_bias), detached(initial_state),
                           delta_softplus};
    const std::vector<Tensor> inputs{u, delta, A, B, C, D, z, delta_bias, initial_state};
    // One node per output (see the top of the file).
    autograd::record("selective_scan", r.y, inputs, [saved, want](const Tensor& dy) {
      return scan_backward(saved, dy, Tensor(), want);
    });
    autograd::record("selective_scan final_state", r.final_state, inputs,
                     [saved, want](const Tensor& dfinal) {
                       return scan_backward(saved, Tensor(), dfinal, want);
                     });
  }
  return r;
}

}  // namespace tv3s
