// Selective scan (Mamba S6) on the GPU, forward and backward (the math, the CPU reference
// and the backward derivation are in src/ops/selective_scan.cpp). Tokens are [B, L, D],
// channels last, so consecutive threads take consecutive channels and every load of u,
// delta, z and store of y is coalesced; B[t] and C[t] ([B, L, N]) are shared by all the
// channels of a sequence.
//
// Forward. One thread scans one channel d of one sequence b with its N states in
// registers; B[t], C[t] are staged in shared memory a tile of 32 tokens at a time. The
// recurrence is serial in t, and B·D alone is only ~9–14k threads in TV3S (18–28
// windows × 512 channels): too few to fill a GPU. So a long sequence is cut into chunks
// scanned in parallel, joined through their end states, because the recurrence is
// linear: started from h instead of 0, a chunk ends in P ⊙ h + S, where S is its end
// state from 0 and P = Π_t e^{Δ[t]·A} = e^{A·Σ_t Δ[t]} its total decay.
//   1. every chunk scans from a zero state and writes S and Σ Δ (no y);
//   2. one thread per (b, d, n) walks the chunks in order, h ← P ⊙ h + S, writing each
//      chunk's true start state (from the initial state) over its S — cheap, L/chunk steps;
//   3. every chunk rescans from its start state and writes y; the last one the final state.
// The chunking costs one extra scan without C, z or y; it is used only when B·D is too
// small to give every SM ~1024 threads and L > 128 (forward_chunk_length); otherwise
// pass 3 runs alone from the initial state. Chunks are ≥ 64 tokens.
//
// Backward (a thread per state). The reverse sweep needs h[t−1] in reverse order, so
// passes 1–2 run with 16-token chunks to give the state at every 16th token
// (checkpoints). Then a block of 256 threads takes `lanes` consecutive threads per channel
// (one per state n; lanes = N rounded up to a power of two, ≥ 4): 256/lanes channels of
// one sequence. It walks the checkpointed stretches from last to first: stages the
// stretch's per-token values (Δ, u, ...) and B, C in shared memory, rescans the stretch
// from its checkpoint keeping h[t−1] and a[t] in registers, then runs the reverse
// recurrence g[t] = s[t]·C[t] + a[t+1]·g[t+1] backwards over it. Sums over the states of
// a channel (du, dΔ, and ŷ for dz) are xor-shuffles within its lanes. Sums over channels
// (dB, dC) and over sequences (dA, dD, ddelta_bias) are deterministic, no atomics: the
// warp's channels by shuffles, then the block's warps in order in shared memory, giving
// one partial per (b, channel group, t, n); a second kernel adds the groups (and, for
// dA, dD, ddelta_bias, the per-sequence partials) in order. The parallelism is B·D·N
// threads (147k in TV3S at B = 18), not chunked over L. Scratch memory: checkpoints
// B·(L/16)·D·N and the dB/dC partials 2·B·(D·lanes/256)·L·N floats.
//
// Storage: u, Δ, B, C, z, y and their gradients f32/f16/bf16; A, D, delta_bias and the
// carried state (initial, final, and their gradients) always f32, as mamba_ssm keeps them
// (weight_t float): a 16-bit state would round the decay Π e^{Δ·A} at every frame of a
// stream. Arithmetic in f32 with the full-accuracy expf/log1pf (no
// fast-math intrinsics: __expf's error grows with |x|, and Δ·A reaches −100s).
#include <algorithm>

#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/row_reduce.cuh"
#include "cuda/scalar_math.cuh"
#include "cuda/selective_scan.h"

namespace tv3s::cuda {
namespace {

constexpr int kForwardThreads = 128;  // channels per forward block (threadIdx.x)
constexpr int kTokenTile = 32;        // tokens whose B, C the forward stages at once
constexpr int64_t kSinglePassMaxLength = 128;  // no chunking up to this L
constexpr int64_t kMinChunk = 64;              // shortest forward chunk
constexpr int64_t kTargetThreadsPerSM = 1024;  // forward: chunk until B·D·chunks reaches this
constexpr int kBackwardThreads = 256;
constexpr int kBackwardChunk = 16;  // tokens between checkpoints: the register arrays
constexpr int kMinLanes = 4;        // backward: at most 64 channels per block

// The inputs as raw pointers (optional ones null) and the sizes: the token streams in
// the storage type T, the parameters and the initial state in f32.
template <class T>
struct ScanArgs {
  const T *u, *delta, *B, *C, *z;
  const float *A, *D, *delta_bias, *h0;
  int64_t batch, length, channels, states;
  bool softplus;
};

template <class T>
ScanArgs<T> scan_args(const ScanInputs& in) {
  return {ptr<T>(in.u),
          ptr<T>(in.delta),
          ptr<T>(in.B),
          ptr<T>(in.C),
          ptr_or_null<T>(in.z),
          ptr<float>(in.A),
          ptr_or_null<float>(in.D),
          ptr_or_null<float>(in.delta_bias),
          ptr_or_null<float>(in.initial_state),
          in.batch(),             in.length(),               in.channels(),
          in.states(),            in.delta_softplus};
}

// Σ over the `lanes` lanes of this lane's group (aligned groups of a power of two ≤ 32).
// A butterfly: every lane of the group ends with the same bits.
__device__ __forceinline__ float sum_over_states(float v, int lanes) {
  for (int offset = lanes / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// --- forward ----------------------------------------------------------------------------

// Grid (channel tiles, chunks, B); chunk c is tokens [c·chunk_len, (c+1)·chunk_len) ∩ [0, L).
// kStatesOnly (pass 1): scan from 0; write the end state to chunk_end [B, chunks, D, N]
// and Σ Δ to chunk_delta_sum [B, chunks, D].
// Otherwise (pass 3, or the only pass): scan from chunk_start [B, chunks, D, N], or from
// the initial state when chunk_start is null; write y, and the final state after the
// last chunk. States beyond N (up to kMaxN) have A = B = C = 0 and stay 0.
template <class T, int kMaxN, bool kStatesOnly>
__global__ void __launch_bounds__(kForwardThreads)
    scan_chunk_kernel(ScanArgs<T> p, int64_t chunk_len, const float* chunk_start,
                      float* chunk_end, float* chunk_delta_sum, T* y, float* final_state) {
  TV3S_SHARED(float, tile_B, [kTokenTile][kMaxN]);
  TV3S_SHARED(float, tile_C, [kTokenTile][kMaxN]);
  const int64_t L = p.length, D = p.channels, N = p.states;
  const int64_t d = int64_t(blockIdx.x) * kForwardThreads + threadIdx.x;
  const int64_t chunk = blockIdx.y, chunks = gridDim.y, b = blockIdx.z;
  const int64_t t0 = chunk * chunk_len, t1 = std::min(L, t0 + chunk_len);
  const bool active = d < D;  // inactive threads still help stage B, C

  float A[kMaxN], h[kMaxN];
#pragma unroll
  for (int n = 0; n < kMaxN; ++n) {
    const bool real = active && n < N;
    A[n] = real ? p.A[d * N + n] : 0.f;
    h[n] = 0.f;
    if (!kStatesOnly && real) {
      if (chunk_start) h[n] = chunk_start[((b * chunks + chunk) * D + d) * N + n];
      else if (p.h0) h[n] = p.h0[(b * D + d) * N + n];
    }
  }
  const float bias = active && p.delta_bias ? p.delta_bias[d] : 0.f;
  const float skip = active && p.D ? p.D[d] : 0.f;
  float delta_sum = 0.f;

  for (int64_t tile = t0; tile < t1; tile += kTokenTile) {
    const int tile_len = int(std::min<int64_t>(kTokenTile, t1 - tile));
    __syncthreads();  // every thread is done with the previous tile
    for (int i = threadIdx.x; i < kTokenTile * kMaxN; i += kForwardThreads) {
      const int k = i / kMaxN, n = i % kMaxN;
      const bool real = k < tile_len && n < N;
      const int64_t at = (b * L + tile + k) * N + n;
      tile_B[k][n] = real ? to_f32(p.B[at]) : 0.f;
      if (!kStatesOnly) tile_C[k][n] = real ? to_f32(p.C[at]) : 0.f;
    }
    __syncthreads();
    if (!active) continue;  // (the next tile starts at the barrier above)
    for (int k = 0; k < tile_len; ++k) {
      const int64_t at = (b * L + tile + k) * D + d;
      float dt = to_f32(p.delta[at]) + bias;
      if (p.softplus) dt = softplus(dt);
      const float u = to_f32(p.u[at]);
      const float dtu = dt * u;
      float y_sum = 0.f;
#pragma unroll
      for (int n = 0; n < kMaxN; ++n) {
        h[n] = expf(dt * A[n]) * h[n] + dtu * tile_B[k][n];
        if (!kStatesOnly) y_sum += tile_C[k][n] * h[n];
      }
      if (kStatesOnly) {
        delta_sum += dt;
      } else {
        float out = y_sum + skip * u;
        if (p.z) out *= silu(to_f32(p.z[at]));
        y[at] = from_f32<T>(out);
      }
    }
  }
  if (!active) return;
  if (kStatesOnly) {
#pragma unroll
    for (int n = 0; n < kMaxN; ++n)
      if (n < N) chunk_end[((b * chunks + chunk) * D + d) * N + n] = h[n];
    chunk_delta_sum[(b * chunks + chunk) * D + d] = delta_sum;
  } else if (chunk == chunks - 1) {
#pragma unroll
    for (int n = 0; n < kMaxN; ++n)
      if (n < N) final_state[(b * D + d) * N + n] = h[n];
  }
}

// Pass 2: one thread per (b, d, n) joins the chunks in order. In: states = each chunk's
// end state from 0; out: states = each chunk's start state (the first one's is h0).
__global__ void scan_join_chunks_kernel(const float* A, const float* h0, int64_t batch, int64_t chunks,
                                        int64_t D, int64_t N, const float* chunk_delta_sum,
                                        float* states) {
  TV3S_GRID_STRIDE(i, batch * D * N) {
    const int64_t n = i % N, d = i / N % D, b = i / (N * D);
    const float rate = A[d * N + n];
    float h = h0 ? h0[i] : 0.f;  // h0 is [B, D, N]: element i
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t at = ((b * chunks + c) * D + d) * N + n;
      const float end_from_zero = states[at];
      states[at] = h;
      h = expf(rate * chunk_delta_sum[(b * chunks + c) * D + d]) * h + end_from_zero;
    }
  }
}

// Threads the forward wants in flight: kTargetThreadsPerSM on every SM of the GPU.
int64_t target_threads() {
  static const int64_t target = [] {
    int device = 0, sms = 0;
    TV3S_CUDA_CHECK(cudaGetDevice(&device));
    TV3S_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
    return std::max<int64_t>(sms, 1) * kTargetThreadsPerSM;
  }();
  return target;
}

// Chunk length for the forward: the whole sequence when B·D threads already fill the GPU
// or L is short; else enough chunks (each ≥ kMinChunk) to reach target_threads(). E.g.
// on a 132-SM H100, B = 18, D = 512: 5 chunks of 96 for L = 400, 13 of 128 for L = 1600.
int64_t forward_chunk_length(int64_t batch, int64_t L, int64_t D) {
  if (L <= kSinglePassMaxLength) return L;
  const int64_t threads = batch * D;
  const int64_t wanted = (target_threads() + threads - 1) / threads;
  const int64_t chunks = std::min(wanted, L / kMinChunk);
  if (chunks <= 1) return L;
  const int64_t length = (L + chunks - 1) / chunks;
  return (length + kTokenTile - 1) / kTokenTile * kTokenTile;  // whole tiles
}

unsigned forward_tiles(int64_t D) { return unsigned((D + kForwardThreads - 1) / kForwardThreads); }

// Passes 1 and 2: states [B, chunks, D, N] = the state before each chunk.
template <class T, int kMaxN>
void chunk_start_states(const ScanArgs<T>& p, int64_t chunk_len, int64_t chunks, Tensor& states) {
  Tensor delta_sum = Tensor::empty(Shape{p.batch, chunks, p.channels}, DType::f32, Device::CUDA);
  const dim3 grid(forward_tiles(p.channels), unsigned(chunks), unsigned(p.batch));
  launch<scan_chunk_kernel<T, kMaxN, true>>(grid, kForwardThreads, 0, stream(), p, chunk_len,
                                            nullptr, ptr<float>(states), ptr<float>(delta_sum),
                                            nullptr, nullptr);
  check_launch("selective_scan (chunk end states)");
  const int64_t n = p.batch * p.channels * p.states;
  launch<scan_join_chunks_kernel>(blocks_for(n), kThreads, 0, stream(), p.A, p.h0, p.batch,
                                     chunks, p.channels, p.states, ptr<float>(delta_sum),
                                     ptr<float>(states));
  check_launch("selective_scan (join chunks)");
}

template <class T, int kMaxN>
void forward_typed(const ScanInputs& in, Tensor& y, Tensor& final_state) {
  const ScanArgs<T> p = scan_args<T>(in);
  const int64_t chunk_len = forward_chunk_length(p.batch, p.length, p.channels);
  const int64_t chunks = (p.length + chunk_len - 1) / chunk_len;
  Tensor states;
  if (chunks > 1) {
    states = Tensor::empty(Shape{p.batch, chunks, p.channels, p.states}, DType::f32, Device::CUDA);
    chunk_start_states<T, kMaxN>(p, chunk_len, chunks, states);
  }
  const dim3 grid(forward_tiles(p.channels), unsigned(chunks), unsigned(p.batch));
  launch<scan_chunk_kernel<T, kMaxN, false>>(grid, kForwardThreads, 0, stream(), p, chunk_len,
                                             chunks > 1 ? ptr<float>(states) : nullptr, nullptr,
                                             nullptr, ptr<T>(y), ptr<float>(final_state));
  check_launch("selective_scan");
}

// --- backward ---------------------------------------------------------------------------

// Where the backward kernel writes: the per-element gradients (T, null = not wanted) and
// the partial sums (f32, null = not wanted) that finish_sums adds up.
template <class T>
struct BackwardOut {
  T *du, *ddelta, *dz;
  float* dh0;         // [B, D, N], f32 as the state
  float* dA_part;     // [B, D, N]: Σ over t, per sequence
  float* dD_part;     // [B, D]
  float* dbias_part;  // [B, D]
  float* dB_part;     // [B, groups, L, N]: Σ over the block's channels
  float* dC_part;     // [B, groups, L, N]
};

// Shared memory of the backward kernel, in floats.
int64_t backward_shared_floats(int lanes) {
  const int64_t channels = kBackwardThreads / lanes, warps = kBackwardThreads / kWarpSize;
  return 5 * kBackwardChunk * channels          // Δ, softplus′, u, s, dz factor: (token, channel)
         + 2 * kBackwardChunk * lanes           // B, C per (token, state)
         + 2 * warps * kBackwardChunk * lanes;  // dB, dC per (warp, token, state)
}

// Grid (channel groups, B), block kBackwardThreads: thread = (channel ch, state n) with
// n = threadIdx.x % lanes. checkpoints [B, chunks, D, N] are the states before every
// kBackwardChunk-th token. dy and dfinal may be null (zero).
template <class T>
__global__ void __launch_bounds__(kBackwardThreads)
    scan_backward_kernel(ScanArgs<T> p, int lanes, const float* checkpoints, const T* dy,
                         const float* dfinal, BackwardOut<T> out) {
  constexpr int K = kBackwardChunk;
  float* shared = dynamic_shared<float>();
  const int channels = kBackwardThreads / lanes, warps = kBackwardThreads / kWarpSize;
  float* tok_dt = shared;                  // [K][channels]: Δ
  float* tok_dsp = tok_dt + K * channels;  // softplus′(v) (1 without softplus)
  float* tok_u = tok_dsp + K * channels;   // u
  float* tok_s = tok_u + K * channels;     // s = dy·SiLU(z): the cotangent of ŷ
  float* tok_dzf = tok_s + K * channels;   // dy·SiLU′(z): dz = ŷ·this
  float* tile_B = tok_dzf + K * channels;  // [K][lanes]
  float* tile_C = tile_B + K * lanes;
  float* warp_dB = tile_C + K * lanes;     // [warps][K][lanes]
  float* warp_dC = warp_dB + warps * K * lanes;

  const int64_t L = p.length, D = p.channels, N = p.states;
  const int n = threadIdx.x % lanes, ch = threadIdx.x / lanes;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  const int64_t d0 = int64_t(blockIdx.x) * channels, d = d0 + ch, b = blockIdx.y;
  const bool channel_ok = d < D, state_ok = channel_ok && n < N;
  const int64_t chunks = (L + K - 1) / K;

  const float rate = state_ok ? p.A[d * N + n] : 0.f;
  const float skip = channel_ok && p.D ? p.D[d] : 0.f;
  float g = state_ok && dfinal ? dfinal[(b * D + d) * N + n] : 0.f;  // ∂L/∂h[t]
  float a_next = 1.f;  // a[t+1]
  float dA_sum = 0.f, dD_sum = 0.f, dbias_sum = 0.f;

  for (int64_t chunk = chunks - 1; chunk >= 0; --chunk) {
    const int64_t t0 = chunk * K;
    const int len = int(std::min<int64_t>(K, L - t0));
    __syncthreads();  // every thread is done with the previous stretch's shared values
    for (int i = threadIdx.x; i < K * channels; i += kBackwardThreads) {
      const int k = i / channels;
      const int64_t dd = d0 + i % channels;
      float dt = 0.f, dsp = 0.f, u = 0.f, s = 0.f, dzf = 0.f;
      if (k < len && dd < D) {
        const int64_t at = (b * L + t0 + k) * D + dd;
        const float v = to_f32(p.delta[at]) + (p.delta_bias ? p.delta_bias[dd] : 0.f);
        dt = p.softplus ? softplus(v) : v;
        dsp = p.softplus ? softplus_grad(v) : 1.f;
        u = to_f32(p.u[at]);
        const float dy_v = dy ? to_f32(dy[at]) : 0.f;
        if (p.z) {
          const float zv = to_f32(p.z[at]);
          s = dy_v * silu(zv);
          dzf = dy_v * silu_grad(zv);
        } else {
          s = dy_v;
        }
      }
      tok_dt[i] = dt;
      tok_dsp[i] = dsp;
      tok_u[i] = u;
      tok_s[i] = s;
      tok_dzf[i] = dzf;
    }
    for (int i = threadIdx.x; i < K * lanes; i += kBackwardThreads) {
      const int k = i / lanes, m = i % lanes;
      const bool real = k < len && m < N;
      const int64_t at = (b * L + t0 + k) * N + m;
      tile_B[i] = real ? to_f32(p.B[at]) : 0.f;
      tile_C[i] = real ? to_f32(p.C[at]) : 0.f;
    }
    __syncthreads();

    // Rescan the stretch from its checkpoint: h[t−1], a[t] and ŷ[t] in registers.
    float h = state_ok ? checkpoints[((b * chunks + chunk) * D + d) * N + n] : 0.f;
    float h_before[K], decay[K], yhat[K];
#pragma unroll
    for (int k = 0; k < K; ++k) {
      h_before[k] = decay[k] = yhat[k] = 0.f;
      if (k < len) {  // len is the same for the whole block: the shuffles below are safe
        const float dt = tok_dt[k * channels + ch], u = tok_u[k * channels + ch];
        const float a = expf(dt * rate);
        h_before[k] = h;
        decay[k] = a;
        h = a * h + dt * u * tile_B[k * lanes + n];
        if (out.dz) yhat[k] = sum_over_states(tile_C[k * lanes + n] * h, lanes) + skip * u;
      }
    }

    // The reverse sweep over the stretch.
#pragma unroll
    for (int k = K - 1; k >= 0; --k) {
      if (k < len) {
        const int at_tok = k * channels + ch;
        const float dt = tok_dt[at_tok], u = tok_u[at_tok], s = tok_s[at_tok];
        const float Bn = tile_B[k * lanes + n], Cn = tile_C[k * lanes + n];
        const float a = decay[k], h_prev = h_before[k];
        g = a_next * g + s * Cn;
        a_next = a;
        const float gah = g * a * h_prev;
        dA_sum += gah * dt;
        const float sum_gB = sum_over_states(g * Bn, lanes);
        const float sum_gAah = sum_over_states(gah * rate, lanes);
        // dB, dC of (t, n): this warp's channels (lanes n, n + lanes, ...) by shuffles.
        float dB_v = g * dt * u, dC_v = s * (a * h_prev + dt * u * Bn);
        for (int offset = lanes; offset < kWarpSize; offset *= 2) {
          dB_v += __shfl_xor_sync(kFullMask, dB_v, offset);
          dC_v += __shfl_xor_sync(kFullMask, dC_v, offset);
        }
        if (lane < lanes) {  // lane == n in the warp's first channel
          warp_dB[(warp * K + k) * lanes + lane] = dB_v;
          warp_dC[(warp * K + k) * lanes + lane] = dC_v;
        }
        if (n == 0 && channel_ok) {
          const int64_t at = (b * L + t0 + k) * D + d;
          const float d_delta = (u * sum_gB + sum_gAah) * tok_dsp[at_tok];
          if (out.du) out.du[at] = from_f32<T>(dt * sum_gB + skip * s);
          if (out.ddelta) out.ddelta[at] = from_f32<T>(d_delta);
          if (out.dz) out.dz[at] = from_f32<T>(yhat[k] * tok_dzf[at_tok]);
          dD_sum += s * u;
          dbias_sum += d_delta;
        }
      }
    }

    // The block's share of dB, dC for the stretch: its warps added in order.
    __syncthreads();
    if (out.dB_part || out.dC_part) {
      for (int i = threadIdx.x; i < len * lanes; i += kBackwardThreads) {
        const int k = i / lanes, m = i % lanes;
        if (m >= N) continue;
        float sum_B = 0.f, sum_C = 0.f;
        for (int w = 0; w < warps; ++w) {
          sum_B += warp_dB[(w * K + k) * lanes + m];
          sum_C += warp_dC[(w * K + k) * lanes + m];
        }
        const int64_t at = ((b * gridDim.x + blockIdx.x) * L + t0 + k) * N + m;
        if (out.dB_part) out.dB_part[at] = sum_B;
        if (out.dC_part) out.dC_part[at] = sum_C;
      }
    }
  }

  if (state_ok) {
    if (out.dh0) out.dh0[(b * D + d) * N + n] = a_next * g;  // a[0]·g[0]
    if (out.dA_part) out.dA_part[(b * D + d) * N + n] = dA_sum;
  }
  if (n == 0 && channel_ok) {
    if (out.dD_part) out.dD_part[b * D + d] = dD_sum;
    if (out.dbias_part) out.dbias_part[b * D + d] = dbias_sum;
  }
}

// out[o, i] = Σ_{k < count} part[o, k, i], in order of k (column_reduce.cuh's finish).
template <class T>
__global__ void sum_partials_kernel(const float* part, int64_t outer, int64_t count,
                                    int64_t inner, T* out) {
  TV3S_GRID_STRIDE(i, outer * inner) {
    const int64_t o = i / inner, j = i % inner;
    out[i] = from_f32<T>(sum_chunks(part + o * count * inner, count, inner, j));
  }
}

template <class T>
void finish_sums(const Tensor& part, int64_t outer, int64_t count, int64_t inner, Tensor& out) {
  if (!out.defined()) return;
  launch<sum_partials_kernel<T>>(blocks_for(outer * inner), kThreads, 0, stream(), ptr<float>(part),
                                 outer, count, inner, ptr<T>(out));
  check_launch("selective_scan backward (sums)");
}

Tensor f32_scratch_if(bool wanted, const Shape& shape) {
  return wanted ? Tensor::empty(shape, DType::f32, Device::CUDA) : Tensor();
}

template <class T, int kMaxN>
void backward_typed(const ScanInputs& in, const Tensor& dy, const Tensor& dfinal, ScanGrads& g) {
  const ScanArgs<T> p = scan_args<T>(in);
  const int64_t Bn = p.batch, L = p.length, D = p.channels, N = p.states;
  const int64_t chunks = (L + kBackwardChunk - 1) / kBackwardChunk;
  Tensor checkpoints = Tensor::empty(Shape{Bn, chunks, D, N}, DType::f32, Device::CUDA);
  chunk_start_states<T, kMaxN>(p, kBackwardChunk, chunks, checkpoints);

  int lanes = kMinLanes;
  while (lanes < N) lanes *= 2;
  const int64_t channels = kBackwardThreads / lanes;
  const int64_t groups = (D + channels - 1) / channels;
  TV3S_CHECK(groups <= 0x7fffffff, "selective_scan backward: too many channels on CUDA: ", D);
  Tensor dA_part = f32_scratch_if(g.A.defined(), Shape{Bn, D, N});
  Tensor dD_part = f32_scratch_if(g.D.defined(), Shape{Bn, D});
  Tensor dbias_part = f32_scratch_if(g.delta_bias.defined(), Shape{Bn, D});
  Tensor dB_part = f32_scratch_if(g.B.defined(), Shape{Bn, groups, L, N});
  Tensor dC_part = f32_scratch_if(g.C.defined(), Shape{Bn, groups, L, N});
  const BackwardOut<T> out{ptr_or_null<T>(g.u),           ptr_or_null<T>(g.delta),
                           ptr_or_null<T>(g.z),           ptr_or_null<float>(g.initial_state),
                           ptr_or_null<float>(dA_part),   ptr_or_null<float>(dD_part),
                           ptr_or_null<float>(dbias_part), ptr_or_null<float>(dB_part),
                           ptr_or_null<float>(dC_part)};
  const size_t shared_bytes = size_t(backward_shared_floats(lanes)) * sizeof(float);  // ≤ 40 KB
  launch<scan_backward_kernel<T>>(dim3(unsigned(groups), unsigned(Bn)), kBackwardThreads,
                                  shared_bytes, stream(), p, lanes, ptr<float>(checkpoints),
                                  ptr_or_null<T>(dy), ptr_or_null<float>(dfinal), out);
  check_launch("selective_scan backward");

  finish_sums<T>(dB_part, Bn, groups, L * N, g.B);
  finish_sums<T>(dC_part, Bn, groups, L * N, g.C);
  finish_sums<float>(dA_part, 1, Bn, D * N, g.A);
  finish_sums<float>(dD_part, 1, Bn, D, g.D);
  finish_sums<float>(dbias_part, 1, Bn, D, g.delta_bias);
}

// The grid puts sequences on y/z and chunks on y (≤ 65535 each).
void check_grid(const ScanInputs& in) {
  const int64_t most_chunks = (in.length() + kBackwardChunk - 1) / kBackwardChunk;
  TV3S_CHECK(in.batch() <= 65535 && most_chunks <= 65535,
             "selective_scan: the CUDA kernels take at most 65535 sequences of at most ",
             65535 * kBackwardChunk, " tokens, got u ", in.u.desc());
  TV3S_CHECK(in.states() >= 1 && in.states() <= kScanMaxStates,
             "selective_scan: the CUDA kernels take 1 ≤ N ≤ ", kScanMaxStates, ", got A ",
             in.A.desc());
}

}  // namespace

void selective_scan_forward(const ScanInputs& in, Tensor& y, Tensor& final_state) {
  if (in.length() == 0 || in.batch() * in.channels() == 0) return;
  check_grid(in);
  dispatch_float("selective_scan", in.u, [&](auto tag) {
    using T = decltype(tag);
    if (in.states() <= 16) forward_typed<T, 16>(in, y, final_state);
    else forward_typed<T, 32>(in, y, final_state);
  });
}

void selective_scan_backward(const ScanInputs& in, const Tensor& dy, const Tensor& dfinal,
                             ScanGrads& grads) {
  if (in.length() == 0 || in.batch() * in.channels() == 0) return;
  check_grid(in);
  dispatch_float("selective_scan backward", in.u, [&](auto tag) {
    using T = decltype(tag);
    if (in.states() <= 16) backward_typed<T, 16>(in, dy, dfinal, grads);
    else backward_typed<T, 32>(in, dy, dfinal, grads);
  });
}

}  // namespace tv3s::cuda
