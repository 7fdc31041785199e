// Mamba's selective scan (S6), channels-last, with an initial and a final state so that a
// sequence can be scanned in chunks (streaming) with the same result as in one piece.
//
// For each sequence b, channel d and state n (Δ = softplus(delta + delta_bias) when
// delta_softplus, else delta + delta_bias):
//   h[-1]      = initial_state[b, d, n]                  (zero when undefined)
//   h[t]       = exp(Δ[b,t,d]·A[d,n]) · h[t−1] + Δ[b,t,d] · B[b,t,n] · u[b,t,d]
//   y[b,t,d]   = Σ_n C[b,t,n] · h[t][n] + D[d] · u[b,t,d]
//   y[b,t,d]  *= SiLU(z[b,t,d])                           (when z is defined)
//   final_state[b, d, n] = h[L−1]                          (= initial state when L = 0)
// This is mamba_ssm's selective_scan_fn (selective_scan_ref is its readable reference)
// with B and C shared by all channels (one group), in tv3s's token layout [B, L, D]
// rather than Mamba's [B, D, L].
//
// Math and CPU reference: src/ops/selective_scan.cpp; CUDA: cuda/selective_scan.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

struct ScanResult {
  Tensor y;            // [B, L, D]
  Tensor final_state;  // [B, D, N]
};

// u, delta, z [B, L, D]; A [D, N] (already negative: A = −exp(A_log)); B, C [B, L, N];
// D, delta_bias [D]; initial_state [B, D, N]. z, D, delta_bias and initial_state may be
// undefined. One device. The token streams u, delta, B, C, z (and y) share one dtype: f32
// or f64 on the CPU; f32, f16 or bf16 on CUDA, accumulated in f32, N ≤ 32. The
// parameters A, D, delta_bias and the state (initial_state, final_state) are in
// scan_state_dtype(u) — f32, f64 for f64 — whatever the token dtype, as mamba_ssm keeps
// them: a 16-bit state would be rounded at every frame of a stream. Differentiable in every tensor input,
// including the initial state; both outputs carry gradients (final_state's to every
// input that reaches it: not z, not D).
DType scan_state_dtype(const Tensor& u);

ScanResult selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& B,
                          const Tensor& C, const Tensor& D, const Tensor& z,
                          const Tensor& delta_bias, const Tensor& initial_state,
                          bool delta_softplus = true);

}  // namespace tv3s
