// The fast CPU attention: what attention_reference_* (src/ops/attention.cpp, where the
// math is) computes, through the packed GEMM and a vectorised softmax.
//
// No head is ever copied. Head h of q is the matrix at q + h·D whose rows lie H·D
// apart, so gemm_cpu reads (and, for o, dq, dk, dv, writes) it in place. The queries of
// one (n, h) are cut into blocks of kQueryBlock rows; a block's scores [rows, S] live in a
// per-thread buffer, so memory is O(threads·kQueryBlock·S), never O(L·S). The blocks of
// all (n, h) run in parallel (parallel_for); gemm_cpu sees that it is inside a parallel
// region and stays on its calling thread, so there is one level of threads, not two.
// The backward sums dK and dV over all query blocks of a head. To parallelise that
// without atomics, each head's blocks are grouped into chunks (their number depends on
// the shape only), each chunk accumulates its own partial dK, dV, and the partials are
// then added in chunk order: the result does not depend on the number of threads.
// Precision: f32 for f32 input (row sums and Δ finished in f64; exponentials by a vectorised
// polynomial, ≤ 2 ulp), f64 for f64 (std::exp).
#include "src/ops/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/core/dispatch.h"
#include "src/core/parallel.h"
#include "src/ops/cpu/scratch.h"
#include "src/ops/cpu/simd.h"
#include "tv3s/ops/matmul.h"

namespace tv3s::cpu {
namespace {

struct AttentionDims {
  int64_t N, L, S, H, D;
  int64_t channels() const { return H * D; }
};

// Queries per block: 128 rows of scores (200 KiB in f32 for S = 390) stay in L2 between
// the softmax and the P·V product, and gemm_cpu's per-call packing of K or V (S·D values)
// is < 1% of a block's S·D·128 multiply-adds.
constexpr int64_t kQueryBlock = 128;
// Problems smaller than this many multiply-adds (L·S·D over all heads) stay on one thread.
constexpr int64_t kMinParallelWork = int64_t(1) << 17;

int64_t query_blocks(const AttentionDims& d) { return (d.L + kQueryBlock - 1) / kQueryBlock; }

bool worth_threads(const AttentionDims& d, int64_t tasks) {
  return tasks > 1 && d.N * d.H * d.L * d.S * d.D > kMinParallelWork;
}

// --- the softmax row loops --------------------------------------------------------------
// std::exp is a scalar library call and took half of the f32 forward, so the f32 rows go
// through simd::exp8 (src/ops/cpu/simd.h): 8 floats at once, ≤ 2 ulp.
using simd::exp8;
using simd::f32x8;

// row[i] = e^(row[i] − shift) for i < n.
void exp_shifted(float* row, int64_t n, float shift) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    f32x8 x;
    std::memcpy(&x, row + i, sizeof x);
    x = exp8(x - shift);
    std::memcpy(row + i, &x, sizeof x);
  }
  if (i < n) {  // the last n mod 8 values, in a zero-padded vector
    f32x8 x{};
    std::memcpy(&x, row + i, size_t(n - i) * sizeof(float));
    x = exp8(x - shift);
    std::memcpy(row + i, &x, size_t(n - i) * sizeof(float));
  }
}
// f64 (the checking precision) keeps the library's exp.
void exp_shifted(double* row, int64_t n, double shift) {
  for (int64_t i = 0; i < n; ++i) row[i] = std::exp(row[i] - shift);
}

// The reductions keep eight running partial results, so that consecutive steps do not
// wait on one another (a single running sum or max is one long dependency chain).
template <class T>
T max_of(const T* x, int64_t n) {
  T lanes[8];
  std::fill(lanes, lanes + 8, x[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) lanes[u] = std::max(lanes[u], x[i + u]);
  T m = *std::max_element(lanes, lanes + 8);
  for (; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// Σ x[i]: partial sums in T (vectorised), finished in f64.
template <class T>
double sum_of(const T* x, int64_t n) {
  T lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) lanes[u] += x[i + u];
  double total = 0;
  for (int u = 0; u < 8; ++u) total += double(lanes[u]);
  for (; i < n; ++i) total += double(x[i]);
  return total;
}

// Σ x[i]·y[i]: partial sums in T, finished in f64.
template <class T>
double dot_of(const T* x, const T* y, int64_t n) {
  T lanes[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int u = 0; u < 8; ++u) lanes[u] += x[i + u] * y[i + u];
  double total = 0;
  for (int u = 0; u < 8; ++u) total += double(lanes[u]);
  for (; i < n; ++i) total += double(x[i]) * double(y[i]);
  return total;
}

// Scratch of at least n values, one per thread, kept between calls (no allocation in the
// steady state of a frame loop).
template <class T>
T* thread_scratch(size_t n) {
  thread_local ScratchVector<T> buffer;
  buffer.resize(n);
  return buffer.data();
}

// The [rows, D] matrix of head h starting at query/key row `row` of image n, in a tensor
// [N, rows_per_image, H·D]: rows lie H·D apart.
template <class T>
T* head_rows(T* x, const AttentionDims& d, int64_t rows_per_image, int64_t n, int64_t h,
             int64_t row) {
  return x + (n * rows_per_image + row) * d.channels() + h * d.D;
}

// --- forward -------------------------------------------------------------------------------

template <class T>
void attention_forward_cpu(const T* q, const T* k, const T* v, const AttentionDims& d, T scale,
                           T* o, T* lse) {
  const int64_t C = d.channels(), blocks = query_blocks(d), tasks = d.N * d.H * blocks;
  parallel_for(tasks, worth_threads(d, tasks), [&](int64_t task) {
    const int64_t nh = task / blocks, n = nh / d.H, h = nh % d.H;
    const int64_t l0 = (task % blocks) * kQueryBlock, rows = std::min(kQueryBlock, d.L - l0);
    const T* q_block = head_rows(q, d, d.L, n, h, l0);
    const T* k_head = head_rows(k, d, d.S, n, h, 0);
    const T* v_head = head_rows(v, d, d.S, n, h, 0);
    T* scores = thread_scratch<T>(size_t(rows * d.S));
    gemm_cpu(false, true, rows, d.S, d.D, scale, q_block, C, k_head, C, T(0), scores, d.S);
    for (int64_t r = 0; r < rows; ++r) {
      T* row = scores + r * d.S;
      const T m = max_of(row, d.S);
      exp_shifted(row, d.S, m);
      const double sum = sum_of(row, d.S);
      const T inv_sum = T(1.0 / sum);
      for (int64_t s = 0; s < d.S; ++s) row[s] *= inv_sum;
      lse[nh * d.L + l0 + r] = T(double(m) + std::log(sum));
    }
    gemm_cpu(false, false, rows, d.D, d.S, T(1), scores, d.S, v_head, C, T(0),
             head_rows(o, d, d.L, n, h, l0), C);
  });
}

// --- backward ------------------------------------------------------------------------------

// Chunks of query blocks per head whose dK, dV partials are summed afterwards: enough
// tasks over all heads (~32) to keep every thread busy, and no more (each chunk costs a
// [2, S, D] partial). A function of the shape only, so the sums are reproducible.
int64_t chunks_per_head(const AttentionDims& d) {
  const int64_t heads = std::max<int64_t>(1, d.N * d.H);
  return std::clamp<int64_t>((32 + heads - 1) / heads, 1, query_blocks(d));
}

template <class T>
void attention_backward_cpu(const T* q, const T* k, const T* v, const T* o, const T* lse,
                            const T* dout, const AttentionDims& d, T scale, T* dq, T* dk, T* dv) {
  const int64_t C = d.channels(), blocks = query_blocks(d);
  const int64_t blocks_per_chunk = (blocks + chunks_per_head(d) - 1) / chunks_per_head(d);
  const int64_t chunks = (blocks + blocks_per_chunk - 1) / blocks_per_chunk;
  // With one chunk per head, dK and dV are written in place; otherwise chunk c of head
  // nh owns partial[(nh·chunks + c)·2·S·D ...]: its dK [S, D], then its dV [S, D].
  const bool in_place = chunks == 1;
  const Tensor partial = in_place ? Tensor()
                                  : Tensor::empty(Shape{d.N * d.H * chunks, 2, d.S, d.D},
                                                  DTypeOf<T>::value);
  const int64_t tasks = d.N * d.H * chunks;

  parallel_for(tasks, worth_threads(d, tasks), [&](int64_t task) {
    const int64_t nh = task / chunks, n = nh / d.H, h = nh % d.H;
    const T* k_head = head_rows(k, d, d.S, n, h, 0);
    const T* v_head = head_rows(v, d, d.S, n, h, 0);
    T* dk_out = in_place ? head_rows(dk, d, d.S, n, h, 0) : partial.data<T>() + task * 2 * d.S * d.D;
    T* dv_out = in_place ? head_rows(dv, d, d.S, n, h, 0) : dk_out + d.S * d.D;
    const int64_t ld_out = in_place ? C : d.D;
    const int64_t first = (task % chunks) * blocks_per_chunk;
    const int64_t last = std::min(blocks, first + blocks_per_chunk);
    for (int64_t block = first; block < last; ++block) {
      const int64_t l0 = block * kQueryBlock, rows = std::min(kQueryBlock, d.L - l0);
      const T* q_block = head_rows(q, d, d.L, n, h, l0);
      const T* o_block = head_rows(o, d, d.L, n, h, l0);
      const T* dout_block = head_rows(dout, d, d.L, n, h, l0);
      T* p = thread_scratch<T>(size_t(2 * rows * d.S));
      T* dscores = p + rows * d.S;  // dP, then dSc in place
      gemm_cpu(false, true, rows, d.S, d.D, scale, q_block, C, k_head, C, T(0), p, d.S);
      gemm_cpu(false, true, rows, d.S, d.D, T(1), dout_block, C, v_head, C, T(0), dscores, d.S);
      for (int64_t r = 0; r < rows; ++r) {
        const T delta = T(dot_of(dout_block + r * C, o_block + r * C, d.D));  // Δ = rowsum(dO ∘ O)
        const T row_lse = lse[nh * d.L + l0 + r];
        T* p_row = p + r * d.S;
        T* ds_row = dscores + r * d.S;
        exp_shifted(p_row, d.S, row_lse);
        for (int64_t s = 0; s < d.S; ++s) ds_row[s] = p_row[s] * (ds_row[s] - delta);
      }
      // The first block of the chunk overwrites the outputs, later ones add onto them.
      const T beta = block == first ? T(0) : T(1);
      gemm_cpu(true, false, d.S, d.D, rows, T(1), p, d.S, dout_block, C, beta, dv_out, ld_out);
      gemm_cpu(true, false, d.S, d.D, rows, scale, dscores, d.S, q_block, C, beta, dk_out, ld_out);
      gemm_cpu(false, false, rows, d.D, d.S, scale, dscores, d.S, k_head, C, T(0),
               head_rows(dq, d, d.L, n, h, l0), C);
    }
  });
  if (in_place) return;

  // dK, dV of each (n, h, key) row: the chunk partials added in chunk order.
  const int64_t key_rows = d.N * d.H * d.S;
  parallel_for(key_rows, key_rows * chunks * d.D > kMinParallelWork, [&](int64_t row) {
    const int64_t nh = row / d.S, s = row % d.S, n = nh / d.H, h = nh % d.H;
    T* dk_row = head_rows(dk, d, d.S, n, h, s);
    T* dv_row = head_rows(dv, d, d.S, n, h, s);
    std::fill(dk_row, dk_row + d.D, T(0));
    std::fill(dv_row, dv_row + d.D, T(0));
    for (int64_t c = 0; c < chunks; ++c) {
      const T* dk_part = partial.data<T>() + (nh * chunks + c) * 2 * d.S * d.D + s * d.D;
      const T* dv_part = dk_part + d.S * d.D;
      for (int64_t i = 0; i < d.D; ++i) {
        dk_row[i] += dk_part[i];
        dv_row[i] += dv_part[i];
      }
    }
  });
}

}  // namespace

void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                       double scale, Tensor& o, Tensor& lse) {
  const AttentionDims d{q.size(0), q.size(1), k.size(1), heads, q.size(2) / heads};
  dispatch_cpu_float("attention", q, [&](auto tag) {
    using T = decltype(tag);
    attention_forward_cpu(q.data<T>(), k.data<T>(), v.data<T>(), d, T(scale), o.data<T>(),
                          lse.data<T>());
  });
}

void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& o,
                        const Tensor& lse, const Tensor& dout, int64_t heads, double scale,
                        Tensor& dq, Tensor& dk, Tensor& dv) {
  const AttentionDims d{q.size(0), q.size(1), k.size(1), heads, q.size(2) / heads};
  dispatch_cpu_float("attention backward", q, [&](auto tag) {
    using T = decltype(tag);
    attention_backward_cpu(q.data<T>(), k.data<T>(), v.data<T>(), o.data<T>(), lse.data<T>(),
                           dout.data<T>(), d, T(scale), dq.data<T>(), dk.data<T>(), dv.data<T>());
  });
}

}  // namespace tv3s::cpu
