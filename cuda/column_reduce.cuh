// Deterministic column sums for the parameter gradients (dγ, dβ, dw, db) and batch
// statistics: total[c] = Σ_r term(r, c) over the rows of a [rows, columns] layout whose
// columns are the coalesced dimension (channels last).
//
// Two passes, no atomics:
//   1. partials: the rows are cut into chunks (column_chunks); a block of kColumnTile
//      columns × kRowLanes row lanes takes one chunk (grid (column tiles, chunks)). Each
//      thread adds its column's terms over every kRowLanes-th row of the chunk, in order;
//      then the lanes are added in order in shared memory (add_row_lanes), giving one
//      partial per (chunk, column). A warp reads 32 consecutive columns of a row.
//   2. finish: one thread per column adds the chunk partials in chunk order (sum_chunks),
//      then does what the op wants with the total.
// Every addition's order is fixed by the shape (the chunking, the lane striding, the chunk
// order), never by scheduling, so every run gives the same bits.
//
// column_partials runs pass 1 for an op whose term is one (row, column) element. A term
// is a functor with `using Sum = float;` (or float2: two sums side by side, e.g. Σdy and
// Σdy·x̂) and `__device__ void operator()(int64_t row, int64_t column, Sum& sum) const`
// that adds the element's term to sum. (It adds rather than returns the term so that
// `sum += a * b` stays one fused multiply-add under nvcc even where the term is
// conditional, as it is in depthwise_conv2d: a returned value would be selected first.)
// causal_conv1d computes all its taps per row in one thread, so it writes pass 1 itself
// with the same pieces; selective_scan's backward kernel writes its own partials and
// finishes with sum_chunks.
#pragma once
#include <algorithm>

#include "cuda/common.cuh"

namespace tv3s::cuda {

constexpr int kColumnTile = 32;  // threadIdx.x: consecutive columns (one warp)
constexpr int kRowLanes = 8;     // threadIdx.y
constexpr int64_t kMaxChunks = 256;

// Two sums carried side by side, added componentwise.
__device__ __forceinline__ float2& operator+=(float2& a, float2 b) {
  a.x += b.x;
  a.y += b.y;
  return a;
}

// The chunk rule: chunks of ≥ min_rows_per_lane · kRowLanes rows (8 per lane, 64 rows,
// unless the op asks for longer ones), at most kMaxChunks of them (so the finish adds
// at most 256 partials per column); with no rows, one chunk (of zeros).
struct ColumnChunks {
  int64_t count, rows_per_chunk;
};

inline ColumnChunks column_chunks(int64_t rows, int64_t min_rows_per_lane = 8) {
  const int64_t min_rows = min_rows_per_lane * kRowLanes;
  const int64_t count = std::clamp<int64_t>((rows + min_rows - 1) / min_rows, 1, kMaxChunks);
  return {count, std::max<int64_t>(1, (rows + count - 1) / count)};
}

// Rows [begin, end) of this block's chunk (blockIdx.y).
struct ChunkRows {
  int64_t begin, end;
};

__device__ __forceinline__ ChunkRows chunk_rows(int64_t rows, int64_t rows_per_chunk) {
  const int64_t begin = int64_t(blockIdx.y) * rows_per_chunk;
  return {begin, std::min(rows, begin + rows_per_chunk)};
}

// Column x's lanes, added in lane order (after the barrier that follows their writes).
template <class V>
__device__ __forceinline__ V add_row_lanes(const V (&lane_sum)[kRowLanes][kColumnTile], int x) {
  V total{};
  for (int lane = 0; lane < kRowLanes; ++lane) total += lane_sum[lane][x];
  return total;
}

// Pass 2: column c's partials ([chunks, columns]) added in chunk order.
template <class V>
__device__ __forceinline__ V sum_chunks(const V* partials, int64_t chunks, int64_t columns,
                                        int64_t c) {
  V total{};
  for (int64_t k = 0; k < chunks; ++k) total += partials[k * columns + c];
  return total;
}

// Pass 1 for a term of one (row, column) element. Block (kColumnTile, kRowLanes), grid
// (column tiles, chunks).
template <class Term, class V = typename Term::Sum>
__global__ void column_partials_kernel(Term term, int64_t rows, int64_t columns,
                                       int64_t rows_per_chunk, V* partials) {
  TV3S_SHARED(V, lane_sum, [kRowLanes][kColumnTile]);
  const int64_t c = int64_t(blockIdx.x) * kColumnTile + threadIdx.x;
  const ChunkRows chunk = chunk_rows(rows, rows_per_chunk);
  V sum{};
  if (c < columns)
    for (int64_t r = chunk.begin + threadIdx.y; r < chunk.end; r += kRowLanes) term(r, c, sum);
  lane_sum[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && c < columns)
    partials[int64_t(blockIdx.y) * columns + c] = add_row_lanes(lane_sum, threadIdx.x);
}

// Pass 1's output: [chunks, columns] values of the term's type, for sum_chunks.
struct ColumnPartials {
  Tensor data;  // f32, [chunks, columns] or [chunks, columns, 2] for float2
  int64_t chunks;
};

template <class Term>
ColumnPartials column_partials(const Term& term, int64_t rows, int64_t columns,
                               int64_t min_rows_per_lane = 8) {
  using V = typename Term::Sum;
  constexpr int64_t floats = sizeof(V) / sizeof(float);
  const ColumnChunks chunks = column_chunks(rows, min_rows_per_lane);
  const Shape shape =
      floats == 1 ? Shape{chunks.count, columns} : Shape{chunks.count, columns, floats};
  ColumnPartials out{Tensor::empty(shape, DType::f32, Device::CUDA), chunks.count};
  const int64_t tiles = (columns + kColumnTile - 1) / kColumnTile;
  TV3S_CHECK(tiles <= 0x7fffffff, "column_partials: too many columns on CUDA: ", columns);
  if (tiles == 0) return out;
  launch<column_partials_kernel<Term, V>>(dim3(unsigned(tiles), unsigned(chunks.count)),
                                          dim3(kColumnTile, kRowLanes), 0, stream(), term, rows,
                                          columns, chunks.rows_per_chunk, ptr<V>(out.data));
  return out;
}

}  // namespace tv3s::cuda
