// The fast CPU GEMM behind matmul, linear and attention — the BLIS/GotoBLAS scheme, in
// plain C++. It computes what gemm_reference (src/ops/matmul.cpp) computes:
//
//   C[i][j] = alpha · Σ_k op(A)[i][k] · op(B)[k][j] + beta · C[i][j]
//
//   for each column block of C (NC wide)         B block  KC×NC  packed, lives in L3
//     for each depth block (KC deep)
//       pack op(B)[KC×NC] into NR-column micro-panels
//       for each row block of C (MC tall)        A block  MC×KC  packed, lives in L2
//         pack op(A)[MC×KC] into MR-row micro-panels
//         for each NR micro-panel of B            B micro-panel KC×NR stays in L1
//           for each MR micro-panel of A
//             micro-kernel: the MR×NR tile of C in registers, KC rank-1 updates
// Packing makes both operands contiguous in exactly the order the micro-kernel reads
// them, so transposed inputs cost nothing extra and partial edge tiles are zero-padded.
// The micro-kernel holds a 6×16 f32 (6×8 f64) tile of C in 12 AVX registers and does 12
// FMAs per k (GCC vector extensions; with AVX2+FMA they map onto ymm registers).
//
// Parallelism: C is cut into one rectangle per OpenMP thread (the rows×cols grid whose
// rectangles have the smallest perimeter, since packing work grows with it); each thread
// runs the loop nest above on its rectangle with its own packing buffers — no barriers.
// A batch of products runs independent entries on different threads when there are
// enough of them.
#include "src/ops/cpu/gemm.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(__FMA__)
#include <immintrin.h>
#endif

#include "src/core/storage.h"
#include "src/ops/cpu/simd.h"
#include "tv3s/error.h"
#include "tv3s/ops/matmul.h"

namespace tv3s {
namespace cpu {
namespace {

// ---- register blocking -----------------------------------------------------------------

// One 256-bit vector of T (8 floats / 4 doubles, src/ops/cpu/simd.h). Without AVX the
// compiler splits it.
using simd::f32x8;
using simd::f64x4;

template <class T> struct Vec;
template <> struct Vec<float> { using type = f32x8; };
template <> struct Vec<double> { using type = f64x4; };

template <class T>
struct Blocking {
  using V = typename Vec<T>::type;
  static constexpr int kLanes = int(sizeof(V) / sizeof(T));
  static constexpr int MR = 6;             // rows of the register tile
  static constexpr int NR = 2 * kLanes;    // columns: two vectors (16 f32 / 8 f64)
  // KC: a KC×NR micro-panel of B (16 KiB) plus an MR×KC one of A fit in the 32 KiB L1.
  static constexpr int64_t KC = 256;
  // MC: the MC×KC packed A block (~144 KiB) sits in the 512 KiB L2.
  static constexpr int64_t MC = sizeof(T) == 4 ? 144 : 72;
  // NC: the KC×NC packed B block (4 MiB) sits in L3.
  static constexpr int64_t NC = sizeof(T) == 4 ? 4096 : 2048;
};

// All lanes = x: one vbroadcastss/sd. (x − 0 is exactly x, −0 included, so the
// compiler drops the subtraction; x + 0 would not be, as −0 + 0 = +0.)
template <class V, class T>
inline V splat(T x) { return x - V{}; }

template <class V>
inline V load_vec(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof v);  // one unaligned vector load
  return v;
}
template <class V>
inline void store_vec(void* p, V v) { std::memcpy(p, &v, sizeof v); }

// acc + a·b with one rounding. GCC contracts a*b+c by itself in GNU mode; the explicit
// instruction keeps the kernel fast under -std=c++17 (-ffp-contract=off) as well.
inline f32x8 fma_vec(f32x8 a, f32x8 b, f32x8 acc) {
#if defined(__FMA__)
  return f32x8(_mm256_fmadd_ps(__m256(a), __m256(b), __m256(acc)));
#else
  return a * b + acc;
#endif
}
inline f64x4 fma_vec(f64x4 a, f64x4 b, f64x4 acc) {
#if defined(__FMA__)
  return f64x4(_mm256_fmadd_pd(__m256d(a), __m256d(b), __m256d(acc)));
#else
  return a * b + acc;
#endif
}

// The micro-kernel: tile = a_panel (MR×kc) · b_panel (kc×NR), then
//   C[0:mr, 0:nr] = alpha·tile + beta·C   (beta == 0: C is not read, it may hold NaN).
// a_panel holds MR values per k, b_panel NR values per k (see pack_a / pack_b).
template <class T>
void micro_kernel(int64_t kc, const T* __restrict a_panel, const T* __restrict b_panel,
                  T alpha, T beta, T* __restrict c, int64_t ldc, int mr, int nr) {
  using B = Blocking<T>;
  using V = typename B::V;
  constexpr int MR = B::MR, NR = B::NR, L = B::kLanes;
  V acc_lo[MR], acc_hi[MR];  // row i of the tile: columns [0, L) and [L, 2L)
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc_lo[i] = acc_hi[i] = V{};
  // Start fetching the C tile now; it is needed only after the kc-long loop.
  for (int i = 0; i < mr; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + NR - 1, 1);
  }
#pragma GCC unroll 4  // fewer pointer/counter updates per 12 FMAs
  for (int64_t k = 0; k < kc; ++k) {
    const V b_lo = load_vec<V>(b_panel), b_hi = load_vec<V>(b_panel + L);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const V a_i = splat<V>(a_panel[i]);
      acc_lo[i] = fma_vec(a_i, b_lo, acc_lo[i]);
      acc_hi[i] = fma_vec(a_i, b_hi, acc_hi[i]);
    }
    a_panel += MR;
    b_panel += NR;
  }

  if (mr == MR && nr == NR) {  // full tile: straight to C
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      T* row = c + i * ldc;
      V lo = alpha * acc_lo[i], hi = alpha * acc_hi[i];
      if (beta != T(0)) {
        lo += beta * load_vec<V>(row);
        hi += beta * load_vec<V>(row + L);
      }
      store_vec(row, lo);
      store_vec(row + L, hi);
    }
    return;
  }
  // Edge tile: through a buffer, then only the mr×nr valid part.
  alignas(64) T tile[MR * NR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    store_vec(tile + i * NR, acc_lo[i]);
    store_vec(tile + i * NR + L, acc_hi[i]);
  }
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) {
      T& out = c[i * ldc + j];
      out = beta != T(0) ? alpha * tile[i * NR + j] + beta * out : alpha * tile[i * NR + j];
    }
}

// ---- packing ----------------------------------------------------------------------------

// The operands of one GEMM call, with op() folded into element accessors.
template <class T>
struct GemmArgs {
  bool trans_a, trans_b;
  int64_t M, N, K;
  T alpha;
  const T* A;
  int64_t lda;
  const T* B;
  int64_t ldb;
  T beta;
  T* C;
  int64_t ldc;
};

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as ceil(mc/MR) micro-panels; panel r holds, for
// each k, the MR values op(A)[i0 + r·MR + 0..MR-1][p0 + k] (rows past mc are zero).
template <class T>
void pack_a(const GemmArgs<T>& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, T* out) {
  constexpr int MR = Blocking<T>::MR;
  for (int64_t r = 0; r < mc; r += MR) {
    const int rows = int(std::min<int64_t>(MR, mc - r));
    T* panel = out + r * kc;
    if (!g.trans_a) {  // op(A)[i][k] = A[i·lda + k]: read each row sequentially
      for (int i = 0; i < rows; ++i) {
        const T* src = g.A + (i0 + r + i) * g.lda + p0;
        for (int64_t k = 0; k < kc; ++k) panel[k * MR + i] = src[k];
      }
    } else {  // op(A)[i][k] = A[k·lda + i]: MR consecutive values per k
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = g.A + (p0 + k) * g.lda + i0 + r;
        for (int i = 0; i < rows; ++i) panel[k * MR + i] = src[i];
      }
    }
    for (int i = rows; i < MR; ++i)
      for (int64_t k = 0; k < kc; ++k) panel[k * MR + i] = T(0);
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] as ceil(nc/NR) micro-panels; panel c holds, for
// each k, the NR values op(B)[p0 + k][j0 + c·NR + 0..NR-1] (columns past nc are zero).
template <class T>
void pack_b(const GemmArgs<T>& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, T* out) {
  constexpr int NR = Blocking<T>::NR;
  for (int64_t c = 0; c < nc; c += NR) {
    const int cols = int(std::min<int64_t>(NR, nc - c));
    T* panel = out + c * kc;
    if (!g.trans_b) {  // op(B)[k][j] = B[k·ldb + j]: NR consecutive values per k
      for (int64_t k = 0; k < kc; ++k) {
        const T* src = g.B + (p0 + k) * g.ldb + j0 + c;
        T* dst = panel + k * NR;
        for (int j = 0; j < cols; ++j) dst[j] = src[j];
        for (int j = cols; j < NR; ++j) dst[j] = T(0);
      }
    } else {  // op(B)[k][j] = B[j·ldb + k]: read each row of B sequentially
      for (int j = 0; j < cols; ++j) {
        const T* src = g.B + (j0 + c + j) * g.ldb + p0;
        for (int64_t k = 0; k < kc; ++k) panel[k * NR + j] = src[k];
      }
      for (int j = cols; j < NR; ++j)
        for (int64_t k = 0; k < kc; ++k) panel[k * NR + j] = T(0);
    }
  }
}

// Per-thread packing buffers, grown on demand and kept: OpenMP pool threads live for
// the whole process, so steady-state calls allocate (and page-fault) nothing.
class PackBuffer {
 public:
  ~PackBuffer() {
    std::free(data_);
    count_cpu_scratch(-std::ptrdiff_t(capacity_));
  }
  void* get(size_t bytes) {
    if (bytes > capacity_) {
      std::free(data_);
      count_cpu_scratch(-std::ptrdiff_t(capacity_));
      capacity_ = (bytes + 4095) / 4096 * 4096;
      count_cpu_scratch(std::ptrdiff_t(capacity_));
      data_ = std::aligned_alloc(64, capacity_);
      TV3S_CHECK(data_ != nullptr, "gemm_cpu: out of memory for a ", capacity_, "-byte packing buffer");
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t capacity_ = 0;
};
thread_local PackBuffer t_pack_a, t_pack_b;

// ---- the loop nest over one rectangle of C ----------------------------------------------

template <class T>
void gemm_rectangle(const GemmArgs<T>& g, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  using B = Blocking<T>;
  if (m0 >= m1 || n0 >= n1) return;
  const int64_t kc_max = std::min(B::KC, g.K);
  const int64_t mc_max = (std::min(B::MC, m1 - m0) + B::MR - 1) / B::MR * B::MR;
  const int64_t nc_max = (std::min(B::NC, n1 - n0) + B::NR - 1) / B::NR * B::NR;
  T* a_pack = static_cast<T*>(t_pack_a.get(size_t(mc_max * kc_max) * sizeof(T)));
  T* b_pack = static_cast<T*>(t_pack_b.get(size_t(nc_max * kc_max) * sizeof(T)));

  for (int64_t jc = n0; jc < n1; jc += B::NC) {
    const int64_t nc = std::min(B::NC, n1 - jc);
    for (int64_t pc = 0; pc < g.K; pc += B::KC) {
      const int64_t kc = std::min(B::KC, g.K - pc);
      const T beta = pc == 0 ? g.beta : T(1);  // later depth blocks accumulate
      pack_b(g, pc, kc, jc, nc, b_pack);
      for (int64_t ic = m0; ic < m1; ic += B::MC) {
        const int64_t mc = std::min(B::MC, m1 - ic);
        pack_a(g, ic, mc, pc, kc, a_pack);
        for (int64_t jr = 0; jr < nc; jr += B::NR)
          for (int64_t ir = 0; ir < mc; ir += B::MR)
            micro_kernel(kc, a_pack + ir * kc, b_pack + jr * kc, g.alpha, beta,
                         g.C + (ic + ir) * g.ldc + jc + jr, g.ldc,
                         int(std::min<int64_t>(B::MR, mc - ir)),
                         int(std::min<int64_t>(B::NR, nc - jr)));
      }
    }
  }
}

// C = beta·C, the whole answer when K == 0 or alpha == 0.
template <class T>
void scale_c(const GemmArgs<T>& g) {
  for (int64_t i = 0; i < g.M; ++i) {
    T* row = g.C + i * g.ldc;
    for (int64_t j = 0; j < g.N; ++j) row[j] = g.beta == T(0) ? T(0) : g.beta * row[j];
  }
}

// Below this many multiply-adds per thread, waking another thread costs more than it saves.
constexpr int64_t kMinWorkPerThread = int64_t(1) << 17;

int threads_for(int64_t M, int64_t N, int64_t K) {
  if (omp_in_parallel()) return 1;
  const int64_t work = M * N * std::max<int64_t>(K, 1);
  return int(std::max<int64_t>(1, std::min<int64_t>(omp_get_max_threads(), work / kMinWorkPerThread)));
}

// One GEMM on `threads` threads: C is cut into a rows×cols grid of rectangles, one per
// thread, each a whole number of register tiles.
template <class T>
void gemm_parallel(const GemmArgs<T>& g, int threads) {
  using B = Blocking<T>;
  if (g.M <= 0 || g.N <= 0) return;
  if (g.K == 0 || g.alpha == T(0)) return scale_c(g);
  const int64_t row_tiles = (g.M + B::MR - 1) / B::MR, col_tiles = (g.N + B::NR - 1) / B::NR;
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, row_tiles * col_tiles)));
  if (threads == 1) return gemm_rectangle(g, 0, g.M, 0, g.N);

  // The rows×cols grid (rows·cols ≤ threads) that gives the busiest thread the fewest
  // register tiles; among those, the smallest rectangle perimeter (packing work), then
  // the fewest threads.
  int grid_rows = 1, grid_cols = 1;
  int64_t best_tiles = -1, best_perimeter = 0;
  for (int rows = 1; rows <= threads; ++rows) {
    const int cols = threads / rows;
    const int64_t tile_rows = (row_tiles + rows - 1) / rows, tile_cols = (col_tiles + cols - 1) / cols;
    const int64_t tiles = tile_rows * tile_cols, perimeter = tile_rows * B::MR + tile_cols * B::NR;
    const bool better = best_tiles < 0 || tiles < best_tiles ||
                        (tiles == best_tiles && (perimeter < best_perimeter ||
                                                 (perimeter == best_perimeter && rows * cols < grid_rows * grid_cols)));
    if (better) best_tiles = tiles, best_perimeter = perimeter, grid_rows = rows, grid_cols = cols;
  }
  const int64_t rows_per = (row_tiles + grid_rows - 1) / grid_rows * B::MR;
  const int64_t cols_per = (col_tiles + grid_cols - 1) / grid_cols * B::NR;

#pragma omp parallel for num_threads(grid_rows * grid_cols) schedule(static, 1)
  for (int t = 0; t < grid_rows * grid_cols; ++t) {
    const int64_t m0 = (t / grid_cols) * rows_per, n0 = (t % grid_cols) * cols_per;
    gemm_rectangle(g, m0, std::min(g.M, m0 + rows_per), n0, std::min(g.N, n0 + cols_per));
  }
}

}  // namespace

template <class T>
void gemm_batched(bool trans_a, bool trans_b, int64_t batch, int64_t M, int64_t N, int64_t K,
                  const T* A, int64_t a_stride, const T* B, int64_t b_stride, T beta, T* C) {
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  auto one = [&](int64_t i, int threads) {
    const GemmArgs<T> g{trans_a, trans_b, M, N, K, T(1), A + i * a_stride, lda,
                        B + i * b_stride, ldb, beta, C + i * M * N, N};
    gemm_parallel(g, threads);
  };
  // Many entries (attention heads, ...): one whole GEMM per thread, if that splits evenly
  // enough; otherwise one entry at a time, each on as many threads as it is worth.
  const int threads = threads_for(batch * M, N, K);
  if (threads > 1 && batch >= threads && (batch % threads == 0 || batch >= 4 * threads)) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < batch; ++i) one(i, 1);
  } else {
    const int per_entry = threads_for(M, N, K);
    for (int64_t i = 0; i < batch; ++i) one(i, per_entry);
  }
}

template void gemm_batched<float>(bool, bool, int64_t, int64_t, int64_t, int64_t, const float*,
                                  int64_t, const float*, int64_t, float, float*);
template void gemm_batched<double>(bool, bool, int64_t, int64_t, int64_t, int64_t, const double*,
                                   int64_t, const double*, int64_t, double, double*);

}  // namespace cpu

// The public entry (tv3s/ops/matmul.h): one GEMM, on as many threads as it is worth.
template <class T>
void gemm_cpu(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
              int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  TV3S_CHECK(M >= 0 && N >= 0 && K >= 0, "gemm_cpu: negative size M=", M, " N=", N, " K=", K);
  TV3S_CHECK(lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N) && ldc >= N,
             "gemm_cpu: row strides too small: lda=", lda, " ldb=", ldb, " ldc=", ldc, " for M=", M,
             " N=", N, " K=", K, " (trans_a=", trans_a ? "true" : "false",
             ", trans_b=", trans_b ? "true" : "false", ")");
  const cpu::GemmArgs<T> g{trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc};
  cpu::gemm_parallel(g, cpu::threads_for(M, N, K));
}

template void gemm_cpu<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                              const float*, int64_t, float, float*, int64_t);
template void gemm_cpu<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                               int64_t, const double*, int64_t, double, double*, int64_t);

}  // namespace tv3s
