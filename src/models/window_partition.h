// Window partitions of a video feature map into Mamba sequences (model-spec §5.1–5.3),
// as index maps; the op gather_rows (tv3s/ops/gather_rows.h) applies them.
//
// The map is the token tensor [B, T, H, W, C] viewed as rows [B·T·H·W, C]. A partition
// cuts every frame's H×W grid into rectangular cells; each cell of each clip is one
// sequence over all T frames, tokens ordered frame-major, then row-major inside the cell:
//   position p = t·(rows·cols) + (y − y0)·cols + (x − x0).
//
// Unshifted (shift = 0): the plain grid of window×window cells (H, W multiples of window).
// Real shift (0 < shift < window), the official `real_shift=True` path: roll the map by
// (−shift, −shift), cut the rolled map's last window row and column into pieces of
// window − shift and shift, run the pieces, write back, roll by (+shift, +shift). No piece
// wraps around, so in original coordinates it is a grid whose cuts lie at
// {shift, shift + window, …, H − (window − shift)}: a top band of `shift` rows, interior
// bands of `window`, a bottom band of `window − shift` (columns likewise). Cells of equal
// size form one group and run as one batched call; the groups in the official order:
//   main (interior × interior), a1 (top × left), b3 (bottom × left), c3 (top × right),
//   d (bottom × right), b1 (interior × left), b2 (interior × right),
//   c1 (top × interior), c2 (bottom × interior).
// Within a group, sequences are ordered (b, cell row, cell column). Every group has at
// least one cell: a shifted partition needs H, W ≥ 2·window.
//
// Index maps are built on the host, once per size (src/models/window_partition.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tv3s {

struct WindowGroup {
  std::string name;              // "windows" for the unshifted grid; main, a1, … (above)
  int64_t rows = 0, cols = 0;    // cell size
  int64_t count = 0;             // sequences in the group (over all B clips)
  int64_t offset = 0;            // first row of the group in the partitioned tensor
  int64_t seq_len() const { return rows * cols; }  // tokens per frame and sequence
};

struct WindowPartition {
  int64_t B = 0, T = 0, H = 0, W = 0;
  int64_t window = 0, shift = 0;
  std::vector<WindowGroup> groups;
  // forward[i] = the map row of partitioned row i: groups back to back, each
  // [count, T·rows·cols] flattened. A permutation of 0..B·T·H·W−1.
  std::vector<int32_t> forward;
  // inverse[forward[i]] = i: gathers the partitioned rows back into map order.
  std::vector<int32_t> inverse;
};

// Throws unless H and W are multiples of `window`, 0 ≤ shift < window, and, for a
// shifted partition, H and W are at least 2·window (the official code is not written
// for a single window row or column; model-spec §4).
WindowPartition make_window_partition(int64_t B, int64_t T, int64_t H, int64_t W, int64_t window,
                                      int64_t shift);

}  // namespace tv3s
