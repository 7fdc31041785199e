// Scaled dot-product attention on the GPU, flash-attention style (the math is in
// src/ops/attention.cpp): the [L, S] score matrix never exists in global memory.
//
// Forward: a block owns a tile of queries of one (n, h) and streams the keys and values
// through shared memory, one tile at a time, with the online softmax: every query row
// keeps its running max m and sum l; when a key tile raises the max, l and the output
// accumulator are first rescaled by exp(m_old − m_new). At the end o = acc / l, and
// lse = m + log l is saved for the backward.
// Backward (as FlashAttention-2), P recomputed from lse, never stored:
//   1. Δ = rowsum(dO ∘ O): a warp per query row.
//   2. dK, dV: a block owns a tile of keys and walks every query tile of its head,
//      accumulating dV += Pᵀ·dO and dK += dScᵀ·Q in registers.
//   3. dQ: a block owns a tile of queries and walks every key tile, dQ += dSc·K.
// Every output element is written by exactly one thread: no atomics, and the same bits on
// every run.
//
// Threads: 128 per block = 16 row groups × 8 lanes. Row group g holds the rows
// g·TM .. g·TM + TM − 1 of the block's own tile, and its lane c holds their dims c, c + 8,
// c + 16, ... (the output accumulators, in registers). In a score tile [own rows, streamed
// rows], lane c holds the columns c, c + 8, ...: a row's max and sum are shuffles across
// the 8 lanes of its group, which sit in one warp.
// Scores are kept in base 2: s₂ = scale·log₂e·q·k, p = 2^(s₂ − m₂) (one exp2f each).
// Shared tiles are f32 (f16/bf16 inputs convert on load; all arithmetic is f32). Tile rows
// of D values are padded by one float, so that lanes reading 8 different rows at the same
// d hit 8 different banks. Rows past L or S and dims past D load as zeros (they add
// nothing to a dot product), and the scores of keys past S are masked. The tile sizes,
// chosen per bound kMaxD ∈ {32, 64, 128} on D, keep every kernel within the 48 KiB of
// static shared memory (static_asserts below).
#include <algorithm>
#include <type_traits>

#include "cuda/attention.h"
#include "cuda/common.cuh"
#include "cuda/row_reduce.cuh"

namespace tv3s::cuda {
namespace {

constexpr int kGroupLanes = 8;   // lanes sharing one row of a score tile
constexpr int kRowGroups = 16;
constexpr int kBlockThreads = kGroupLanes * kRowGroups;  // 128
constexpr int kStaticSharedBytes = 48 * 1024;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Rows per tile: `kOwned` rows a block keeps for its whole life (its outputs), `kStreamed`
// rows it loads per step of its loop.
template <int kMaxD> struct ForwardTiles;  // own queries, stream keys/values
template <> struct ForwardTiles<32> { static constexpr int kOwned = 64, kStreamed = 64; };
template <> struct ForwardTiles<64> { static constexpr int kOwned = 64, kStreamed = 32; };
template <> struct ForwardTiles<128> { static constexpr int kOwned = 32, kStreamed = 16; };
// Both backward kernels hold four [rows, D] tiles, so smaller ones. dK/dV: own keys,
// stream queries; dQ: own queries, stream keys.
template <int kMaxD> struct BackwardTiles;
template <> struct BackwardTiles<32> { static constexpr int kOwned = 64, kStreamed = 32; };
template <> struct BackwardTiles<64> { static constexpr int kOwned = 32, kStreamed = 32; };
template <> struct BackwardTiles<128> { static constexpr int kOwned = 16, kStreamed = 16; };

// --- shared device pieces ------------------------------------------------------------------

// tile[r][d] = x[row0 + r][d] for one head: `head` points at its dim 0 of row 0, rows lie
// `row_stride` elements apart. Zero past `rows` and past D.
template <int kTileRows, int kMaxD, class T>
__device__ __forceinline__ void load_tile(float (*tile)[kMaxD + 1], const T* head,
                                          int64_t row_stride, int64_t row0, int64_t rows, int D) {
  for (int idx = threadIdx.x; idx < kTileRows * kMaxD; idx += kBlockThreads) {
    const int r = idx / kMaxD, d = idx % kMaxD;  // consecutive threads: consecutive dims
    const int64_t row = row0 + r;
    tile[r][d] = row < rows && d < D ? to_f32(head[row * row_stride + d]) : 0.f;
  }
}

// out[i][j] = Σ_d a[a_row + i][d] · b[b_row + j·8][d]: this thread's TM × TN dot products.
template <int TM, int TN, int kMaxD>
__device__ __forceinline__ void tile_dots(const float (*a)[kMaxD + 1], int a_row,
                                          const float (*b)[kMaxD + 1], int b_row,
                                          float (&out)[TM][TN]) {
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) out[i][j] = 0.f;
#pragma unroll 8
  for (int d = 0; d < kMaxD; ++d) {
    float a_d[TM], b_d[TN];
#pragma unroll
    for (int i = 0; i < TM; ++i) a_d[i] = a[a_row + i][d];
#pragma unroll
    for (int j = 0; j < TN; ++j) b_d[j] = b[b_row + j * kGroupLanes][d];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) out[i][j] = fmaf(a_d[i], b_d[j], out[i][j]);
  }
}

// acc[i][c] += Σ_j w[w_row + i][j] · x[j][lane + c·8], j over the kCols columns of w:
// this thread's TM rows × TD dims of a (weights · tile) product.
template <int TM, int TD, int kCols, int kMaxD>
__device__ __forceinline__ void accumulate_rows(const float (*w)[kCols + 1], int w_row,
                                                const float (*x)[kMaxD + 1], int lane,
                                                float (&acc)[TM][TD]) {
#pragma unroll 8
  for (int j = 0; j < kCols; ++j) {
    float w_j[TM];
#pragma unroll
    for (int i = 0; i < TM; ++i) w_j[i] = w[w_row + i][j];
#pragma unroll
    for (int c = 0; c < TD; ++c) {
      const float x_jc = x[j][lane + c * kGroupLanes];
#pragma unroll
      for (int i = 0; i < TM; ++i) acc[i][c] = fmaf(w_j[i], x_jc, acc[i][c]);
    }
  }
}

// Max / sum over the 8 lanes of a row group (every lane gets the result).
__device__ __forceinline__ float group_max(float v) {
#pragma unroll
  for (int offset = kGroupLanes / 2; offset > 0; offset /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, offset));
  return v;
}
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int offset = kGroupLanes / 2; offset > 0; offset /= 2)
    v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// Writes this thread's TM rows × TD dims of acc·mul to out (rows [row0, row0 + TM) of one
// head, `row_stride` apart), skipping rows past `rows` and dims past D.
template <int TM, int TD, class T>
__device__ __forceinline__ void store_rows(const float (&acc)[TM][TD], float mul, T* head,
                                           int64_t row_stride, int64_t row0, int64_t rows,
                                           int lane, int D) {
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t row = row0 + i;
    if (row >= rows) continue;
#pragma unroll
    for (int c = 0; c < TD; ++c) {
      const int d = lane + c * kGroupLanes;
      if (d < D) head[row * row_stride + d] = from_f32<T>(acc[i][c] * mul);
    }
  }
}

// The tile `tile` of a head's rows, numbered over (n, h, tile) by blockIdx.x: which image,
// head and first row this block owns. Consecutive blocks share (n, h), so the streamed
// rows of a head are read from L2.
struct BlockPlace {
  int64_t n, h, nh, row0;
};
__device__ __forceinline__ BlockPlace block_place(int64_t rows, int tile_rows, int H) {
  const int64_t tiles = (rows + tile_rows - 1) / tile_rows;
  const int64_t nh = int64_t(blockIdx.x) / tiles;
  return {nh / H, nh % H, nh, (int64_t(blockIdx.x) % tiles) * tile_rows};
}

// --- forward ---------------------------------------------------------------------------------

template <class T, int kMaxD>
__global__ void __launch_bounds__(kBlockThreads)
attention_forward_kernel(const T* q, const T* k, const T* v, int64_t L, int64_t S, int H, int D,
                         float scale_log2, T* o, float* lse) {
  constexpr int kQ = ForwardTiles<kMaxD>::kOwned, kK = ForwardTiles<kMaxD>::kStreamed;
  constexpr int TM = kQ / kRowGroups, TN = kK / kGroupLanes, TD = kMaxD / kGroupLanes;
  TV3S_SHARED(float, q_tile, [kQ][kMaxD + 1]);
  TV3S_SHARED(float, k_tile, [kK][kMaxD + 1]);
  TV3S_SHARED(float, v_tile, [kK][kMaxD + 1]);
  TV3S_SHARED(float, p_tile, [kQ][kK + 1]);
  static_assert(sizeof(q_tile) + sizeof(k_tile) + sizeof(v_tile) + sizeof(p_tile) <=
                kStaticSharedBytes, "attention forward: tiles exceed static shared memory");

  const BlockPlace place = block_place(L, kQ, H);
  const int64_t C = int64_t(H) * D;
  const T* q_head = q + place.n * L * C + place.h * D;
  const T* k_head = k + place.n * S * C + place.h * D;
  const T* v_head = v + place.n * S * C + place.h * D;
  const int lane = threadIdx.x % kGroupLanes, my_row = threadIdx.x / kGroupLanes * TM;

  load_tile<kQ, kMaxD>(q_tile, q_head, C, place.row0, L, D);
  float m[TM], l[TM], acc[TM][TD];
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    m[i] = -INFINITY;
    l[i] = 0.f;
#pragma unroll
    for (int c = 0; c < TD; ++c) acc[i][c] = 0.f;
  }

  for (int64_t s0 = 0; s0 < S; s0 += kK) {
    load_tile<kK, kMaxD>(k_tile, k_head, C, s0, S, D);
    load_tile<kK, kMaxD>(v_tile, v_head, C, s0, S, D);
    __syncthreads();  // (the first time, q_tile too)

    float s[TM][TN];
    tile_dots<TM, TN, kMaxD>(q_tile, my_row, k_tile, lane, s);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      float tile_max = -INFINITY;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const bool valid = s0 + lane + j * kGroupLanes < S;
        s[i][j] = valid ? s[i][j] * scale_log2 : -INFINITY;
        tile_max = fmaxf(tile_max, s[i][j]);
      }
      // Key s0 is always valid, so m_new is finite; the first tile rescales by 2^−∞ = 0.
      const float m_new = fmaxf(m[i], group_max(tile_max));
      const float rescale = exp2f(m[i] - m_new);
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const float p = exp2f(s[i][j] - m_new);  // masked: 2^−∞ = 0
        p_tile[my_row + i][lane + j * kGroupLanes] = p;
        sum += p;
      }
      l[i] = l[i] * rescale + group_sum(sum);
      m[i] = m_new;
#pragma unroll
      for (int c = 0; c < TD; ++c) acc[i][c] *= rescale;
    }
    __syncthreads();  // p_tile complete

    accumulate_rows<TM, TD, kK, kMaxD>(p_tile, my_row, v_tile, lane, acc);
    __syncthreads();  // k/v/p tiles free for the next step
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t row = place.row0 + my_row + i;
    if (row >= L) continue;
    const float inv_l = 1.f / l[i];
#pragma unroll
    for (int c = 0; c < TD; ++c) {
      const int d = lane + c * kGroupLanes;
      if (d < D) o[(place.n * L + row) * C + place.h * D + d] = from_f32<T>(acc[i][c] * inv_l);
    }
    if (lane == 0) lse[place.nh * L + row] = (m[i] + log2f(l[i])) * kLn2;
  }
}

// --- backward ---------------------------------------------------------------------------------

constexpr int kDeltaRowsPerBlock = 8;  // warps per block of the Δ kernel

// Δ[n, h, l] = Σ_d dO·O over the D dims of one head: a warp per (n, l, h) row. o and dout
// [N, L, H·D] are read as [N·L·H, D] rows.
template <class T>
__global__ void attention_delta_kernel(const T* o, const T* dout, int64_t rows, int64_t L, int H,
                                       int D, float* delta) {
  const int lane = threadIdx.x % kWarpSize;
  const int64_t first_row = int64_t(blockIdx.x) * kDeltaRowsPerBlock + threadIdx.x / kWarpSize;
  for (int64_t row = first_row; row < rows; row += int64_t(gridDim.x) * kDeltaRowsPerBlock) {
    float sum = 0.f;
    for (int d = lane; d < D; d += kWarpSize) sum += to_f32(o[row * D + d]) * to_f32(dout[row * D + d]);
    sum = warp_sum(sum);
    if (lane == 0) {
      const int64_t h = row % H, nl = row / H, n = nl / L, l = nl % L;
      delta[(n * H + h) * L + l] = sum;
    }
  }
}

// dK, dV of one tile of keys: walks all query tiles, recomputing P (from lse) and
// dSc = P ∘ (dO·Vᵀ − Δ) for its keys, transposed ([keys, queries]) so that each thread
// owns the key rows it accumulates:  dV += Pᵀ·dO,  dK += dScᵀ·Q  (× scale at the end).
template <class T, int kMaxD>
__global__ void __launch_bounds__(kBlockThreads)
attention_dkdv_kernel(const T* q, const T* k, const T* v, const T* dout, const float* lse,
                      const float* delta, int64_t L, int64_t S, int H, int D, float scale_log2,
                      float scale, T* dk, T* dv) {
  constexpr int kK = BackwardTiles<kMaxD>::kOwned, kQ = BackwardTiles<kMaxD>::kStreamed;
  constexpr int TK = kK / kRowGroups, TQ = kQ / kGroupLanes, TD = kMaxD / kGroupLanes;
  TV3S_SHARED(float, k_tile, [kK][kMaxD + 1]);
  TV3S_SHARED(float, v_tile, [kK][kMaxD + 1]);
  TV3S_SHARED(float, q_tile, [kQ][kMaxD + 1]);
  TV3S_SHARED(float, dout_tile, [kQ][kMaxD + 1]);
  TV3S_SHARED(float, p_tile, [kK][kQ + 1]);   // Pᵀ
  TV3S_SHARED(float, ds_tile, [kK][kQ + 1]);  // dScᵀ
  TV3S_SHARED(float, lse2_tile, [kQ]);        // lse·log₂e of the query tile
  TV3S_SHARED(float, delta_tile, [kQ]);
  static_assert(sizeof(k_tile) + sizeof(v_tile) + sizeof(q_tile) + sizeof(dout_tile) +
                sizeof(p_tile) + sizeof(ds_tile) + sizeof(lse2_tile) + sizeof(delta_tile) <=
                kStaticSharedBytes, "attention dK/dV: tiles exceed static shared memory");

  const BlockPlace place = block_place(S, kK, H);
  const int64_t C = int64_t(H) * D;
  const T* q_head = q + place.n * L * C + place.h * D;
  const T* dout_head = dout + place.n * L * C + place.h * D;
  const int lane = threadIdx.x % kGroupLanes, my_row = threadIdx.x / kGroupLanes * TK;

  load_tile<kK, kMaxD>(k_tile, k + place.n * S * C + place.h * D, C, place.row0, S, D);
  load_tile<kK, kMaxD>(v_tile, v + place.n * S * C + place.h * D, C, place.row0, S, D);
  float dk_acc[TK][TD], dv_acc[TK][TD];
#pragma unroll
  for (int i = 0; i < TK; ++i)
#pragma unroll
    for (int c = 0; c < TD; ++c) dk_acc[i][c] = dv_acc[i][c] = 0.f;

  for (int64_t l0 = 0; l0 < L; l0 += kQ) {
    load_tile<kQ, kMaxD>(q_tile, q_head, C, l0, L, D);
    load_tile<kQ, kMaxD>(dout_tile, dout_head, C, l0, L, D);
    for (int j = threadIdx.x; j < kQ; j += kBlockThreads) {
      const bool valid = l0 + j < L;
      lse2_tile[j] = valid ? lse[place.nh * L + l0 + j] * kLog2e : 0.f;
      delta_tile[j] = valid ? delta[place.nh * L + l0 + j] : 0.f;
    }
    __syncthreads();  // (the first time, k_tile and v_tile too)

    float s[TK][TQ], dp[TK][TQ];
    tile_dots<TK, TQ, kMaxD>(k_tile, my_row, q_tile, lane, s);     // (Q·Kᵀ)ᵀ
    tile_dots<TK, TQ, kMaxD>(v_tile, my_row, dout_tile, lane, dp);  // (dO·Vᵀ)ᵀ
#pragma unroll
    for (int i = 0; i < TK; ++i) {
      const bool key_valid = place.row0 + my_row + i < S;
#pragma unroll
      for (int j = 0; j < TQ; ++j) {
        const int qj = lane + j * kGroupLanes;
        const bool valid = key_valid && l0 + qj < L;
        const float p = valid ? exp2f(s[i][j] * scale_log2 - lse2_tile[qj]) : 0.f;
        p_tile[my_row + i][qj] = p;
        ds_tile[my_row + i][qj] = p * (dp[i][j] - delta_tile[qj]);
      }
    }
    __syncthreads();  // p_tile, ds_tile complete

    accumulate_rows<TK, TD, kQ, kMaxD>(p_tile, my_row, dout_tile, lane, dv_acc);
    accumulate_rows<TK, TD, kQ, kMaxD>(ds_tile, my_row, q_tile, lane, dk_acc);
    __syncthreads();  // query tiles free for the next step
  }

  const int64_t first_key = place.row0 + my_row;
  store_rows<TK, TD>(dk_acc, scale, dk + place.n * S * C + place.h * D, C, first_key, S, lane, D);
  store_rows<TK, TD>(dv_acc, 1.f, dv + place.n * S * C + place.h * D, C, first_key, S, lane, D);
}

// dQ of one tile of queries: walks all key tiles, recomputing P (from lse) and
// dSc = P ∘ (dO·Vᵀ − Δ):  dQ += dSc·K  (× scale at the end).
template <class T, int kMaxD>
__global__ void __launch_bounds__(kBlockThreads)
attention_dq_kernel(const T* q, const T* k, const T* v, const T* dout, const float* lse,
                    const float* delta, int64_t L, int64_t S, int H, int D, float scale_log2,
                    float scale, T* dq) {
  constexpr int kQ = BackwardTiles<kMaxD>::kOwned, kK = BackwardTiles<kMaxD>::kStreamed;
  constexpr int TM = kQ / kRowGroups, TN = kK / kGroupLanes, TD = kMaxD / kGroupLanes;
  TV3S_SHARED(float, q_tile, [kQ][kMaxD + 1]);
  TV3S_SHARED(float, dout_tile, [kQ][kMaxD + 1]);
  TV3S_SHARED(float, k_tile, [kK][kMaxD + 1]);
  TV3S_SHARED(float, v_tile, [kK][kMaxD + 1]);
  TV3S_SHARED(float, ds_tile, [kQ][kK + 1]);
  static_assert(sizeof(q_tile) + sizeof(dout_tile) + sizeof(k_tile) + sizeof(v_tile) +
                sizeof(ds_tile) <= kStaticSharedBytes,
                "attention dQ: tiles exceed static shared memory");

  const BlockPlace place = block_place(L, kQ, H);
  const int64_t C = int64_t(H) * D;
  const T* k_head = k + place.n * S * C + place.h * D;
  const T* v_head = v + place.n * S * C + place.h * D;
  const int lane = threadIdx.x % kGroupLanes, my_row = threadIdx.x / kGroupLanes * TM;

  load_tile<kQ, kMaxD>(q_tile, q + place.n * L * C + place.h * D, C, place.row0, L, D);
  load_tile<kQ, kMaxD>(dout_tile, dout + place.n * L * C + place.h * D, C, place.row0, L, D);
  float lse2[TM], row_delta[TM], dq_acc[TM][TD];
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int64_t row = place.row0 + my_row + i;
    lse2[i] = row < L ? lse[place.nh * L + row] * kLog2e : 0.f;
    row_delta[i] = row < L ? delta[place.nh * L + row] : 0.f;
#pragma unroll
    for (int c = 0; c < TD; ++c) dq_acc[i][c] = 0.f;
  }

  for (int64_t s0 = 0; s0 < S; s0 += kK) {
    load_tile<kK, kMaxD>(k_tile, k_head, C, s0, S, D);
    load_tile<kK, kMaxD>(v_tile, v_head, C, s0, S, D);
    __syncthreads();  // (the first time, q_tile and dout_tile too)

    float s[TM][TN], dp[TM][TN];
    tile_dots<TM, TN, kMaxD>(q_tile, my_row, k_tile, lane, s);
    tile_dots<TM, TN, kMaxD>(dout_tile, my_row, v_tile, lane, dp);
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int kj = lane + j * kGroupLanes;
        const float p = s0 + kj < S ? exp2f(s[i][j] * scale_log2 - lse2[i]) : 0.f;
        ds_tile[my_row + i][kj] = p * (dp[i][j] - row_delta[i]);
      }
    __syncthreads();  // ds_tile complete

    accumulate_rows<TM, TD, kK, kMaxD>(ds_tile, my_row, k_tile, lane, dq_acc);
    __syncthreads();  // key tiles free for the next step
  }

  store_rows<TM, TD>(dq_acc, scale, dq + place.n * L * C + place.h * D, C,
                     place.row0 + my_row, L, lane, D);
}

// --- launchers -----------------------------------------------------------------------------------

struct Geometry {
  int64_t N, L, S;
  int H, D;
};

Geometry geometry_of(const Tensor& q, const Tensor& k, int64_t heads) {
  const int64_t D = q.size(2) / heads;
  TV3S_CHECK(D >= 1 && D <= kAttentionMaxHeadDim, "attention: head size D = ", D,
             " is outside the CUDA kernels' range 1..", kAttentionMaxHeadDim);
  TV3S_CHECK(heads <= 65536, "attention: ", heads, " heads is too many for the CUDA kernels");
  return {q.size(0), q.size(1), k.size(1), int(heads), int(D)};
}

// Calls f(std::integral_constant<int, kMaxD>) with the smallest supported bound ≥ D.
template <class F>
void dispatch_head_dim(int D, F&& f) {
  if (D <= 32) f(std::integral_constant<int, 32>{});
  else if (D <= 64) f(std::integral_constant<int, 64>{});
  else f(std::integral_constant<int, 128>{});
}

// One block per tile of `rows` rows of every (n, h); the kernels do not loop, so the grid
// must hold them all.
unsigned tile_blocks(const Geometry& g, int64_t rows, int tile_rows, const char* op) {
  const int64_t blocks = g.N * g.H * ((rows + tile_rows - 1) / tile_rows);
  TV3S_CHECK(blocks >= 1 && blocks <= 0x7fffffff, op, ": ", blocks,
             " thread blocks do not fit the CUDA grid");
  return unsigned(blocks);
}

}  // namespace

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                       double scale, Tensor& o, Tensor& lse) {
  const Geometry g = geometry_of(q, k, heads);
  const float scale_log2 = float(scale * 1.4426950408889634);
  dispatch_float("attention", q, [&](auto tag) {
    using T = decltype(tag);
    dispatch_head_dim(g.D, [&](auto max_d) {
      constexpr int kMaxD = decltype(max_d)::value;
      const unsigned blocks = tile_blocks(g, g.L, ForwardTiles<kMaxD>::kOwned, "attention");
      launch<attention_forward_kernel<T, kMaxD>>(blocks, kBlockThreads, 0, stream(), ptr<T>(q),
                                                 ptr<T>(k), ptr<T>(v), g.L, g.S, g.H, g.D,
                                                 scale_log2, ptr<T>(o), ptr<float>(lse));
    });
  });
  check_launch("attention");
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                        const Tensor& lse, const Tensor& dout, int64_t heads, double scale,
                        Tensor& dq, Tensor& dk, Tensor& dv) {
  const Geometry g = geometry_of(q, k, heads);
  const float scale_log2 = float(scale * 1.4426950408889634);
  Tensor delta = Tensor::empty(Shape{g.N, g.H, g.L}, DType::f32, Device::CUDA);
  dispatch_float("attention backward", q, [&](auto tag) {
    using T = decltype(tag);
    const int64_t rows = g.N * g.L * g.H;
    const int64_t delta_blocks = std::min<int64_t>((rows + kDeltaRowsPerBlock - 1) / kDeltaRowsPerBlock,
                                                   65535 * 32);  // the kernel loops over the rest
    launch<attention_delta_kernel<T>>(unsigned(delta_blocks), kDeltaRowsPerBlock * kWarpSize, 0,
                                      stream(), ptr<T>(o), ptr<T>(dout), rows, g.L, g.H, g.D,
                                      ptr<float>(delta));
    dispatch_head_dim(g.D, [&](auto max_d) {
      constexpr int kMaxD = decltype(max_d)::value;
      constexpr int kOwned = BackwardTiles<kMaxD>::kOwned;
      launch<attention_dkdv_kernel<T, kMaxD>>(
          tile_blocks(g, g.S, kOwned, "attention backward"), kBlockThreads, 0, stream(), ptr<T>(q),
          ptr<T>(k), ptr<T>(v), ptr<T>(dout), ptr<float>(lse), ptr<float>(delta), g.L, g.S, g.H,
          g.D, scale_log2, float(scale), ptr<T>(dk), ptr<T>(dv));
      launch<attention_dq_kernel<T, kMaxD>>(
          tile_blocks(g, g.L, kOwned, "attention backward"), kBlockThreads, 0, stream(), ptr<T>(q),
          ptr<T>(k), ptr<T>(v), ptr<T>(dout), ptr<float>(lse), ptr<float>(delta), g.L, g.S, g.H,
          g.D, scale_log2, float(scale), ptr<T>(dq));
    });
  });
  check_launch("attention backward");
}

}  // namespace tv3s::cuda
