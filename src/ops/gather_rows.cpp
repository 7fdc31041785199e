// The row gather that applies the TV3S window partitions (src/models/window_partition.h).
//
//   gather_rows:  y[i, :] = x[index[i], :]              x [R, C], index i32 [M], y [M, C]
//   backward:     dx = 0 [R, C];  dx[index[i], :] = dy[i, :]
// The index is a partial permutation (distinct entries), so the backward is a scatter
// without conflicts: no sums, deterministic, and when M = R it writes every row of dx,
// so dx needs no zeroing.
//
// CPU: one memcpy per row (rows are contiguous, any dtype), parallel over rows.
// CUDA (cuda/gather_rows.cu): blocks of rows × word lanes, 16-byte words when the row length
// and the pointers allow.
#include "tv3s/ops/gather_rows.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "cuda/gather_rows.h"
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

}  // namespace tv3s
