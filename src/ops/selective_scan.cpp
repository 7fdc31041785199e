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
// The op has two outputs, so it records two autograd nodes: one maps dy to the input
// gradients (dh_final = 0), the other maps dh_final to them (dy = 0). The engine adds
// the two when the loss reaches both.
//
// CPU: the op runs the fast path, src/ops/cpu/selective_scan.cpp (8 channels per f32x8,
// a backward that recomputes states from checkpoints). The plain loops below are the
// reference it is tested against (declared in src/ops/selective_scan.h).
// CUDA (cuda/selective_scan.cu): the forward scans chunks of the sequence in parallel and
// joins them through their end states; the backward gives each state its own thread.
#include "tv3s/ops/selective_scan.h"

#include <cmath>
#include <vector>

#include "cuda/selective_scan.h"
#include "src/core/cuda_context.h"
#include "src/core/dispatch.h"
#include "src/ops/cpu/selective_scan.h"
#include "src/ops/selective_scan.h"
#include "src/ops/scalar_math.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/cast.h"

namespace tv3s {
namespace {

// --- CPU reference -----------------------------------------------------------------------

// The inputs as pointers (optional ones null), and their sizes.
template <class T>
struct ScanPointers {
  const T *u, *delta, *A, *B, *C, *D, *z, *delta_bias, *h0;
  int64_t batch, length, channels, states;

  explicit ScanPointers(const ScanInputs& in)
      : u(in.u.data<T>()), delta(in.delta.data<T>()), A(in.A.data<T>()), B(in.B.data<T>()),
        C(in.C.data<T>()), D(data_or_null<T>(in.D)), z(data_or_null<T>(in.z)),
        delta_bias(data_or_null<T>(in.delta_bias)), h0(data_or_null<T>(in.initial_state)),
        batch(in.batch()), length(in.length()), channels(in.channels()), states(in.states()) {}
};

// Δ[t] of channel d from the raw delta at element `at`.
template <class T>
T step_size(const ScanPointers<T>& s, bool delta_softplus, int64_t at, int64_t d) {
  const T v = s.delta[at] + (s.delta_bias ? s.delta_bias[d] : T(0));
  return delta_softplus ? ops::softplus(v) : v;
}

// h[t] = a[t]·h[t−1] + Δ[t]·B[t]·u[t];  y[t] = (Σ_n C[t]·h[t] + D·u[t])·SiLU(z[t]).
template <class T>
void reference_forward(const ScanInputs& in, T* y, T* final_state) {
  const ScanPointers<T> s(in);
  const int64_t L = s.length, Dn = s.channels, N = s.states;
  std::vector<T> h(static_cast<size_t>(N));
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t d = 0; d < Dn; ++d) {
      for (int64_t n = 0; n < N; ++n) h[n] = s.h0 ? s.h0[(b * Dn + d) * N + n] : T(0);
      for (int64_t t = 0; t < L; ++t) {
        const int64_t at = (b * L + t) * Dn + d;
        const T dt = step_size(s, in.delta_softplus, at, d);
        T yhat = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t bt = (b * L + t) * N + n;
          h[n] = std::exp(dt * s.A[d * N + n]) * h[n] + dt * s.B[bt] * s.u[at];
          yhat += s.C[bt] * h[n];
        }
        if (s.D) yhat += s.D[d] * s.u[at];
        y[at] = s.z ? yhat * ops::silu(s.z[at]) : yhat;
      }
      for (int64_t n = 0; n < N; ++n) final_state[(b * Dn + d) * N + n] = h[n];
    }
}

// The backward of the top of the file, one (b, d) at a time: a forward pass keeping every
// state, then the reverse sweep of g = ∂L/∂h[t]. dy and dfinal may be null (zero); each
// gradient pointer may be null (not wanted).
template <class T>
void reference_backward(const ScanInputs& in, const T* dy, const T* dfinal, ScanGrads& grads) {
  const ScanPointers<T> s(in);
  const int64_t L = s.length, Dn = s.channels, N = s.states;
  T *du = data_or_null<T>(grads.u), *ddelta = data_or_null<T>(grads.delta),
    *dA = data_or_null<T>(grads.A), *dB = data_or_null<T>(grads.B),
    *dC = data_or_null<T>(grads.C), *dD = data_or_null<T>(grads.D),
    *dz = data_or_null<T>(grads.z), *dbias = data_or_null<T>(grads.delta_bias),
    *dh0 = data_or_null<T>(grads.initial_state);
  // The sums start at zero.
  for (Tensor* t : {&grads.A, &grads.B, &grads.C, &grads.D, &grads.delta_bias})
    if (t->defined()) fill_(*t, 0.0);

  std::vector<T> h(static_cast<size_t>((L + 1) * N)), a(static_cast<size_t>(L * N)),
      g(static_cast<size_t>(N));  // h[t + 1]: after t
  for (int64_t b = 0; b < s.batch; ++b)
    for (int64_t d = 0; d < Dn; ++d) {
      for (int64_t n = 0; n < N; ++n) h[n] = s.h0 ? s.h0[(b * Dn + d) * N + n] : T(0);
      for (int64_t t = 0; t < L; ++t) {
        const int64_t at = (b * L + t) * Dn + d;
        const T dt = step_size(s, in.delta_softplus, at, d);
        for (int64_t n = 0; n < N; ++n) {
          const int64_t bt = (b * L + t) * N + n;
          a[t * N + n] = std::exp(dt * s.A[d * N + n]);
          h[(t + 1) * N + n] = a[t * N + n] * h[t * N + n] + dt * s.B[bt] * s.u[at];
        }
      }
      for (int64_t n = 0; n < N; ++n) g[n] = dfinal ? dfinal[(b * Dn + d) * N + n] : T(0);
      for (int64_t t = L - 1; t >= 0; --t) {
        const int64_t at = (b * L + t) * Dn + d;
        const T u = s.u[at], dt = step_size(s, in.delta_softplus, at, d);
        const T v = s.delta[at] + (s.delta_bias ? s.delta_bias[d] : T(0));
        T yhat = s.D ? s.D[d] * u : T(0);
        for (int64_t n = 0; n < N; ++n) yhat += s.C[(b * L + t) * N + n] * h[(t + 1) * N + n];
        const T dy_t = dy ? dy[at] : T(0);
        const T ds = s.z ? dy_t * ops::silu(s.z[at]) : dy_t;  // s[t], the cotangent of ŷ[t]
        if (dz) dz[at] = dy_t * yhat * ops::silu_grad(s.z[at]);
        T sum_gB = 0, d_dt = 0;
        for (int64_t n = 0; n < N; ++n) {
          const int64_t bt = (b * L + t) * N + n;
          const T a_next = t + 1 < L ? a[(t + 1) * N + n] : T(1);
          g[n] = ds * s.C[bt] + a_next * g[n];
          const T h_prev = h[t * N + n], a_t = a[t * N + n], A_dn = s.A[d * N + n];
          sum_gB += g[n] * s.B[bt];
          d_dt += g[n] * (s.B[bt] * u + A_dn * a_t * h_prev);
          if (dB) dB[bt] += g[n] * dt * u;
          if (dC) dC[bt] += ds * h[(t + 1) * N + n];
          if (dA) dA[d * N + n] += g[n] * dt * a_t * h_prev;
        }
        const T d_delta = in.delta_softplus ? d_dt * ops::softplus_grad(v) : d_dt;
        if (du) du[at] = ds * (s.D ? s.D[d] : T(0)) + dt * sum_gB;
        if (ddelta) ddelta[at] = d_delta;
        if (dD) dD[d] += ds * u;
        if (dbias) dbias[d] += d_delta;
      }
      for (int64_t n = 0; n < N; ++n)  // ∂L/∂h[−1] = a[0]·g[0] (g itself when L = 0)
        if (dh0) dh0[(b * Dn + d) * N + n] = (L > 0 ? a[n] : T(1)) * g[n];
    }
}

}  // namespace

void selective_scan_reference_forward(const ScanInputs& in, Tensor& y, Tensor& final_state) {
  dispatch_cpu_float("selective_scan reference", in.u, [&](auto tag) {
    using T = decltype(tag);
    reference_forward(in, y.data<T>(), final_state.data<T>());
  });
}

void selective_scan_reference_backward(const ScanInputs& in, const Tensor& dy,
                                       const Tensor& dfinal, ScanGrads& grads) {
  dispatch_cpu_float("selective_scan reference backward", in.u, [&](auto tag) {
    using T = decltype(tag);
    reference_backward(in, data_or_null<T>(dy), data_or_null<T>(dfinal), grads);
  });
}

namespace {

// --- dispatch ----------------------------------------------------------------------------

ScanResult scan_forward(const ScanInputs& in) {
  const int64_t Bn = in.batch(), L = in.length(), D = in.channels(), N = in.states();
  const DType state_dtype = scan_state_dtype(in.u);
  const Device device = in.u.device();
  ScanResult r;
  r.y = Tensor::empty(Shape{Bn, L, D}, in.u.dtype(), device);
  if (L == 0 || Bn * D == 0) {  // nothing to scan: the state passes through
    r.final_state = in.initial_state.defined() ? in.initial_state.detach().clone()
                                               : Tensor::zeros(Shape{Bn, D, N}, state_dtype, device);
    return r;
  }
  r.final_state = Tensor::empty(Shape{Bn, D, N}, state_dtype, device);
  if (in.u.is_cuda()) {
    TV3S_ON_CUDA(cuda::selective_scan_forward(in, r.y, r.final_state));
  } else {
    cpu::selective_scan_forward(in, r.y, r.final_state);
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
  const Tensor dy = dy_in.defined() ? dy_in.to(in.u.dtype()) : Tensor();
  const Tensor dfinal = dfinal_in.defined() ? dfinal_in.to(scan_state_dtype(in.u)) : Tensor();
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
    cpu::selective_scan_backward(in, dy, dfinal, g);
  }
  return {g.u, g.delta, g.A, g.B, g.C, g.D, g.z, g.delta_bias, g.initial_state};
}

// --- checks --------------------------------------------------------------------------------

// A token stream (u's dtype) or a parameter / the state (scan_state_dtype(u)).
enum class Kind { tokens, state };

void check_input(const char* name, const Tensor& t, const Shape& want, const Tensor& u,
                 Kind kind = Kind::tokens) {
  TV3S_CHECK(t.defined(), "selective_scan: ", name, " is required (", want.str(), ")");
  check_same_device("selective_scan", u, t);
  const DType dtype = kind == Kind::tokens ? u.dtype() : scan_state_dtype(u);
  TV3S_CHECK(t.dtype() == dtype, "selective_scan: ", name, " must be ", dtype_name(dtype),
             kind == Kind::tokens ? " (u's dtype)" : " (parameters and state: f32, f64 for f64 u)",
             " for u ", u.desc(), ", got ", t.desc());
  TV3S_CHECK(t.shape() == want, "selective_scan: ", name, " must be ", want.str(), " for u ",
             u.desc(), ", got ", t.desc());
}

void check_optional(const char* name, const Tensor& t, const Shape& want, const Tensor& u,
                    Kind kind) {
  if (t.defined()) check_input(name, t, want, u, kind);
}

}  // namespace

DType scan_state_dtype(const Tensor& u) { return u.dtype() == DType::f64 ? DType::f64 : DType::f32; }

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
  check_input("A", A, Shape{Dn, N}, u, Kind::state);
  check_input("delta", delta, Shape{Bn, L, Dn}, u);
  check_input("B", B, Shape{Bn, L, N}, u);
  check_input("C", C, Shape{Bn, L, N}, u);
  check_optional("D", D, Shape{Dn}, u, Kind::state);
  check_optional("z", z, Shape{Bn, L, Dn}, u, Kind::tokens);
  check_optional("delta_bias", delta_bias, Shape{Dn}, u, Kind::state);
  check_optional("initial_state", initial_state, Shape{Bn, Dn, N}, u, Kind::state);
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
