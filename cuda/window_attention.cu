// Swin's shifted-window attention on the GPU, fused (the math is in
// include/tv3s/ops/window_attention.h and src/ops/window_attention.cpp): the map is never
// padded, rolled or cut into windows in memory, and no [L, L] matrix is ever stored.
//
// A block owns one (image, window, head) of the rolled padded map: blockIdx.x numbers
// them ((n·windows_h + a)·windows_w + b)·heads + h, so the blocks of one window's heads are
// neighbours and read the same qkv rows from L2. Its first step finds, for each token t of
// the window (L = window² of them), the qkv row it reads: the rolled position
// (a·window + t / window, b·window + t % window) moved back by +shift modulo the padded
// size, which is a map position or padding (then pad_qkv); and its shift region, from the
// rolled position, as the official mask. The score of a pair is
//   s₂[t, u] = log₂e·(scale·q_t·k_u + bias_table[idx(t, u), h] + (−100 if regions differ)),
// in base 2 (one exp2f per probability), idx computed in place, the table read through L1.
//
// Forward: the window's keys and values of the head go to shared tiles [L][D + 1]. Each
// of the 4 warps takes the query rows t = warp, warp + 4, …: the query goes to a per-warp
// row, lane j scores the keys u = j, j + 32, …, the row's max and sum are warp shuffles,
// P goes to a per-warp row, and lane j sums o[j], o[j + 32] = Σ_u P[t, u]·v_u, written to
// the query's own map position. Padded queries are skipped (cropped).
// Backward, P recomputed (the forward saves nothing), in two phases:
//   1. query rows (tiles hold K and V): as the forward, a warp per query t recomputes
//      P[t, ·], then dP[t, u] = dO_t·v_u, Δ_t = Σ_u P·dP (= dO_t·o_t, so o is not needed),
//      dS = P∘(dP − Δ), and writes dq_t = scale·Σ_u dS[t, u]·k_u. It keeps per query only
//      lse₂_t = log₂ Σ_u 2^s₂ and Δ_t (+∞ and 0 for padded queries, whose dO is zero), and
//      the sums over the padded keys u of P[t, u] and dS[t, u].
//   2. key columns (tiles reloaded with Q and dO): a warp per key u recomputes the column,
//      lane j for the queries t = j, j + 32, …: P = 2^(s₂ − lse₂_t), dS = P∘(dO_t·v_u − Δ_t),
//      and writes dv_u = Σ_t P[t, u]·dO_t, dk_u = scale·Σ_t dS[t, u]·q_t. The padded keys
//      all read pad_qkv, so their dk and dv are summed as one extra key whose column is the
//      padded sums of phase 1 (by linearity), written to the block's row of a workspace.
//      Each warp also adds dS[t, u] into its own row of a bias-table workspace: for one key
//      the lanes' entries idx(t, u) are distinct, and the warp's keys come in order.
// Every real map position lies in exactly one window, so dq, dk and dv have one writer.
// d pad_qkv and d bias_table sum over all windows and images, from the workspaces
//   pad partials   [N·windows, 2C]                        (k and v; q gets no gradient)
//   table partials [N·windows, 4 warps, (2·window − 1)², heads]
// (N·windows·(2C + 4·(2·window − 1)²·heads) floats, e.g. 2220 per window for Swin-T's first
// stage, C = 96, 3 heads, window 7; plus column_reduce's partials of at most 256 chunks),
// summed over their rows in a fixed order by cuda/column_reduce.cuh. No atomics: the same
// bits on every run.
//
// Shared tiles are f32 (f16/bf16 convert on load; all arithmetic is f32); their rows of D
// values are padded by one float, so that 32 lanes reading 32 tokens at one dim hit 32
// banks. Dims past D load as zeros. The arrays are sized per bound (kMaxWindow, kMaxD):
// (7, 32), (7, 64) and (12, 32): the two [L][D + 1] tiles are what limit them to 48 KiB of
// static shared memory (window 12 with D = 32: 47.7 KB in the backward; static_asserts
// below). Swin's window 7 and head size 32 take the smallest, 16.9 KB.
#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/row_reduce.cuh"
#include "cuda/window_attention.h"

namespace tv3s::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kBlockThreads = kWarps * kWarpSize;  // 128
constexpr int kStaticSharedBytes = 48 * 1024;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kMaskValue = -100.f;  // the official mask between shift regions

// The sizes one instantiation of the kernels takes: window ≤ kMaxWindow, D ≤ kMaxD.
template <int kMaxWindow_, int kMaxD_>
struct Bounds {
  static constexpr int kMaxWindow = kMaxWindow_, kMaxD = kMaxD_;
  static constexpr int kMaxL = kMaxWindow * kMaxWindow;
  static constexpr int kSlots = (kMaxL + kWarpSize - 1) / kWarpSize;  // tokens per lane
  static constexpr int kDims = kMaxD / kWarpSize;                     // dims per lane
};

// --- shared device pieces ------------------------------------------------------------------

// This block's (image, window, head); `window` numbers the windows of all images
// (n·windows_h·windows_w + …): the block's row in the workspaces.
struct WindowPlace {
  int64_t window, n, a, b;  // a, b: the window's row and column in the rolled map
  int h;
};

__device__ __forceinline__ WindowPlace window_place(const WindowAttentionDims& d) {
  const int64_t block = blockIdx.x, per_image = d.windows_h * d.windows_w;
  const int64_t window = block / d.heads, in_image = window % per_image;
  return {window, window / per_image, in_image / d.windows_w, in_image % d.windows_w,
          int(block % d.heads)};
}

// The shift region of rolled coordinate r along an axis of padded size P:
// [0, P − window), [P − window, P − shift), [P − shift, P).
__device__ __forceinline__ int shift_region(int64_t r, int64_t P, const WindowAttentionDims& d) {
  return r < P - d.window ? 0 : r < P - d.shift ? 1 : 2;
}

// row[t]: token t's position in the map as a row of qkv [N·H·W, 3C], or −1 for padding;
// region[t]: its shift region (all 0 without a shift).
__device__ __forceinline__ void locate_tokens(const WindowAttentionDims& d, const WindowPlace& p,
                                              int64_t* row, int* region) {
  for (int t = threadIdx.x; t < d.L; t += kBlockThreads) {
    const int64_t ry = p.a * d.window + t / d.window, rx = p.b * d.window + t % d.window;
    const int64_t y = (ry + d.shift) % d.Hp, x = (rx + d.shift) % d.Wp;  // the roll undone
    row[t] = y < d.H && x < d.W ? (p.n * d.H + y) * d.W + x : -1;
    region[t] = d.shift > 0 ? shift_region(ry, d.Hp, d) * 3 + shift_region(rx, d.Wp, d) : 0;
  }
}

// The head's dims of part `part` (0 q, 1 k, 2 v) of token `row` (a map position, or pad_qkv
// for −1).
template <class T>
__device__ __forceinline__ const T* token_head(const T* qkv, const T* pad, int64_t row, int part,
                                               int h, const WindowAttentionDims& d) {
  return (row >= 0 ? qkv + row * 3 * d.C : pad) + part * d.C + h * d.D;
}

// tile[t][j] = the head's dim j of part `part` of every token t; zero past D.
template <int kMaxD, class T>
__device__ __forceinline__ void load_qkv_tile(float (*tile)[kMaxD + 1], const T* qkv, const T* pad,
                                              const int64_t* row, int part, int h,
                                              const WindowAttentionDims& d) {
  for (int idx = threadIdx.x; idx < d.L * kMaxD; idx += kBlockThreads) {
    const int t = idx / kMaxD, j = idx % kMaxD;  // consecutive threads: consecutive dims
    tile[t][j] = j < d.D ? to_f32(token_head(qkv, pad, row[t], part, h, d)[j]) : 0.f;
  }
}

// vec[j] = head[j] for j < D, zero past D: one row, loaded by one warp.
template <int kMaxD, class T>
__device__ __forceinline__ void load_warp_row(float* vec, const T* head, int D) {
  for (int j = threadIdx.x % kWarpSize; j < kMaxD; j += kWarpSize)
    vec[j] = j < D ? to_f32(head[j]) : 0.f;
}

// Σ_j vec[j]·tile[r][j].
template <int kMaxD>
__device__ __forceinline__ float dot_row(const float* vec, const float (*tile)[kMaxD + 1], int r) {
  float sum = 0.f;
#pragma unroll 8
  for (int j = 0; j < kMaxD; ++j) sum = fmaf(vec[j], tile[r][j], sum);
  return sum;
}

// idx(t, u): the bias table entry of the pair (t, u).
__device__ __forceinline__ int bias_index(int t, int u, int w) {
  return (t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1);
}

// s₂[t, u] from q_t·k_u: scale, the head's bias and the shift mask, in base 2.
template <class T>
struct Scores {
  const T* table;
  const int* region;
  int window, heads, h;
  float scale2;  // scale·log₂e
  __device__ __forceinline__ float operator()(float qk, int t, int u) const {
    const float bias = to_f32(table[bias_index(t, u, window) * heads + h]);
    const float mask = region[t] != region[u] ? kMaskValue : 0.f;
    return fmaf(qk, scale2, (bias + mask) * kLog2e);
  }
};

template <class T>
__device__ __forceinline__ Scores<T> scores_of(const T* table, const int* region,
                                               const WindowAttentionDims& d, int h, float scale2) {
  return {table, region, int(d.window), int(d.heads), h, scale2};
}

// P[t, u] of this lane's keys u = lane + 32·i (0 past L): the softmax of the query row q
// over the keys of k_tile. Returns lse₂ = log₂ Σ_u 2^s₂. Called by the whole warp.
template <class B, class T>
__device__ __forceinline__ float row_probabilities(const float* q,
                                                   const float (*k_tile)[B::kMaxD + 1], int t,
                                                   const Scores<T>& score, int L,
                                                   float (&p)[B::kSlots]) {
  const int lane = threadIdx.x % kWarpSize;
  float s[B::kSlots], row_max = -INFINITY;
#pragma unroll
  for (int i = 0; i < B::kSlots; ++i) {
    const int u = lane + i * kWarpSize;
    s[i] = u < L ? score(dot_row<B::kMaxD>(q, k_tile, u), t, u) : -INFINITY;
    row_max = fmaxf(row_max, s[i]);
  }
  row_max = warp_max(row_max);  // finite: key t itself is in the row, in t's region
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < B::kSlots; ++i) {
    p[i] = exp2f(s[i] - row_max);  // 2^−∞ = 0 past L
    sum += p[i];
  }
  sum = warp_sum(sum);
  const float inv_sum = 1.f / sum;
#pragma unroll
  for (int i = 0; i < B::kSlots; ++i) p[i] *= inv_sum;
  return row_max + log2f(sum);
}

// acc[c] = Σ_r weights[r]·tile[r][lane + 32·c], r over the window's tokens: this lane's
// dims of a weighted sum of tile rows.
template <class B>
__device__ __forceinline__ void weighted_rows(const float* weights,
                                              const float (*tile)[B::kMaxD + 1], int L,
                                              float (&acc)[B::kDims]) {
  const int lane = threadIdx.x % kWarpSize;
#pragma unroll
  for (int c = 0; c < B::kDims; ++c) acc[c] = 0.f;
  for (int r = 0; r < L; ++r) {
    const float weight = weights[r];
#pragma unroll
    for (int c = 0; c < B::kDims; ++c) acc[c] = fmaf(weight, tile[r][lane + c * kWarpSize], acc[c]);
  }
}

// head[j] = acc·mul for this lane's dims j < D.
template <class B, class V>
__device__ __forceinline__ void store_lane_dims(const float (&acc)[B::kDims], float mul, V* head,
                                                int D) {
  const int lane = threadIdx.x % kWarpSize;
#pragma unroll
  for (int c = 0; c < B::kDims; ++c)
    if (lane + c * kWarpSize < D) head[lane + c * kWarpSize] = from_f32<V>(acc[c] * mul);
}

// --- forward ---------------------------------------------------------------------------------

template <class T, class B>
__global__ void __launch_bounds__(kBlockThreads)
window_attention_forward_kernel(const T* qkv, const T* pad, const T* table, WindowAttentionDims d,
                                float scale2, T* out) {
  constexpr int kMaxL = B::kMaxL, kMaxD = B::kMaxD;
  TV3S_SHARED(int64_t, token_row, [kMaxL]);
  TV3S_SHARED(int, token_region, [kMaxL]);
  TV3S_SHARED(float, k_tile, [kMaxL][kMaxD + 1]);
  TV3S_SHARED(float, v_tile, [kMaxL][kMaxD + 1]);
  TV3S_SHARED(float, q_row, [kWarps][kMaxD]);
  TV3S_SHARED(float, p_row, [kWarps][kMaxL]);
  static_assert(sizeof(token_row) + sizeof(token_region) + sizeof(k_tile) + sizeof(v_tile) +
                sizeof(q_row) + sizeof(p_row) <= kStaticSharedBytes,
                "window_attention forward: tiles exceed static shared memory");

  const WindowPlace place = window_place(d);
  const int L = int(d.L), D = int(d.D);
  locate_tokens(d, place, token_row, token_region);
  __syncthreads();
  load_qkv_tile<kMaxD>(k_tile, qkv, pad, token_row, 1, place.h, d);
  load_qkv_tile<kMaxD>(v_tile, qkv, pad, token_row, 2, place.h, d);
  __syncthreads();

  const Scores<T> score = scores_of(table, token_region, d, place.h, scale2);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  for (int t = warp; t < L; t += kWarps) {
    const int64_t row = token_row[t];
    if (row < 0) continue;  // a padded query: cropped (the whole warp skips it)
    load_warp_row<kMaxD>(q_row[warp], token_head(qkv, pad, row, 0, place.h, d), D);
    __syncwarp();
    float p[B::kSlots];
    row_probabilities<B>(q_row[warp], k_tile, t, score, L, p);
#pragma unroll
    for (int i = 0; i < B::kSlots; ++i)
      if (lane + i * kWarpSize < L) p_row[warp][lane + i * kWarpSize] = p[i];
    __syncwarp();
    float o[B::kDims];
    weighted_rows<B>(p_row[warp], v_tile, L, o);
    store_lane_dims<B>(o, 1.f, out + row * d.C + place.h * D, D);
    __syncwarp();  // q_row and p_row free for the warp's next query
  }
}

// --- backward --------------------------------------------------------------------------------

template <class T, class B>
__global__ void __launch_bounds__(kBlockThreads)
window_attention_backward_kernel(const T* qkv, const T* pad, const T* table, const T* dout,
                                 WindowAttentionDims d, float scale, float scale2, T* dqkv,
                                 float* pad_partials, float* table_partials) {
  constexpr int kMaxL = B::kMaxL, kMaxD = B::kMaxD;
  TV3S_SHARED(int64_t, token_row, [kMaxL]);
  TV3S_SHARED(int, token_region, [kMaxL]);
  TV3S_SHARED(float, tile_a, [kMaxL][kMaxD + 1]);  // phase 1: K; phase 2: Q
  TV3S_SHARED(float, tile_b, [kMaxL][kMaxD + 1]);  // phase 1: V; phase 2: dO
  TV3S_SHARED(float, vec_a, [kWarps][kMaxD]);      // phase 1: q_t; phase 2: k_u
  TV3S_SHARED(float, vec_b, [kWarps][kMaxD]);      // phase 1: dO_t; phase 2: v_u
  TV3S_SHARED(float, weights_a, [kWarps][kMaxL]);  // phase 1: dS[t, ·]; phase 2: P[·, u]
  TV3S_SHARED(float, weights_b, [kWarps][kMaxL]);  // phase 2: dS[·, u]
  TV3S_SHARED(float, lse2, [kMaxL]);
  TV3S_SHARED(float, delta, [kMaxL]);
  TV3S_SHARED(float, pad_p, [kMaxL]);   // Σ over the padded keys u of P[t, u]
  TV3S_SHARED(float, pad_ds, [kMaxL]);  // … and of dS[t, u]
  static_assert(sizeof(token_row) + sizeof(token_region) + sizeof(tile_a) + sizeof(tile_b) +
                sizeof(vec_a) + sizeof(vec_b) + sizeof(weights_a) + sizeof(weights_b) +
                sizeof(lse2) + sizeof(delta) + sizeof(pad_p) + sizeof(pad_ds) <=
                kStaticSharedBytes, "window_attention backward: tiles exceed static shared memory");

  const WindowPlace place = window_place(d);
  const int64_t C = d.C;
  const int L = int(d.L), D = int(d.D), h = place.h;
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  const Scores<T> score = scores_of(table, token_region, d, h, scale2);
  locate_tokens(d, place, token_row, token_region);
  __syncthreads();

  // Phase 1: query rows.
  load_qkv_tile<kMaxD>(tile_a, qkv, pad, token_row, 1, h, d);
  load_qkv_tile<kMaxD>(tile_b, qkv, pad, token_row, 2, h, d);
  __syncthreads();
  for (int t = warp; t < L; t += kWarps) {
    const int64_t row = token_row[t];
    if (row < 0) {  // a padded query: cropped, so dO_t = 0; lse₂ = +∞ makes its P zero
      if (lane == 0) {
        lse2[t] = INFINITY;
        delta[t] = pad_p[t] = pad_ds[t] = 0.f;
      }
      continue;
    }
    load_warp_row<kMaxD>(vec_a[warp], token_head(qkv, pad, row, 0, h, d), D);
    load_warp_row<kMaxD>(vec_b[warp], dout + row * C + h * D, D);
    __syncwarp();
    float p[B::kSlots], dp[B::kSlots], p_dp = 0.f;
    const float row_lse2 = row_probabilities<B>(vec_a[warp], tile_a, t, score, L, p);
#pragma unroll
    for (int i = 0; i < B::kSlots; ++i) {
      const int u = lane + i * kWarpSize;
      dp[i] = u < L ? dot_row<kMaxD>(vec_b[warp], tile_b, u) : 0.f;
      p_dp += p[i] * dp[i];
    }
    const float row_delta = warp_sum(p_dp);
    float padded_p = 0.f, padded_ds = 0.f;
#pragma unroll
    for (int i = 0; i < B::kSlots; ++i) {
      const int u = lane + i * kWarpSize;
      if (u >= L) continue;
      const float ds = p[i] * (dp[i] - row_delta);
      weights_a[warp][u] = ds;
      if (token_row[u] < 0) {
        padded_p += p[i];
        padded_ds += ds;
      }
    }
    padded_p = warp_sum(padded_p);
    padded_ds = warp_sum(padded_ds);
    if (lane == 0) {
      lse2[t] = row_lse2;
      delta[t] = row_delta;
      pad_p[t] = padded_p;
      pad_ds[t] = padded_ds;
    }
    __syncwarp();  // dS[t, ·] complete
    float dq[B::kDims];
    weighted_rows<B>(weights_a[warp], tile_a, L, dq);
    store_lane_dims<B>(dq, scale, dqkv + row * 3 * C + h * D, D);
    __syncwarp();  // vec_a, vec_b and weights_a free for the warp's next query
  }
  __syncthreads();  // lse₂, Δ and the padded sums complete; K and V no longer read

  // Phase 2: key columns.
  load_qkv_tile<kMaxD>(tile_a, qkv, pad, token_row, 0, h, d);
  for (int idx = threadIdx.x; idx < L * kMaxD; idx += kBlockThreads) {
    const int t = idx / kMaxD, j = idx % kMaxD;
    const int64_t row = token_row[t];
    tile_b[t][j] = j < D && row >= 0 ? to_f32(dout[row * C + h * D + j]) : 0.f;
  }
  // This warp's row of the table workspace: entry r of head h at table[r·heads].
  const int64_t entries = (2 * d.window - 1) * (2 * d.window - 1);
  float* my_table = table_partials + (place.window * kWarps + warp) * entries * d.heads + h;
  for (int64_t r = lane; r < entries; r += kWarpSize) my_table[r * d.heads] = 0.f;
  __syncthreads();  // Q and dO loaded (and the warp's table zeroed)

  for (int u = warp; u <= L; u += kWarps) {  // u = L: the sum of the padded keys
    float dk[B::kDims], dv[B::kDims];
    if (u == L) {
      weighted_rows<B>(pad_p, tile_b, L, dv);
      weighted_rows<B>(pad_ds, tile_a, L, dk);
      float* partial = pad_partials + place.window * 2 * C + h * D;
      store_lane_dims<B>(dk, scale, partial, D);
      store_lane_dims<B>(dv, 1.f, partial + C, D);
      continue;
    }
    const int64_t row = token_row[u];
    load_warp_row<kMaxD>(vec_a[warp], token_head(qkv, pad, row, 1, h, d), D);
    load_warp_row<kMaxD>(vec_b[warp], token_head(qkv, pad, row, 2, h, d), D);
    __syncwarp();
#pragma unroll
    for (int i = 0; i < B::kSlots; ++i) {
      const int t = lane + i * kWarpSize;
      if (t >= L) continue;
      const float p = exp2f(score(dot_row<kMaxD>(vec_a[warp], tile_a, t), t, u) - lse2[t]);
      const float ds = p * (dot_row<kMaxD>(vec_b[warp], tile_b, t) - delta[t]);
      weights_a[warp][t] = p;
      weights_b[warp][t] = ds;
      my_table[bias_index(t, u, int(d.window)) * d.heads] += ds;  // one lane per entry
    }
    __syncwarp();  // the column complete; the table entries written
    if (row >= 0) {  // (a padded key's dk and dv are in the padded sum)
      weighted_rows<B>(weights_a[warp], tile_b, L, dv);
      weighted_rows<B>(weights_b[warp], tile_a, L, dk);
      T* grad = dqkv + row * 3 * C + h * D;
      store_lane_dims<B>(dk, scale, grad + C, D);
      store_lane_dims<B>(dv, 1.f, grad + 2 * C, D);
    }
    __syncwarp();  // vec_a, vec_b and the weights free for the warp's next key
  }
}

// The rows of a workspace [rows, columns] of f32 partials, for column_partials.
struct WorkspaceTerm {
  using Sum = float;
  const float* partials;
  int64_t columns;
  __device__ void operator()(int64_t r, int64_t c, float& sum) const {
    sum += partials[r * columns + c];
  }
};

// dtable[c] = Σ over the windows and warps of the table partials (c = entry·heads + h).
template <class T>
__global__ void window_attention_dtable_finish(const float* chunk_sums, int64_t chunks,
                                               int64_t columns, T* dtable) {
  TV3S_GRID_STRIDE(c, columns) dtable[c] = from_f32<T>(sum_chunks(chunk_sums, chunks, columns, c));
}

// dpad = [0 (q: padded queries are cropped) | Σ over the windows of the k and v partials].
template <class T>
__global__ void window_attention_dpad_finish(const float* chunk_sums, int64_t chunks, int64_t C,
                                             T* dpad) {
  TV3S_GRID_STRIDE(c, 3 * C)
  dpad[c] = from_f32<T>(c < C ? 0.f : sum_chunks(chunk_sums, chunks, 2 * C, c - C));
}

// --- launchers -----------------------------------------------------------------------------------

constexpr int kLargestWindow = 12;  // with D ≤ 32
constexpr int kLargestHeadDim = 64;  // with window ≤ 7

// Calls f(Bounds<…>{}) with the smallest bounds that take d (window_attention_supported).
template <class F>
void dispatch_bounds(const WindowAttentionDims& d, F&& f) {
  if (d.window <= 7 && d.D <= 32) f(Bounds<7, 32>{});
  else if (d.window <= 7) f(Bounds<7, 64>{});
  else f(Bounds<12, 32>{});
}

void check_supported(const WindowAttentionDims& d, const char* op) {
  TV3S_CHECK(window_attention_supported(d), op, ": the CUDA kernels take window ≤ 7 with head ",
             "size D ≤ ", kLargestHeadDim, ", or window ≤ ", kLargestWindow, " with D ≤ 32; got ",
             "window ", d.window, ", D ", d.D);
}

// One block per (image, window, head); the kernels do not loop, so the grid must hold them.
unsigned window_blocks(const WindowAttentionDims& d, const char* op) {
  const int64_t blocks = d.N * d.windows_h * d.windows_w * d.heads;
  TV3S_CHECK(blocks <= 0x7fffffff, op, ": ", blocks, " thread blocks do not fit the CUDA grid");
  return unsigned(blocks);
}

// Σ over the rows of a [rows, columns] f32 workspace: finish(chunk sums, chunks).
template <class Finish>
void sum_workspace_rows(const Tensor& workspace, int64_t rows, int64_t columns, Finish&& finish) {
  const ColumnPartials sums =
      column_partials(WorkspaceTerm{ptr<float>(workspace), columns}, rows, columns);
  finish(ptr<float>(sums.data), sums.chunks);
}

}  // namespace

bool window_attention_supported(const WindowAttentionDims& d) {
  return (d.window <= 7 && d.D <= kLargestHeadDim) || (d.window <= kLargestWindow && d.D <= 32);
}

void window_attention_forward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                              const WindowAttentionDims& d, double scale, Tensor& out) {
  check_supported(d, "window_attention");
  if (d.N * d.H * d.W == 0) return;
  const unsigned blocks = window_blocks(d, "window_attention");
  dispatch_float("window_attention", qkv, [&](auto tag) {
    using T = decltype(tag);
    dispatch_bounds(d, [&](auto bounds) {
      launch<window_attention_forward_kernel<T, decltype(bounds)>>(
          blocks, kBlockThreads, 0, stream(), ptr<T>(qkv), ptr<T>(pad_qkv), ptr<T>(bias_table), d,
          float(scale * kLog2e), ptr<T>(out));
    });
  });
  check_launch("window_attention");
}

void window_attention_backward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                               const Tensor& dout, const WindowAttentionDims& d, double scale,
                               Tensor& dqkv, Tensor& dpad, Tensor& dtable) {
  check_supported(d, "window_attention backward");
  const int64_t windows = d.N * d.windows_h * d.windows_w;
  const int64_t table_columns = (2 * d.window - 1) * (2 * d.window - 1) * d.heads;
  Tensor pad_partials = Tensor::empty(Shape{windows, 2 * d.C}, DType::f32, Device::CUDA);
  Tensor table_partials =
      Tensor::empty(Shape{windows * kWarps, table_columns}, DType::f32, Device::CUDA);
  dispatch_float("window_attention backward", qkv, [&](auto tag) {
    using T = decltype(tag);
    if (windows > 0) {
      dispatch_bounds(d, [&](auto bounds) {
        launch<window_attention_backward_kernel<T, decltype(bounds)>>(
            window_blocks(d, "window_attention backward"), kBlockThreads, 0, stream(),
            ptr<T>(qkv), ptr<T>(pad_qkv), ptr<T>(bias_table), ptr<T>(dout), d, float(scale),
            float(scale * kLog2e), ptr<T>(dqkv), ptr<float>(pad_partials),
            ptr<float>(table_partials));
      });
      check_launch("window_attention backward");
    }
    sum_workspace_rows(pad_partials, windows, 2 * d.C, [&](const float* sums, int64_t chunks) {
      launch<window_attention_dpad_finish<T>>(blocks_for(3 * d.C), kThreads, 0, stream(), sums,
                                              chunks, d.C, ptr<T>(dpad));
    });
    sum_workspace_rows(table_partials, windows * kWarps, table_columns,
                       [&](const float* sums, int64_t chunks) {
                         launch<window_attention_dtable_finish<T>>(
                             blocks_for(table_columns), kThreads, 0, stream(), sums, chunks,
                             table_columns, ptr<T>(dtable));
                       });
    check_launch("window_attention backward (d pad_qkv, d bias_table)");
  });
}

}  // namespace tv3s::cuda
