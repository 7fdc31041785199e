// The fast CPU selective scan: the recurrence of src/ops/selective_scan.cpp (the math and
// the plain-loop reference are there) scanned 8 channels at a time, and a backward that
// recomputes states from checkpoints instead of storing them.
//
// Forward: parallel over (sequence, block of 8 channels). A block keeps its 8×N states as
// [n][channel] so that every inner loop runs over 8 contiguous channels (one f32x8: u, Δ
// and y are contiguous along channels in the token layout); in f32, e^{Δ·A}, softplus and
// SiLU are f32x8 code around simd::exp8 (≤ 2 ulp; libm in f64).
// Backward: the reverse sweep needs h[t−1] in reverse order. It is recomputed, not
// stored: a forward sweep keeps the state before every kCheckpointEvery-th token, then
// each such stretch is rescanned (its states kept) just before the reverse sweep walks
// it. Memory is L/64 + 64 states per channel instead of L. Parallel over sequences; a
// sequence adds its channels into dB, dC in order, and dA, dD, ddelta_bias are summed over
// sequences in order afterwards (in double), so the result does not depend on the number
// of threads.
#include "src/ops/cpu/selective_scan.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/cpu/simd.h"
#include "src/ops/scalar_math.h"

namespace tv3s::cpu {
namespace {

using ops::silu;
using ops::silu_grad;
using ops::softplus;
using ops::softplus_grad;

constexpr int kLanes = 8;                 // channels scanned together (one f32x8)
constexpr int64_t kCheckpointEvery = 64;  // backward: tokens between stored states
constexpr int64_t kParallelMin = 32768;   // state updates; below this one thread is faster

// Lane-wise e^x, softplus and SiLU for the 8 lanes of a channel block. In f32 they are
// f32x8 code around simd::exp8 (≤ 2 ulp, src/ops/cpu/simd.h): per token these cost as much
// as the 16 state updates when done with scalar libm calls. In f64, the scalar functions
// of src/ops/scalar_math.h.
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

inline void softplus_lanes(const float* v, float* out) { store8(simd::softplus8(load8(v)), out); }
inline void softplus_lanes(const double* v, double* out) {
  for (int j = 0; j < kLanes; ++j) out[j] = softplus(v[j]);
}

// x[j] ← x[j]·SiLU(z[j]).
inline void times_silu_lanes(const float* z, float* x) {
  store8(simd::mul_silu8(load8(x), load8(z)), x);
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

// --- forward -------------------------------------------------------------------------

template <class T>
void scan_forward_lanes(const ScanData<T>& s, T* y, T* final_state) {
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

// --- backward ------------------------------------------------------------------------

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
void scan_backward_lanes(const ScanData<T>& s, const T* dy, const T* dfinal,
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

}  // namespace

void selective_scan_forward(const ScanInputs& in, Tensor& y, Tensor& final_state) {
  dispatch_cpu_float("selective_scan", in.u, [&](auto tag) {
    using T = decltype(tag);
    scan_forward_lanes(ScanData<T>(in), y.data<T>(), final_state.data<T>());
  });
}

void selective_scan_backward(const ScanInputs& in, const Tensor& dy, const Tensor& dfinal,
                             ScanGrads& grads) {
  dispatch_cpu_float("selective_scan backward", in.u, [&](auto tag) {
    using T = decltype(tag);
    scan_backward_lanes(ScanData<T>(in), data_or_null<T>(dy), data_or_null<T>(dfinal),
                        GradData<T>(grads));
  });
}

}  // namespace tv3s::cpu
