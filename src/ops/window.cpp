// Window partitions of the TV3S decoder (model-spec §5.1–5.3) and the row gather that
// applies them.
//
//   gather_rows:  y[i, :] = x[index[i], :]              x [R, C], index i32 [M], y [M, C]
//   backward:     dx = 0 [R, C];  dx[index[i], :] = dy[i, :]
// The index is a partial permutation (distinct entries), so the backward is a scatter
// without conflicts: no sums, deterministic, and when M = R it writes every row of dx,
// so dx needs no zeroing.
//
// make_window_partition lists, for every partitioned row, the map row it comes from
// (`forward`), and the inverse. The map is [B, T, H, W] rows; map row of (b, t, y, x):
//   ((b·T + t)·H + y)·W + x.
// A partition is a list of row bands [y0, y0 + rows) and column bands [x0, x0 + cols);
// a group is a set of row bands × a set of column bands of one cell size, and its
// sequences are (b, row band, column band) in that order, each listing its tokens
// frame-major, then raster order inside the cell (include/tv3s/ops/window.h has the
// groups of the shifted partition and why it is a plain grid in original coordinates).
//
// CPU: one memcpy per row (rows are contiguous, any dtype), parallel over rows.
// CUDA (cuda/window.cu): blocks of rows × word lanes, 16-byte words when the row length
// and the pointers allow.
#include "tv3s/ops/window.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "cuda/window.h"
#include "src/core/cuda_context.h"
#include "src/core/parallel.h"
#include "tv3s/autograd.h"

namespace tv3s {
namespace {

constexpr int64_t kParallelMin = 1 << 18;  // bytes moved; below this one thread is faster

// --- gather_rows: CPU reference --------------------------------------------------------

// Throws unless every entry is in [0, rows) and none repeats (naming the first bad one).
void check_index_cpu(const int32_t* index, int64_t M, int64_t rows, const Tensor& x) {
  // One bit per row an i32 can name (rows beyond INT32_MAX cannot be named at all).
  std::vector<bool> named(size_t(std::min<int64_t>(rows, int64_t(INT32_MAX) + 1)), false);
  for (int64_t i = 0; i < M; ++i) {
    const int64_t r = index[i];
    TV3S_CHECK(r >= 0 && r < rows, "gather_rows: index[", i, "] = ", r, " is outside [0, ", rows,
               ") for x ", x.desc());
    if (named[size_t(r)]) {
      int64_t first = 0;
      while (index[first] != r) ++first;
      fail(str("gather_rows: index[", i, "] = ", r, " repeats index[", first,
               "] (the entries must be distinct rows of x ", x.desc(), ")"));
    }
    named[size_t(r)] = true;
  }
}

// Row i of `src` goes to row index[i] of `dst` (scatter) or row index[i] of `src` goes
// to row i of `dst` (gather), for i < M; rows are row_bytes long.
void copy_rows_cpu(const char* src, char* dst, const int32_t* index, int64_t M, size_t row_bytes,
                   bool scatter) {
  parallel_for(M, int64_t(row_bytes) * M > kParallelMin, [&](int64_t i) {
    const int64_t from = scatter ? i : index[i], to = scatter ? index[i] : i;
    std::memcpy(dst + size_t(to) * row_bytes, src + size_t(from) * row_bytes, row_bytes);
  });
}

// --- dispatch ---------------------------------------------------------------------------

// dx [rows, C] from dy [M, C]: dy's rows scattered to index, zeros elsewhere.
Tensor scatter_rows(const Tensor& dy, const Tensor& index, int64_t rows) {
  const int64_t M = dy.size(0), C = dy.size(1);
  // M distinct rows out of rows: when M = rows every row is written, nothing to zero.
  Tensor dx = M == rows ? Tensor::empty(Shape{rows, C}, dy.dtype(), dy.device())
                        : Tensor::zeros(Shape{rows, C}, dy.dtype(), dy.device());
  if (M == 0 || C == 0) return dx;
  if (dy.is_cuda()) {
    TV3S_ON_CUDA(cuda::scatter_rows(dy, index, dx));
  } else {
    copy_rows_cpu(static_cast<const char*>(dy.raw()), static_cast<char*>(dx.raw()),
                  index.data<int32_t>(), M, size_t(C) * dtype_size(dy.dtype()), true);
  }
  return dx;
}

}  // namespace

Tensor gather_rows(const Tensor& x, const Tensor& index) {
  check_defined("gather_rows", x);
  check_defined("gather_rows", index);
  TV3S_CHECK(x.ndim() == 2, "gather_rows: x must be [R, C], got ", x.desc());
  TV3S_CHECK(index.dtype() == DType::i32 && index.ndim() == 1,
             "gather_rows: index must be i32 [M], got ", index.desc());
  check_same_device("gather_rows", x, index);
  const int64_t R = x.size(0), C = x.size(1), M = index.size(0);
  TV3S_CHECK(M <= R, "gather_rows: index ", index.desc(), " names more rows than x ", x.desc(),
             " has (its entries must be distinct)");

  Tensor y = Tensor::empty(Shape{M, C}, x.dtype(), x.device());
  if (x.is_cuda()) {
    if (M > 0 && C > 0) TV3S_ON_CUDA(cuda::gather_rows(x, index, y));
  } else {
    check_index_cpu(index.data<int32_t>(), M, R, x);
    copy_rows_cpu(static_cast<const char*>(x.raw()), static_cast<char*>(y.raw()),
                  index.data<int32_t>(), M, size_t(C) * dtype_size(x.dtype()), false);
  }
  if (is_floating(x.dtype()) && autograd::needs_grad(x)) {
    const DType dtype = x.dtype();
    autograd::record("gather_rows", y, {x, index},
                     [index = index.detach(), R, dtype](const Tensor& dy) {
                       return std::vector<Tensor>{scatter_rows(dy.to(dtype), index, R), Tensor()};
                     });
  }
  return y;
}

// --- window partitions -------------------------------------------------------------------

namespace {

struct Band {
  int64_t start, size;
};

// The bands of one axis of length n in the shifted partition: top (or left) [0, s),
// the interior windows [s + k·w, s + (k+1)·w), bottom (or right) [n − (w − s), n).
struct ShiftedBands {
  std::vector<Band> first, interior, last;
};
ShiftedBands shifted_bands(int64_t n, int64_t w, int64_t s) {
  ShiftedBands b;
  b.first = {{0, s}};
  for (int64_t start = s; start + w <= n - (w - s); start += w) b.interior.push_back({start, w});
  b.last = {{n - (w - s), w - s}};
  return b;
}

// The plain grid of one axis: [k·w, (k+1)·w).
std::vector<Band> window_bands(int64_t n, int64_t w) {
  std::vector<Band> bands;
  for (int64_t start = 0; start < n; start += w) bands.push_back({start, w});
  return bands;
}

// Appends the group of cells row_bands × col_bands (all of one size) to p: its forward
// entries, sequence by sequence in (b, row band, column band) order.
void append_group(WindowPartition& p, const char* name, const std::vector<Band>& row_bands,
                  const std::vector<Band>& col_bands) {
  WindowGroup g;
  g.name = name;
  g.rows = row_bands.front().size;
  g.cols = col_bands.front().size;
  g.count = p.B * int64_t(row_bands.size()) * int64_t(col_bands.size());
  g.offset = int64_t(p.forward.size());
  for (int64_t b = 0; b < p.B; ++b)
    for (const Band& rb : row_bands)
      for (const Band& cb : col_bands)
        for (int64_t t = 0; t < p.T; ++t)
          for (int64_t y = rb.start; y < rb.start + rb.size; ++y)
            for (int64_t x = cb.start; x < cb.start + cb.size; ++x)
              p.forward.push_back(int32_t(((b * p.T + t) * p.H + y) * p.W + x));
  p.groups.push_back(g);
}

}  // namespace

WindowPartition make_window_partition(int64_t B, int64_t T, int64_t H, int64_t W, int64_t window,
                                      int64_t shift) {
  const std::string sizes = str("B=", B, " T=", T, " H=", H, " W=", W, " window=", window,
                                " shift=", shift);
  TV3S_CHECK(B > 0 && T > 0 && H > 0 && W > 0 && window > 0,
             "make_window_partition: sizes must be positive, got ", sizes);
  TV3S_CHECK(H % window == 0 && W % window == 0, "make_window_partition: the map ", H, "×", W,
             " is not a whole number of ", window, "×", window, " windows (", sizes, ")");
  TV3S_CHECK(shift >= 0 && shift < window, "make_window_partition: shift must be in [0, ",
             window, "), got ", sizes);
  TV3S_CHECK(shift == 0 || (H >= 2 * window && W >= 2 * window),
             "make_window_partition: a shifted partition needs H and W ≥ 2·window = ", 2 * window,
             " (the official code has no case for a single window row or column), got ", sizes);
  const int64_t total = B * T * H * W;
  TV3S_CHECK(total <= INT32_MAX, "make_window_partition: ", total,
             " map rows do not fit i32 indices (", sizes, ")");

  WindowPartition p;
  p.B = B, p.T = T, p.H = H, p.W = W, p.window = window, p.shift = shift;
  p.forward.reserve(size_t(total));
  if (shift == 0) {
    append_group(p, "windows", window_bands(H, window), window_bands(W, window));
  } else {
    // Groups in the order of the official shifted_process; "left" / "top" are the strips
    // of `shift`, "right" / "bottom" those of window − shift.
    const ShiftedBands rows = shifted_bands(H, window, shift);
    const ShiftedBands cols = shifted_bands(W, window, shift);
    append_group(p, "main", rows.interior, cols.interior);
    append_group(p, "a1", rows.first, cols.first);
    append_group(p, "b3", rows.last, cols.first);
    append_group(p, "c3", rows.first, cols.last);
    append_group(p, "d", rows.last, cols.last);
    append_group(p, "b1", rows.interior, cols.first);
    append_group(p, "b2", rows.interior, cols.last);
    append_group(p, "c1", rows.first, cols.interior);
    append_group(p, "c2", rows.last, cols.interior);
  }
  p.inverse.assign(p.forward.size(), 0);
  for (size_t i = 0; i < p.forward.size(); ++i) p.inverse[size_t(p.forward[i])] = int32_t(i);
  return p;
}

}  // namespace tv3s
