// Swin's shifted-window attention on the GPU, fused (the math is in
// include/tv3s/ops/window_attention.h and src/ops/window_attention.cpp): the map is never
// padded, rolled or cut into windows in memory, and no [L, L] matrix reaches global memory
// in the forward.
//
// A block owns one (image, window, head) of the rolled padded map: blockIdx.x numbers
// them as ((n·windows_h + a)·windows_w + b)·heads + h, so the blocks of one window's heads
// are neighbours and read the same qkv rows from L2. Its first step finds, for each token
// t of the window (L = window² of them), the qkv row it reads: the rolled position
// (a·window + t / window, b·window + t % window) moved back by +shift modulo the padded
// size, which is a map position or padding (then pad_qkv); and its shift region, from the
// rolled position, as the official mask. It also copies its head's column of the bias
// table (× log₂e) into shared memory. From then on everything is index arithmetic on
// shared memory.
//
// Forward: the window's keys and values of the head go to shared tiles [L][D + 1]. Each
// of the 4 warps takes query rows t = warp, warp + 4, …: the query goes to a per-warp row,
// lane j scores the keys u = j, j + 32 (s₂ = log₂e·(scale·q·k + bias + mask), the −100
// mask where regions differ), the row's max and sum are warp shuffles, P goes to a
// per-warp row, and lane j sums o[j], o[j + 32] = Σ_u P[u]·v_u. o is written to the
// query's own map position; padded queries are skipped (cropped).
// Backward, with P recomputed (nothing is saved by the forward), in two phases:
//   1. rows (tiles hold K and V): each warp recomputes P[t, ·] for its query rows, then
//      dP[t, u] = dO_t·v_u, Δ_t = Σ_u P·dP (= dO_t·o_t, so o is not needed) and
//      dS = P∘(dP − Δ); it writes dq_t = scale·Σ_u dS[t, u]·k_u, and keeps P and dS of the
//      window in shared memory [L][L], with their sums over the padded keys u.
//   2. columns (tiles reloaded with Q and dO): each warp takes keys u and writes
//      dv_u = Σ_t P[t, u]·dO_t and dk_u = scale·Σ_t dS[t, u]·q_t. The padded keys all read
//      pad_qkv, so their gradients are summed as one extra key whose columns are the padded
//      sums (by linearity), written to the block's row of a workspace. Meanwhile each
//      thread folds dS into one bias table entry: the sum over its (t, u) pairs in raster
//      order, written to the block's row of a second workspace.
// Every real map position lies in exactly one window, so dq, dk and dv have one writer.
// d pad_qkv and d bias_table sum over all windows and images: their workspaces
//   pad partials   [N·windows, 2C]               (k and v parts; q gets no gradient)
//   table partials [N·windows, (2·window − 1)², heads]
// (N·windows·(2C + (2·window − 1)²·heads) floats, plus column_reduce's ≤ 256-row partials of
// each) are summed over their rows in a fixed order (cuda/column_reduce.cuh). No atomics:
// the same bits on every run.
//
// Shared tiles are f32 (f16/bf16 convert on load; all arithmetic is f32); their rows of D
// values are padded by one float, so that 32 lanes reading 32 keys at one dim hit 32
// banks. Dims past D load as zeros. The tiles are sized for the largest window and head
// dim the kernels take, kMaxWindow = 7 (all of Swin) and D ≤ kMaxHeadDim = 64, chosen per
// bound kMaxD ∈ {32, 64}; the backward's P and dS (2·L² floats) are what limit the window:
// window 8 with D = 32 would already need 49.7 KB, above the 48 KiB of static shared memory.
#include <type_traits>

#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/row_reduce.cuh"
#include "cuda/window_attention.h"

namespace tv3s::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kBlockThreads = kWarps * kWarpSize;  // 128
constexpr int kMaxWindow = 7;
constexpr int kMaxHeadDim = 64;
constexpr int kMaxL = kMaxWindow * kMaxWindow;                              // 49
constexpr int kMaxTable = (2 * kMaxWindow - 1) * (2 * kMaxWindow - 1);      // 169
constexpr int kKeysPerLane = (kMaxL + kWarpSize - 1) / kWarpSize;           // 2
constexpr int kStaticSharedBytes = 48 * 1024;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kMaskValue = -100.f;  // the official mask between shift regions

// --- shared device pieces ------------------------------------------------------------------

// This block's (image, window, head); `window` numbers the windows of all images, n·nW + …,
// the block's row in the workspaces.
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
// region[t]: its shift region (all 0 without a shift). bias2[r] = table[r, h]·log₂e.
template <class T>
__device__ __forceinline__ void locate_window(const WindowAttentionDims& d, const WindowPlace& p,
                                              const T* table, int64_t* row, int* region,
                                              float* bias2) {
  for (int t = threadIdx.x; t < d.L; t += kBlockThreads) {
    const int64_t ry = p.a * d.window + t / d.window, rx = p.b * d.window + t % d.window;
    const int64_t y = (ry + d.shift) % d.Hp, x = (rx + d.shift) % d.Wp;  // the roll undone
    row[t] = y < d.H && x < d.W ? (p.n * d.H + y) * d.W + x : -1;
    region[t] = d.shift > 0 ? shift_region(ry, d.Hp, d) * 3 + shift_region(rx, d.Wp, d) : 0;
  }
  const int64_t entries = (2 * d.window - 1) * (2 * d.window - 1);
  for (int r = threadIdx.x; r < entries; r += kBlockThreads)
    bias2[r] = to_f32(table[r * d.heads + p.h]) * kLog2e;
}

// The 3C values of token `row` (a map position, or pad_qkv for −1).
template <class T>
__device__ __forceinline__ const T* token_qkv(const T* qkv, const T* pad, int64_t row,
                                              const WindowAttentionDims& d) {
  return row >= 0 ? qkv + row * 3 * d.C : pad;
}

// tile[t][j] = the head's dim j of part `part` (0 q, 1 k, 2 v) of every token t; zero past D.
template <int kMaxD, class T>
__device__ __forceinline__ void load_qkv_tile(float (*tile)[kMaxD + 1], const T* qkv, const T* pad,
                                              const int64_t* row, int part, int h,
                                              const WindowAttentionDims& d) {
  const int64_t offset = part * d.C + h * d.D;
  for (int idx = threadIdx.x; idx < d.L * kMaxD; idx += kBlockThreads) {
    const int t = idx / kMaxD, j = idx % kMaxD;  // consecutive threads: consecutive dims
    tile[t][j] = j < d.D ? to_f32(token_qkv(qkv, pad, row[t], d)[offset + j]) : 0.f;
  }
}

// vec[j] = head[j] for j < D, zero past D: one row, loaded by one warp.
template <int kMaxD, class T>
__device__ __forceinline__ void load_warp_row(float* vec, const T* head, int D) {
  for (int j = threadIdx.x % kWarpSize; j < kMaxD; j += kWarpSize)
    vec[j] = j < D ? to_f32(head[j]) : 0.f;
}

// Σ_j vec[j]·tile[u][j].
template <int kMaxD>
__device__ __forceinline__ float dot_row(const float* vec, const float (*tile)[kMaxD + 1], int u) {
  float sum = 0.f;
#pragma unroll 8
  for (int j = 0; j < kMaxD; ++j) sum = fmaf(vec[j], tile[u][j], sum);
  return sum;
}

// P[t, u] of this lane's keys u = lane + 32·i (0 past L): the softmax over the window of
// s₂ = log₂e·(scale·q_t·k_u + bias[idx(t, u)] + mask). Called by the whole warp.
template <int kMaxD>
__device__ __forceinline__ void probabilities(const float* q, const float (*k_tile)[kMaxD + 1],
                                              int t, const float* bias2, const int* region,
                                              const WindowAttentionDims& d, float scale2,
                                              float (&p)[kKeysPerLane]) {
  const int w = int(d.window), lane = threadIdx.x % kWarpSize;
  const int ti = t / w, tj = t % w;
  float s[kKeysPerLane], row_max = -INFINITY;
#pragma unroll
  for (int i = 0; i < kKeysPerLane; ++i) {
    const int u = lane + i * kWarpSize;
    s[i] = -INFINITY;
    if (u >= d.L) continue;
    const int idx = (ti - u / w + w - 1) * (2 * w - 1) + (tj - u % w + w - 1);
    s[i] = dot_row<kMaxD>(q, k_tile, u) * scale2 + bias2[idx];
    if (region[u] != region[t]) s[i] += kMaskValue * kLog2e;
    row_max = fmaxf(row_max, s[i]);
  }
  row_max = warp_max(row_max);  // finite: key t itself is in the row
  float sum = 0.f;
#pragma unroll
  for (int i = 0; i < kKeysPerLane; ++i) {
    p[i] = exp2f(s[i] - row_max);  // 2^−∞ = 0 past L
    sum += p[i];
  }
  const float inv_sum = 1.f / warp_sum(sum);
#pragma unroll
  for (int i = 0; i < kKeysPerLane; ++i) p[i] *= inv_sum;
}

// acc[c] = Σ_u weights[u]·tile[u][lane + 32·c], u over the window: this lane's dims of a
// weighted sum of tile rows.
template <int kMaxD>
__device__ __forceinline__ void weighted_rows(const float* weights, int64_t stride,
                                              const float (*tile)[kMaxD + 1], int L,
                                              float (&acc)[kMaxD / kWarpSize]) {
  const int lane = threadIdx.x % kWarpSize;
#pragma unroll
  for (int c = 0; c < kMaxD / kWarpSize; ++c) acc[c] = 0.f;
  for (int u = 0; u < L; ++u) {
    const float weight = weights[u * stride];
#pragma unroll
    for (int c = 0; c < kMaxD / kWarpSize; ++c)
      acc[c] = fmaf(weight, tile[u][lane + c * kWarpSize], acc[c]);
  }
}

// head[j] = acc·mul for this lane's dims j < D.
template <int kMaxD, class T>
__device__ __forceinline__ void store_lane_dims(const float (&acc)[kMaxD / kWarpSize], float mul,
                                                T* head, int D) {
  const int lane = threadIdx.x % kWarpSize;
#pragma unroll
  for (int c = 0; c < kMaxD / kWarpSize; ++c)
    if (lane + c * kWarpSize < D) head[lane + c * kWarpSize] = from_f32<T>(acc[c] * mul);
}

// --- forward ---------------------------------------------------------------------------------

template <class T, int kMaxD>
__global__ void __launch_bounds__(kBlockThreads)
window_attention_forward_kernel(const T* qkv, const T* pad, const T* table, WindowAttentionDims d,
                                float scale2, T* out) {
  TV3S_SHARED(int64_t, token_row, [kMaxL]);
  TV3S_SHARED(int, token_region, [kMaxL]);
  TV3S_SHARED(float, bias2, [kMaxTable]);
  TV3S_SHARED(float, k_tile, [kMaxL][kMaxD + 1]);
  TV3S_SHARED(float, v_tile, [kMaxL][kMaxD + 1]);
  TV3S_SHARED(float, q_row, [kWarps][kMaxD]);
  TV3S_SHARED(float, p_row, [kWarps][kMaxL]);
  static_assert(sizeof(token_row) + sizeof(token_region) + sizeof(bias2) + sizeof(k_tile) +
                sizeof(v_tile) + sizeof(q_row) + sizeof(p_row) <= kStaticSharedBytes,
                "window_attention forward: tiles exceed static shared memory");

  const WindowPlace place = window_place(d);
  locate_window(d, place, table, token_row, token_region, bias2);
  __syncthreads();
  load_qkv_tile<kMaxD>(k_tile, qkv, pad, token_row, 1, place.h, d);
  load_qkv_tile<kMaxD>(v_tile, qkv, pad, token_row, 2, place.h, d);
  __syncthreads();

  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  for (int t = warp; t < d.L; t += kWarps) {
    const int64_t row = token_row[t];
    if (row < 0) continue;  // a padded query: cropped (the whole warp skips it)
    load_warp_row<kMaxD>(q_row[warp], qkv + row * 3 * d.C + place.h * d.D, int(d.D));
    __syncwarp();
    float p[kKeysPerLane];
    probabilities<kMaxD>(q_row[warp], k_tile, t, bias2, token_region, d, scale2, p);
#pragma unroll
    for (int i = 0; i < kKeysPerLane; ++i)
      if (lane + i * kWarpSize < d.L) p_row[warp][lane + i * kWarpSize] = p[i];
    __syncwarp();
    float o[kMaxD / kWarpSize];
    weighted_rows<kMaxD>(p_row[warp], 1, v_tile, int(d.L), o);
    store_lane_dims<kMaxD>(o, 1.f, out + row * d.C + place.h * d.D, int(d.D));
    __syncwarp();  // q_row and p_row free for the warp's next query
  }
}

// --- backward --------------------------------------------------------------------------------

template <class T, int kMaxD>
__global__ void __launch_bounds__(kBlockThreads)
window_attention_backward_kernel(const T* qkv, const T* pad, const T* table, const T* dout,
                                 WindowAttentionDims d, float scale, float scale2, T* dqkv,
                                 float* pad_partials, float* table_partials) {
  TV3S_SHARED(int64_t, token_row, [kMaxL]);
  TV3S_SHARED(int, token_region, [kMaxL]);
  TV3S_SHARED(float, bias2, [kMaxTable]);
  TV3S_SHARED(float, tile_a, [kMaxL][kMaxD + 1]);  // phase 1: K; phase 2: Q
  TV3S_SHARED(float, tile_b, [kMaxL][kMaxD + 1]);  // phase 1: V; phase 2: dO
  TV3S_SHARED(float, q_row, [kWarps][kMaxD]);
  TV3S_SHARED(float, dout_row, [kWarps][kMaxD]);
  TV3S_SHARED(float, p, [kMaxL][kMaxL]);   // P[t][u]
  TV3S_SHARED(float, ds, [kMaxL][kMaxL]);  // dS[t][u]
  TV3S_SHARED(float, pad_p, [kMaxL]);      // Σ over the padded keys u of P[t][u]
  TV3S_SHARED(float, pad_ds, [kMaxL]);     // … and of dS[t][u]
  static_assert(sizeof(token_row) + sizeof(token_region) + sizeof(bias2) + sizeof(tile_a) +
                sizeof(tile_b) + sizeof(q_row) + sizeof(dout_row) + sizeof(p) + sizeof(ds) +
                sizeof(pad_p) + sizeof(pad_ds) <= kStaticSharedBytes,
                "window_attention backward: tiles exceed static shared memory");

  const WindowPlace place = window_place(d);
  const int64_t C = d.C, hD = place.h * d.D;
  const int L = int(d.L), D = int(d.D);
  const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
  locate_window(d, place, table, token_row, token_region, bias2);
  __syncthreads();

  // Phase 1: query rows.
  load_qkv_tile<kMaxD>(tile_a, qkv, pad, token_row, 1, place.h, d);
  load_qkv_tile<kMaxD>(tile_b, qkv, pad, token_row, 2, place.h, d);
  __syncthreads();
  for (int t = warp; t < L; t += kWarps) {
    const int64_t row = token_row[t];
    float p_t[kKeysPerLane], ds_t[kKeysPerLane];
    if (row < 0) {  // a padded query: cropped, so dO_t = 0 and its dS row is zero
#pragma unroll
      for (int i = 0; i < kKeysPerLane; ++i) p_t[i] = ds_t[i] = 0.f;
    } else {
      load_warp_row<kMaxD>(q_row[warp], qkv + row * 3 * C + hD, D);
      load_warp_row<kMaxD>(dout_row[warp], dout + row * C + hD, D);
      __syncwarp();
      probabilities<kMaxD>(q_row[warp], tile_a, t, bias2, token_region, d, scale2, p_t);
      float dp[kKeysPerLane], p_dp = 0.f;
#pragma unroll
      for (int i = 0; i < kKeysPerLane; ++i) {
        const int u = lane + i * kWarpSize;
        dp[i] = u < L ? dot_row<kMaxD>(dout_row[warp], tile_b, u) : 0.f;
        p_dp += p_t[i] * dp[i];
      }
      const float delta = warp_sum(p_dp);
#pragma unroll
      for (int i = 0; i < kKeysPerLane; ++i) ds_t[i] = p_t[i] * (dp[i] - delta);
    }
    float pad_p_sum = 0.f, pad_ds_sum = 0.f;
#pragma unroll
    for (int i = 0; i < kKeysPerLane; ++i) {
      const int u = lane + i * kWarpSize;
      if (u >= L) continue;
      p[t][u] = p_t[i];
      ds[t][u] = ds_t[i];
      if (token_row[u] < 0) {
        pad_p_sum += p_t[i];
        pad_ds_sum += ds_t[i];
      }
    }
    pad_p_sum = warp_sum(pad_p_sum);
    pad_ds_sum = warp_sum(pad_ds_sum);
    if (lane == 0) {
      pad_p[t] = pad_p_sum;
      pad_ds[t] = pad_ds_sum;
    }
    __syncwarp();  // ds[t] complete
    if (row >= 0) {
      float dq[kMaxD / kWarpSize];
      weighted_rows<kMaxD>(ds[t], 1, tile_a, L, dq);
      store_lane_dims<kMaxD>(dq, scale, dqkv + row * 3 * C + hD, D);
    }
    __syncwarp();  // q_row and dout_row free for the warp's next query
  }
  __syncthreads();  // P, dS and the padded sums complete; K and V no longer read

  // Phase 2: key columns.
  load_qkv_tile<kMaxD>(tile_a, qkv, pad, token_row, 0, place.h, d);
  for (int idx = threadIdx.x; idx < L * kMaxD; idx += kBlockThreads) {
    const int t = idx / kMaxD, j = idx % kMaxD;
    tile_b[t][j] = j < D && token_row[t] >= 0 ? to_f32(dout[token_row[t] * C + hD + j]) : 0.f;
  }
  // The bias table entry r = (ry, rx) gets dS[t][u] of every pair with
  // ti − ui = ry − (window − 1) and tj − uj = rx − (window − 1).
  const int w = int(d.window), entries = (2 * w - 1) * (2 * w - 1);
  for (int r = threadIdx.x; r < entries; r += kBlockThreads) {
    const int dy = r / (2 * w - 1) - (w - 1), dx = r % (2 * w - 1) - (w - 1);
    float sum = 0.f;
    for (int ti = max(0, dy); ti < min(w, w + dy); ++ti)
      for (int tj = max(0, dx); tj < min(w, w + dx); ++tj)
        sum += ds[ti * w + tj][(ti - dy) * w + (tj - dx)];
    table_partials[(place.window * entries + r) * d.heads + place.h] = sum;
  }
  __syncthreads();  // Q and dO tiles loaded

  // Key u = L stands for all padded keys: its columns are the padded sums.
  for (int u = warp; u <= L; u += kWarps) {
    const bool padded_sum = u == L;
    if (!padded_sum && token_row[u] < 0) continue;  // counted in the padded sum
    float dk[kMaxD / kWarpSize], dv[kMaxD / kWarpSize];
    weighted_rows<kMaxD>(padded_sum ? pad_p : &p[0][u], padded_sum ? 1 : kMaxL, tile_b, L, dv);
    weighted_rows<kMaxD>(padded_sum ? pad_ds : &ds[0][u], padded_sum ? 1 : kMaxL, tile_a, L, dk);
    if (padded_sum) {
      float* partial = pad_partials + place.window * 2 * C + hD;
      store_lane_dims<kMaxD>(dk, scale, partial, D);
      store_lane_dims<kMaxD>(dv, 1.f, partial + C, D);
    } else {
      T* grad = dqkv + token_row[u] * 3 * C + hD;
      store_lane_dims<kMaxD>(dk, scale, grad + C, D);
      store_lane_dims<kMaxD>(dv, 1.f, grad + 2 * C, D);
    }
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

// dtable[c] = Σ over the windows of the table partials (c = entry·heads + h).
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

// Calls f(std::integral_constant<int, kMaxD>) with the smallest bound ≥ D.
template <class F>
void dispatch_head_dim(int64_t D, F&& f) {
  if (D <= 32) f(std::integral_constant<int, 32>{});
  else f(std::integral_constant<int, 64>{});
}

// One block per (image, window, head); the kernels do not loop, so the grid must hold them.
unsigned window_blocks(const WindowAttentionDims& d, const char* op) {
  const int64_t blocks = d.N * d.windows_h * d.windows_w * d.heads;
  TV3S_CHECK(blocks <= 0x7fffffff, op, ": ", blocks, " thread blocks do not fit the CUDA grid");
  return unsigned(blocks);
}

// Σ over the rows of a [rows, columns] f32 workspace, then finish(chunk sums, chunks).
template <class Finish>
void sum_workspace_rows(const Tensor& workspace, int64_t rows, int64_t columns, Finish&& finish) {
  const ColumnPartials sums = column_partials(WorkspaceTerm{ptr<float>(workspace), columns},
                                              rows, columns);
  finish(ptr<float>(sums.data), sums.chunks);
}

}  // namespace

bool window_attention_supported(const WindowAttentionDims& d) {
  return d.window <= kMaxWindow && d.D <= kMaxHeadDim;
}

void window_attention_forward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                              const WindowAttentionDims& d, double scale, Tensor& out) {
  TV3S_CHECK(window_attention_supported(d), "window_attention: the CUDA kernels take window ≤ ",
             kMaxWindow, " and head size ≤ ", kMaxHeadDim, ", got window ", d.window, ", D ", d.D);
  if (d.N * d.H * d.W == 0) return;
  const unsigned blocks = window_blocks(d, "window_attention");
  dispatch_float("window_attention", qkv, [&](auto tag) {
    using T = decltype(tag);
    dispatch_head_dim(d.D, [&](auto max_d) {
      constexpr int kMaxD = decltype(max_d)::value;
      launch<window_attention_forward_kernel<T, kMaxD>>(
          blocks, kBlockThreads, 0, stream(), ptr<T>(qkv), ptr<T>(pad_qkv), ptr<T>(bias_table), d,
          float(scale * kLog2e), ptr<T>(out));
    });
  });
  check_launch("window_attention");
}

void window_attention_backward(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& bias_table,
                               const Tensor& dout, const WindowAttentionDims& d, double scale,
                               Tensor& dqkv, Tensor& dpad, Tensor& dtable) {
  TV3S_CHECK(window_attention_supported(d), "window_attention backward: the CUDA kernels take ",
             "window ≤ ", kMaxWindow, " and head size ≤ ", kMaxHeadDim, ", got window ",
             d.window, ", D ", d.D);
  const int64_t windows = d.N * d.windows_h * d.windows_w;
  const int64_t entries = (2 * d.window - 1) * (2 * d.window - 1);
  Tensor pad_partials = Tensor::empty(Shape{windows, 2 * d.C}, DType::f32, Device::CUDA);
  Tensor table_partials = Tensor::empty(Shape{windows, entries * d.heads}, DType::f32, Device::CUDA);
  dispatch_float("window_attention backward", qkv, [&](auto tag) {
    using T = decltype(tag);
    if (windows > 0) {
      dispatch_head_dim(d.D, [&](auto max_d) {
        constexpr int kMaxD = decltype(max_d)::value;
        launch<window_attention_backward_kernel<T, kMaxD>>(
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
    sum_workspace_rows(table_partials, windows, entries * d.heads,
                       [&](const float* sums, int64_t chunks) {
                         launch<window_attention_dtable_finish<T>>(
                             blocks_for(entries * d.heads), kThreads, 0, stream(), sums, chunks,
                             entries * d.heads, ptr<T>(dtable));
                       });
    check_launch("window_attention backward (d pad_qkv, d bias_table)");
  });
}

}  // namespace tv3s::cuda
