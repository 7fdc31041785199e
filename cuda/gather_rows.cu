// Row gather and scatter on the GPU (the math is in src/ops/gather_rows.cpp):
//   gather   y[i, :] = x[index[i], :]        scatter   y[index[i], :] = x[i, :]
// One kernel does both: row i of the index is copied from row `from` to row `to`, with
// (from, to) = (index[i], i) or (i, index[i]).
//
// Parallelisation: only bits move, so a row is copied as words of the widest size —
// 16, 8, 4, 2 or 1 bytes — that divides the row length and to which both base pointers
// are aligned (a 256-channel f32 row is 64 16-byte words; an f16 row of odd length falls
// back to 2-byte words). A block is `lanes` × `rows_per_block` threads: threadIdx.x
// walks the words of one row (lanes = the row's word count rounded up to a power of two,
// at most 256, so short rows do not leave most of a warp idle), threadIdx.y picks the
// row; blocks stride over the rows. Each row's lanes read its index entry (one
// broadcast load) and then move consecutive words, so reads and writes of a row are
// coalesced; rows land wherever the index sends them. No thread writes a row another
// thread writes (the index entries are distinct), so no atomics and no ordering issues.
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/gather_rows.h"

namespace tv3s::cuda {
namespace {

template <class Word, bool kScatter>
__global__ void copy_rows_kernel(const Word* __restrict__ src, Word* __restrict__ dst,
                                 const int32_t* __restrict__ index, int64_t rows,
                                 int64_t words_per_row) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.y + threadIdx.y; i < rows;
       i += int64_t(gridDim.x) * blockDim.y) {
    const int64_t mapped = index[i];
    const int64_t from = kScatter ? i : mapped, to = kScatter ? mapped : i;
    const Word* s = src + from * words_per_row;
    Word* d = dst + to * words_per_row;
    for (int64_t k = threadIdx.x; k < words_per_row; k += blockDim.x) d[k] = s[k];
  }
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// The widest word (16, 8, 4, 2 or 1 bytes) that tiles a row and fits both pointers.
size_t word_bytes(const void* src, const void* dst, size_t row_bytes) {
  for (size_t w = 16; w > 1; w /= 2)
    if (row_bytes % w == 0 && aligned(src, w) && aligned(dst, w)) return w;
  return 1;
}

template <class Word, bool kScatter>
void copy_rows_as(const void* src, void* dst, const int32_t* index, int64_t rows, size_t row_bytes) {
  const int64_t words = int64_t(row_bytes / sizeof(Word));
  int lanes = 1;
  while (lanes < words && lanes < kThreads) lanes *= 2;
  const int rows_per_block = kThreads / lanes;
  launch<copy_rows_kernel<Word, kScatter>>(
      blocks_for(rows, rows_per_block), dim3(unsigned(lanes), unsigned(rows_per_block)), 0,
      stream(), static_cast<const Word*>(src), static_cast<Word*>(dst), index, rows, words);
}

// Copies the M = index.numel() rows of `row_bytes` bytes between src and dst.
template <bool kScatter>
void copy_rows(const char* op, const Tensor& src, const Tensor& index, Tensor& dst) {
  const int64_t rows = index.numel();
  const size_t row_bytes = size_t(src.size(1)) * dtype_size(src.dtype());
  if (rows == 0 || row_bytes == 0) return;
  const void* from = src.raw();
  void* to = dst.raw();
  const int32_t* idx = ptr<int32_t>(index);
  switch (word_bytes(from, to, row_bytes)) {
    case 16: copy_rows_as<uint4, kScatter>(from, to, idx, rows, row_bytes); break;
    case 8: copy_rows_as<uint2, kScatter>(from, to, idx, rows, row_bytes); break;
    case 4: copy_rows_as<uint32_t, kScatter>(from, to, idx, rows, row_bytes); break;
    case 2: copy_rows_as<uint16_t, kScatter>(from, to, idx, rows, row_bytes); break;
    default: copy_rows_as<uint8_t, kScatter>(from, to, idx, rows, row_bytes); break;
  }
  check_launch(op);
}

}  // namespace

void gather_rows(const Tensor& x, const Tensor& index, Tensor& y) {
  copy_rows<false>("gather_rows", x, index, y);
}

void scatter_rows(const Tensor& x, const Tensor& index, Tensor& y) {
  copy_rows<true>("gather_rows backward (scatter)", x, index, y);
}

}  // namespace tv3s::cuda
