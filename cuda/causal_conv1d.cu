// Causal depthwise 1-D convolution with a carried state on the GPU, forward and backward
// (the math is in src/ops/causal_conv1d.cpp). Sequences are channels-last, so channels are
// the coalesced dimension everywhere: a block is 32 consecutive channels × 8 row lanes
// (one warp per sequence position), the grid (channel tiles, position blocks, sequences),
// so no thread divides to find its (b, t).
//  - forward: each thread loads its channel's K taps and bias into registers once, then
//    computes one output element for every position t it visits in a grid-stride loop
//    (the grid gives each thread about 4): K loads of x̂ = [initial_state ; x], read
//    coalesced (neighbouring row lanes read the same rows: cache hits), one store.
//    final_state (K − 1 rows per sequence) is a separate small copy, one thread per element.
//  - backward of y: (1) g = dL/dpre into an f32 buffer, elementwise, pre recomputed like the
//    forward; (2) dx̂ (rows of dinitial_state, then of dx) gathered like the forward, one
//    thread per element: Σ_k w[k] · g[j − k]; (3) dw, db: the deterministic two-pass column
//    sum of column_reduce.cuh over the (b, t) rows, a column per (tap or bias, channel);
//    each thread sums all K + 1 columns of its channel at once (the sums live in
//    registers).
//  - backward of final_state: a scatter of its K − 1 rows into zero-filled dx/dinitial_state.
// Storage f32/f16/bf16; arithmetic in f32.
#include <algorithm>

#include "cuda/causal_conv1d.h"
#include "cuda/column_reduce.cuh"
#include "cuda/common.cuh"
#include "cuda/scalar_math.cuh"

namespace tv3s::cuda {
namespace {

// Blocks are column_reduce.cuh's: kColumnTile consecutive channels (threadIdx.x, one
// warp) × kRowLanes row lanes (threadIdx.y).
constexpr int kChannelTile = kColumnTile;
constexpr int kRowsPerLane = 4;   // positions per thread the sequence grids are sized for
constexpr int kMaxTaps = int(kCausalConv1dMaxTaps);

struct Dims {
  int64_t B, L, D;
  int K;
  __host__ __device__ int64_t state_rows() const { return K - 1; }
  __host__ __device__ int64_t padded_rows() const { return K - 1 + L; }  // rows of x̂
};

Dims dims_of(const Tensor& x, const Tensor& weight) {
  return {x.size(0), x.size(1), x.size(2), int(weight.size(2))};
}

// x̂[b, j, d]: row j of [initial_state ; x] (0 where the state is the zero state).
template <class T>
__device__ __forceinline__ float padded_input(const T* x, const T* initial, const Dims& s,
                                              int64_t b, int64_t j, int64_t d) {
  if (j >= s.state_rows()) return to_f32(x[(b * s.L + j - s.state_rows()) * s.D + d]);
  return initial ? to_f32(initial[(b * s.state_rows() + j) * s.D + d]) : 0.f;
}

// Channel d's taps in registers (entries ≥ K are 0 and never used).
template <class T>
__device__ __forceinline__ void load_taps(const T* weight, int64_t d, int K,
                                          float (&w)[kMaxTaps]) {
#pragma unroll
  for (int k = 0; k < kMaxTaps; ++k) w[k] = k < K ? to_f32(weight[d * K + k]) : 0.f;
}

// pre[b, t, d] = bias + Σ_k w[k] · x̂[b, t + k, d].
template <class T>
__device__ __forceinline__ float conv_at(const T* x, const T* initial, const Dims& s,
                                         const float (&w)[kMaxTaps], float bias, int64_t b,
                                         int64_t t, int64_t d) {
  float sum = bias;
#pragma unroll
  for (int k = 0; k < kMaxTaps; ++k)
    if (k < s.K) sum += w[k] * padded_input(x, initial, s, b, t + k, d);
  return sum;
}

// The loops of the (channel tile, position block, sequence) grids: every sequence b of the
// kernel's Dims `s`, and in it every position t in [0, length), each visited by one row
// lane of one block.
#define TV3S_SEQUENCE_LOOP(b, t, length)                                                 \
  for (int64_t b = blockIdx.z; b < s.B; b += gridDim.z)                                 \
    for (int64_t t = int64_t(blockIdx.y) * kRowLanes + threadIdx.y; t < (length);        \
         t += int64_t(gridDim.y) * kRowLanes)

template <class T>
__global__ void conv_forward_kernel(const T* x, const T* weight, const T* bias,
                                    const T* initial, Dims s, bool silu, T* y) {
  const int64_t d = int64_t(blockIdx.x) * kChannelTile + threadIdx.x;
  if (d >= s.D) return;  // no barrier below
  float w[kMaxTaps];
  load_taps(weight, d, s.K, w);
  const float b0 = bias ? to_f32(bias[d]) : 0.f;
  TV3S_SEQUENCE_LOOP(b, t, s.L) {
    const float pre = conv_at(x, initial, s, w, b0, b, t, d);
    y[(b * s.L + t) * s.D + d] = from_f32<T>(silu ? cuda::silu(pre) : pre);
  }
}

// final_state[b, i, d] = x̂[b, L + i, d]; one thread per element.
template <class T>
__global__ void final_state_kernel(const T* x, const T* initial, Dims s, T* final_state) {
  TV3S_GRID_STRIDE(i, s.B * s.state_rows() * s.D) {
    const int64_t d = i % s.D, row = i / s.D;
    const int64_t b = row / s.state_rows(), r = row - b * s.state_rows();
    final_state[i] = from_f32<T>(padded_input(x, initial, s, b, s.L + r, d));
  }
}

// g = dL/dpre = dy · σ(pre) · (1 + pre · (1 − σ(pre))) under SiLU, else dy.
template <class T>
__global__ void conv_output_grad_kernel(const T* x, const T* weight, const T* bias,
                                        const T* initial, Dims s, bool silu, const T* dy,
                                        float* g) {
  const int64_t d = int64_t(blockIdx.x) * kChannelTile + threadIdx.x;
  if (d >= s.D) return;
  float w[kMaxTaps];
  load_taps(weight, d, s.K, w);
  const float b0 = bias ? to_f32(bias[d]) : 0.f;
  TV3S_SEQUENCE_LOOP(b, t, s.L) {
    const int64_t i = (b * s.L + t) * s.D + d;
    const float upstream = to_f32(dy[i]);
    if (!silu) {
      g[i] = upstream;
      continue;
    }
    const float pre = conv_at(x, initial, s, w, b0, b, t, d);
    // dy · silu_grad(pre), multiplied as (dy · σ) · (1 + pre · (1 − σ)): this kernel's
    // rounding order, kept so its results stay the same bits.
    const float sig = sigmoid(pre);
    g[i] = upstream * sig * (1.f + pre * (1.f - sig));
  }
}

// dx̂[b, j, d] = Σ_{k, 0 ≤ j−k < L} w[k] · g[b, j − k, d]: rows j < K − 1 go to dinitial,
// the others to dx (each skipped when null).
template <class T>
__global__ void conv_input_grad_kernel(const T* weight, const float* g, Dims s, T* dx,
                                       T* dinitial) {
  const int64_t d = int64_t(blockIdx.x) * kChannelTile + threadIdx.x;
  if (d >= s.D) return;
  float w[kMaxTaps];
  load_taps(weight, d, s.K, w);
  TV3S_SEQUENCE_LOOP(b, j, s.padded_rows()) {
    T* out;
    if (j < s.state_rows()) {
      if (!dinitial) continue;
      out = dinitial + (b * s.state_rows() + j) * s.D;
    } else {
      if (!dx) continue;
      out = dx + (b * s.L + j - s.state_rows()) * s.D;
    }
    float sum = 0.f;
#pragma unroll
    for (int k = 0; k < kMaxTaps; ++k) {
      const int64_t t = j - k;
      if (k < s.K && t >= 0 && t < s.L) sum += w[k] * g[(b * s.L + t) * s.D + d];
    }
    out[d] = from_f32<T>(sum);
  }
}

// dw/db pass 1: column_reduce.cuh's column sums, the columns (tap or bias, channel), written
// out here so that one thread takes all K + 1 columns of its channel: it loads g once per
// row and keeps the K + 1 sums in registers (a thread per column would load g K + 1 times).
// partial [chunks, K + 1, D]: slots 0..K−1 the taps, slot K the bias.
template <class T>
__global__ void conv_param_partials(const T* x, const T* initial, const float* g, Dims s,
                                    int64_t rows_per_chunk, float* partial) {
  TV3S_SHARED(float, lane_sum, [kMaxTaps + 1][kRowLanes][kChannelTile]);  // slot kMaxTaps: bias
  const int64_t d = int64_t(blockIdx.x) * kChannelTile + threadIdx.x;
  const ChunkRows chunk = chunk_rows(s.B * s.L, rows_per_chunk);
  float sum_w[kMaxTaps] = {};
  float sum_b = 0.f;
  if (d < s.D && chunk.begin + threadIdx.y < chunk.end) {
    // (b, t) of the row, advanced with the row (one division per thread, not per row).
    int64_t b = (chunk.begin + threadIdx.y) / s.L, t = (chunk.begin + threadIdx.y) % s.L;
    for (int64_t row = chunk.begin + threadIdx.y; row < chunk.end; row += kRowLanes) {
      const float gv = g[row * s.D + d];
      sum_b += gv;
#pragma unroll
      for (int k = 0; k < kMaxTaps; ++k)
        if (k < s.K) sum_w[k] += gv * padded_input(x, initial, s, b, t + k, d);
      for (t += kRowLanes; t >= s.L; t -= s.L) ++b;
    }
  }
#pragma unroll
  for (int k = 0; k < kMaxTaps; ++k) lane_sum[k][threadIdx.y][threadIdx.x] = sum_w[k];
  lane_sum[kMaxTaps][threadIdx.y][threadIdx.x] = sum_b;
  __syncthreads();
  if (d >= s.D) return;
  // Warp y finishes slots y, y + 8, ... (K + 1 ≤ 9 slots).
  for (int k = threadIdx.y; k <= s.K; k += kRowLanes) {
    const int slot = k < s.K ? k : kMaxTaps;
    partial[(int64_t(blockIdx.y) * (s.K + 1) + k) * s.D + d] =
        add_row_lanes(lane_sum[slot], threadIdx.x);
  }
}

// dw/db pass 2: one thread per (slot, channel) adds the chunk partials in order.
template <class T>
__global__ void conv_param_finish(const float* partial, int64_t chunks, int K, int64_t D,
                                  T* dweight, T* dbias) {
  const int64_t columns = int64_t(K + 1) * D;
  TV3S_GRID_STRIDE(i, columns) {
    const int k = int(i / D);
    const int64_t d = i - int64_t(k) * D;
    const float total = sum_chunks(partial, chunks, columns, i);
    if (k < K) {
      if (dweight) dweight[d * K + k] = from_f32<T>(total);
    } else if (dbias) {
      dbias[d] = from_f32<T>(total);
    }
  }
}

// dx[b, L − (K−1) + i] = ds[b, i] where that row is in x, else dinitial[b, L + i] = ds[b, i].
template <class T>
__global__ void state_backward_kernel(const T* dstate, Dims s, T* dx, T* dinitial) {
  TV3S_GRID_STRIDE(i, s.B * s.state_rows() * s.D) {
    const int64_t d = i % s.D, row = i / s.D;
    const int64_t b = row / s.state_rows(), j = s.L + (row - b * s.state_rows());  // row of x̂
    if (j >= s.state_rows()) {
      if (dx) dx[(b * s.L + j - s.state_rows()) * s.D + d] = dstate[i];
    } else if (dinitial) {
      dinitial[(b * s.state_rows() + j) * s.D + d] = dstate[i];
    }
  }
}

unsigned channel_tiles(const char* op, int64_t D) {
  const int64_t tiles = (D + kChannelTile - 1) / kChannelTile;
  TV3S_CHECK(tiles <= 65535, op, ": at most ", 65535 * kChannelTile, " channels on CUDA, got ", D);
  return unsigned(tiles);
}

// (channel tiles, position blocks, sequences) for B sequences of `length` positions of D
// channels; the kernels loop over what the grid does not cover.
dim3 sequence_grid(const char* op, int64_t D, int64_t B, int64_t length) {
  const int64_t per_block = int64_t(kRowLanes) * kRowsPerLane;
  const int64_t position_blocks = std::clamp<int64_t>((length + per_block - 1) / per_block, 1, 65535);
  return dim3(channel_tiles(op, D), unsigned(position_blocks),
              unsigned(std::clamp<int64_t>(B, 1, 65535)));
}

const dim3 kBlock(kChannelTile, kRowLanes);

}  // namespace

void causal_conv1d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                           const Tensor& initial_state, bool silu, Tensor& y,
                           Tensor& final_state) {
  const Dims s = dims_of(x, weight);
  TV3S_CHECK(s.K >= 1 && s.K <= kMaxTaps, "causal_conv1d: the CUDA kernels take 1 ≤ K ≤ ",
             kMaxTaps, ", got weight ", weight.desc());
  if (s.D == 0) return;
  dispatch_float("causal_conv1d", x, [&](auto tag) {
    using T = decltype(tag);
    if (s.B * s.L > 0) {
      launch<conv_forward_kernel<T>>(sequence_grid("causal_conv1d", s.D, s.B, s.L), kBlock, 0,
                                     stream(), ptr<T>(x), ptr<T>(weight), ptr_or_null<T>(bias),
                                     ptr_or_null<T>(initial_state), s, silu, ptr<T>(y));
      check_launch("causal_conv1d");
    }
    if (final_state.numel() > 0) {
      launch<final_state_kernel<T>>(blocks_for(final_state.numel()), kThreads, 0, stream(),
                                    ptr<T>(x), ptr_or_null<T>(initial_state), s,
                                    ptr<T>(final_state));
      check_launch("causal_conv1d (final_state)");
    }
  });
}

void causal_conv1d_backward(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Tensor& initial_state, bool silu, const Tensor& dy, Tensor& dx,
                            Tensor& dweight, Tensor& dbias, Tensor& dinitial_state) {
  const Dims s = dims_of(x, weight);
  TV3S_CHECK(s.K >= 1 && s.K <= kMaxTaps, "causal_conv1d backward: the CUDA kernels take 1 ≤ K ≤ ",
             kMaxTaps, ", got weight ", weight.desc());
  if (s.D == 0) return;  // every gradient is empty
  const int64_t rows = s.B * s.L;
  Tensor g = Tensor::empty(Shape{s.B, s.L, s.D}, DType::f32, Device::CUDA);
  dispatch_float("causal_conv1d backward", x, [&](auto tag) {
    using T = decltype(tag);
    if (rows > 0) {
      launch<conv_output_grad_kernel<T>>(sequence_grid("causal_conv1d backward", s.D, s.B, s.L),
                                         kBlock, 0, stream(), ptr<T>(x), ptr<T>(weight),
                                         ptr_or_null<T>(bias), ptr_or_null<T>(initial_state), s,
                                         silu, ptr<T>(dy), ptr<float>(g));
      check_launch("causal_conv1d backward (output grad)");
    }
    if ((dx.defined() || dinitial_state.defined()) && s.B * s.padded_rows() > 0) {
      launch<conv_input_grad_kernel<T>>(
          sequence_grid("causal_conv1d backward", s.D, s.B, s.padded_rows()), kBlock, 0, stream(),
          ptr<T>(weight), ptr<float>(g), s, ptr_or_null<T>(dx), ptr_or_null<T>(dinitial_state));
      check_launch("causal_conv1d backward (input grad)");
    }
    if (dweight.defined() || dbias.defined()) {
      // Chunks of ≥ 32 rows per lane (256); with no rows, one chunk of zeros, so dweight
      // and dbias come out 0.
      const ColumnChunks chunks = column_chunks(rows, 32);
      Tensor partial = Tensor::empty(Shape{chunks.count, s.K + 1, s.D}, DType::f32, Device::CUDA);
      const dim3 grid(channel_tiles("causal_conv1d backward", s.D), unsigned(chunks.count));
      launch<conv_param_partials<T>>(grid, kBlock, 0, stream(), ptr<T>(x),
                                     ptr_or_null<T>(initial_state), ptr<float>(g), s,
                                     chunks.rows_per_chunk, ptr<float>(partial));
      check_launch("causal_conv1d backward (partials)");
      launch<conv_param_finish<T>>(blocks_for(int64_t(s.K + 1) * s.D), kThreads, 0, stream(),
                                   ptr<float>(partial), chunks.count, s.K, s.D,
                                   ptr_or_null<T>(dweight), ptr_or_null<T>(dbias));
      check_launch("causal_conv1d backward (finish)");
    }
  });
}

void causal_conv1d_state_backward(const Tensor& dstate, int64_t L, Tensor& dx,
                                  Tensor& dinitial_state) {
  if (dstate.numel() == 0) return;
  const Dims s{dstate.size(0), L, dstate.size(2), int(dstate.size(1) + 1)};
  dispatch_float("causal_conv1d backward", dstate, [&](auto tag) {
    using T = decltype(tag);
    launch<state_backward_kernel<T>>(blocks_for(dstate.numel()), kThreads, 0, stream(),
                                     ptr<T>(dstate), s, ptr_or_null<T>(dx),
                                     ptr_or_null<T>(dinitial_state));
  });
  check_launch("causal_conv1d backward (final_state)");
}

}  // namespace tv3s::cuda
