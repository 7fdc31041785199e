// Movement copies on the GPU: cuda::strided_copy runs one StridedCopy box (cuda/movement.h),
// the primitive behind permute, slice, concat, pad and roll. Only bits move, so kernels
// are templated on an unsigned word of the element's size, never on the dtype.
//
// Parallelisation, one of four paths per copy:
//  - dense: both sides contiguous → cudaMemcpyAsync.
//  - widened: the innermost dim is contiguous on both sides (slices, concats, pads,
//    permutes that keep the last dim): runs of elements are moved as 4/8/16-byte words,
//    so an f16 row moves 8 elements per load; then the generic kernel.
//  - tiled: the innermost dim is strided on the read side but another dim is contiguous
//    there (permutes that move the last dim, e.g. NCHW ↔ NHWC): 32×32 tiles go through
//    shared memory, so reads and writes are both coalesced.
//  - generic: one thread per element, its multi-index decoded from the flat index
//    (32-bit index math whenever everything fits: 64-bit division is slow on GPUs).
#include <cstdint>

#include "cuda/common.cuh"
#include "cuda/movement.h"

namespace tv3s::cuda {
namespace {

constexpr int kTile = 32;      // tile edge of the tiled path
constexpr int kTileRows = 8;   // threadIdx.y extent: each thread moves kTile / kTileRows elements

// Offsets in src and dst (elements) of element `flat` of the box, row-major over c.shape.
// Unrolled over kMaxDims so the struct is indexed statically (it stays in kernel params).
template <class Index>
__device__ __forceinline__ void locate(const StridedCopy& c, Index flat, Index& s, Index& d) {
  s = 0;
  d = 0;
#pragma unroll
  for (int k = kMaxDims - 1; k >= 0; --k) {
    if (k >= c.ndim) continue;
    const Index extent = Index(c.shape[k]);
    const Index i = flat % extent;
    flat /= extent;
    s += i * Index(c.src_stride[k]);
    d += i * Index(c.dst_stride[k]);
  }
}

template <class Word, class Index>
__global__ void strided_copy_kernel(const Word* __restrict__ src, Word* __restrict__ dst,
                                    StridedCopy c, Index n) {
  for (Index flat = Index(blockIdx.x) * blockDim.x + threadIdx.x; flat < n;
       flat += Index(blockDim.x) * gridDim.x) {
    Index s, d;
    locate(c, flat, s, d);
    dst[d] = src[s];
  }
}

// The tiled path: a 2-D copy over dims i and j for every index of the other dims.
struct TiledCopy {
  StridedCopy batch;  // the dims other than i and j
  int64_t batches = 0;
  int64_t n_i = 0, src_i = 0, dst_i = 0;  // i: contiguous on the read side (src_i == 1)
  int64_t n_j = 0, src_j = 0, dst_j = 0;  // j: the innermost dim, contiguous on the write side
};

template <class Word>
__global__ void tiled_copy_kernel(const Word* __restrict__ src, Word* __restrict__ dst, TiledCopy t) {
  TV3S_SHARED(Word,
              tile, [kTile][kTile + 1]);  // +1 column: the transposed read avoids bank conflicts
  const int64_t i0 = int64_t(blockIdx.x) * kTile, j0 = int64_t(blockIdx.y) * kTile;
  for (int64_t b = blockIdx.z; b < t.batches; b += gridDim.z) {
    int64_t s, d;
    locate(t.batch, b, s, d);
    // Read: consecutive threads take consecutive i (contiguous in src).
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t i = i0 + threadIdx.x, j = j0 + r;
      if (i < t.n_i && j < t.n_j) tile[r][threadIdx.x] = src[s + i * t.src_i + j * t.src_j];
    }
    __syncthreads();
    // Write: consecutive threads take consecutive j (contiguous in dst).
    for (int r = threadIdx.y; r < kTile; r += kTileRows) {
      const int64_t i = i0 + r, j = j0 + threadIdx.x;
      if (i < t.n_i && j < t.n_j) dst[d + i * t.dst_i + j * t.dst_j] = tile[threadIdx.x][r];
    }
    __syncthreads();  // the tile is refilled for the next batch
  }
}

// --- choosing a path ----------------------------------------------------------------------

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// When the innermost dim is contiguous on both sides, moves `unit`-byte words (16, 8 or 4)
// instead of elements, if the row length, every stride and both pointers line up.
// Rewrites `c` in words and returns the word size (element_size when nothing fits).
size_t widen(StridedCopy& c, const void* src, void* dst, size_t element_size) {
  const int last = c.ndim - 1;
  if (c.ndim == 0 || c.src_stride[last] != 1 || c.dst_stride[last] != 1) return element_size;
  for (size_t unit = 16; unit > element_size; unit /= 2) {
    bool fits = aligned(src, unit) && aligned(dst, unit) &&
                (size_t(c.shape[last]) * element_size) % unit == 0;
    for (int k = 0; fits && k < last; ++k)
      fits = (size_t(c.src_stride[k]) * element_size) % unit == 0 &&
             (size_t(c.dst_stride[k]) * element_size) % unit == 0;
    if (!fits) continue;
    const int64_t per_word = int64_t(unit / element_size);
    c.shape[last] /= per_word;
    for (int k = 0; k < last; ++k) {
      c.src_stride[k] /= per_word;
      c.dst_stride[k] /= per_word;
    }
    return unit;
  }
  return element_size;
}

// The tiled path applies when the innermost dim j is strided on the read side and another
// dim i is contiguous there, both long enough to fill most of a tile.
bool plan_tiles(const StridedCopy& c, TiledCopy& t) {
  if (c.ndim < 2) return false;
  const int j = c.ndim - 1;
  if (c.src_stride[j] == 1) return false;  // reads are already coalesced
  int i = -1;
  for (int k = 0; k < j; ++k)
    if (c.src_stride[k] == 1) i = k;
  if (i < 0 || c.shape[i] < kTile / 4 || c.shape[j] < kTile / 4) return false;
  const int64_t tiles_i = (c.shape[i] + kTile - 1) / kTile, tiles_j = (c.shape[j] + kTile - 1) / kTile;
  if (tiles_i > INT32_MAX || tiles_j > 65535) return false;  // grid limits of x and y
  t.n_i = c.shape[i];
  t.src_i = c.src_stride[i];
  t.dst_i = c.dst_stride[i];
  t.n_j = c.shape[j];
  t.src_j = c.src_stride[j];
  t.dst_j = c.dst_stride[j];
  for (int k = 0; k < j; ++k) {
    if (k == i) continue;
    t.batch.shape[t.batch.ndim] = c.shape[k];
    t.batch.src_stride[t.batch.ndim] = c.src_stride[k];
    t.batch.dst_stride[t.batch.ndim] = c.dst_stride[k];
    ++t.batch.ndim;
  }
  t.batches = t.batch.numel();
  return true;
}

// Largest offset the copy touches on either side, to choose 32-bit index math.
int64_t max_offset(const StridedCopy& c) {
  int64_t s = 0, d = 0;
  for (int k = 0; k < c.ndim; ++k) {
    s += (c.shape[k] - 1) * c.src_stride[k];
    d += (c.shape[k] - 1) * c.dst_stride[k];
  }
  return s > d ? s : d;
}

// Calls f(Word{}) with an unsigned word type of `bytes` bytes.
template <class F>
void dispatch_word(size_t bytes, F&& f) {
  switch (bytes) {
    case 1: f(uint8_t{}); break;
    case 2: f(uint16_t{}); break;
    case 4: f(uint32_t{}); break;
    case 8: f(uint64_t{}); break;
    case 16: f(uint4{}); break;
    default: fail(str("strided_copy: unsupported element size ", bytes));
  }
}

}  // namespace

void strided_copy(const StridedCopy& copy, const void* src, void* dst, size_t element_size) {
  const int64_t n = copy.numel();
  if (n == 0) return;
  const bool dense = copy.ndim == 0 || (copy.ndim == 1 && copy.src_stride[0] == 1 &&
                                        copy.dst_stride[0] == 1);
  if (dense) {
    TV3S_CUDA_CHECK(cudaMemcpyAsync(dst, src, size_t(n) * element_size, cudaMemcpyDeviceToDevice,
                                    stream()));
    return;
  }
  StridedCopy c = copy;
  const size_t word = widen(c, src, dst, element_size);
  dispatch_word(word, [&](auto tag) {
    using Word = decltype(tag);
    const Word* from = static_cast<const Word*>(src);
    Word* to = static_cast<Word*>(dst);
    TiledCopy tiles;
    if (plan_tiles(c, tiles)) {
      const dim3 grid(unsigned((tiles.n_i + kTile - 1) / kTile), unsigned((tiles.n_j + kTile - 1) / kTile),
                      unsigned(tiles.batches < 65535 ? tiles.batches : 65535));
      launch<tiled_copy_kernel<Word>>(grid, dim3(kTile, kTileRows), 0, stream(), from, to, tiles);
      return;
    }
    const int64_t words = c.numel();
    if (words <= INT32_MAX && max_offset(c) <= INT32_MAX)
      launch<strided_copy_kernel<Word, uint32_t>>(blocks_for(words), kThreads, 0, stream(), from,
                                                  to, c, uint32_t(words));
    else
      launch<strided_copy_kernel<Word, int64_t>>(blocks_for(words), kThreads, 0, stream(), from, to,
                                                 c, words);
  });
  check_launch("strided_copy");
}

}  // namespace tv3s::cuda
