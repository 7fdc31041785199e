// make_window_partition (window_partition.h) lists, for every partitioned row, the map row
// it comes from (`forward`), and the inverse. The map is [B, T, H, W] rows; map row of
// (b, t, y, x): ((b·T + t)·H + y)·W + x.
// A partition is a list of row bands [y0, y0 + rows) and column bands [x0, x0 + cols);
// a group is a set of row bands × a set of column bands of one cell size, and its
// sequences are (b, row band, column band) in that order, each listing its tokens
// frame-major, then raster order inside the cell (window_partition.h has the groups of
// the shifted partition and why it is a plain grid in original coordinates).
#include "src/models/window_partition.h"

#include <algorithm>
#include <climits>

#include "tv3s/error.h"

namespace tv3s {

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
