// The TV3S window partitions (src/models/window_partition.cpp) and their round trip through
// gather_rows (src/ops/gather_rows.cpp, cuda/gather_rows.cu).
//
// The partitions are checked against a naive re-enactment of the official code
// (utils/models/tv3s_head.py, ShiftedMambaBlocks: the `flatten` of the unshifted layers
// and `shifted_process` with real_shift): on a map of token ids it does torch.roll by
// (−s, −s) as torch defines it, takes the nine Python slices of the rolled map in the
// official order, reshapes each into its pieces and flattens them
// 'b t c i h j w -> (b i j) (t h w) c'; the sequences must be exactly forward's. The
// write-back (unflatten into the slices, roll by (+s, +s)) must give exactly inverse.
//
// Tolerances: everything is exact (0) — index maps are integers and gather_rows only
// moves bytes; inputs are k/16 with |k| ≤ 100, exact in every float dtype.
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "src/models/window_partition.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {

// ---- the naive re-enactment of the official code --------------------------------------

// A [B, T, H, W] map of token ids (the channel dim is left out: it rides along).
struct IdMap {
  int64_t B = 0, T = 0, H = 0, W = 0;
  std::vector<int32_t> ids;
  int32_t& at(int64_t b, int64_t t, int64_t y, int64_t x) {
    return ids[size_t(((b * T + t) * H + y) * W + x)];
  }
  int32_t at(int64_t b, int64_t t, int64_t y, int64_t x) const {
    return ids[size_t(((b * T + t) * H + y) * W + x)];
  }
};

// Every token names its own map row.
IdMap identity_map(int64_t B, int64_t T, int64_t H, int64_t W) {
  IdMap m{B, T, H, W, std::vector<int32_t>(size_t(B * T * H * W))};
  for (size_t i = 0; i < m.ids.size(); ++i) m.ids[i] = int32_t(i);
  return m;
}

int64_t python_mod(int64_t a, int64_t n) { return ((a % n) + n) % n; }

// torch.roll(m, shifts=(sy, sx), dims=(-2, -1)): out[(i + shift) mod n] = m[i].
IdMap torch_roll(const IdMap& m, int64_t sy, int64_t sx) {
  IdMap out = m;
  for (int64_t b = 0; b < m.B; ++b)
    for (int64_t t = 0; t < m.T; ++t)
      for (int64_t y = 0; y < m.H; ++y)
        for (int64_t x = 0; x < m.W; ++x)
          out.at(b, t, python_mod(y + sy, m.H), python_mod(x + sx, m.W)) = m.at(b, t, y, x);
  return out;
}

// A Python slice [start:stop] (either may be absent, negatives count from the end).
struct PySlice {
  std::optional<int64_t> start, stop;
  // The [begin, end) it selects from an axis of length n, as Python resolves it.
  std::pair<int64_t, int64_t> resolve(int64_t n) const {
    auto fix = [n](std::optional<int64_t> v, int64_t absent) {
      if (!v) return absent;
      const int64_t i = *v < 0 ? *v + n : *v;
      return std::clamp<int64_t>(i, 0, n);
    };
    const int64_t b = fix(start, 0), e = fix(stop, n);
    return {b, std::max(b, e)};
  }
};
const std::optional<int64_t> kNone;

// One piece group of shifted_process: its slice of the rolled map and the reshape
// (B, T, C, ni, h, nj, w) it gets before `flatten`.
struct OfficialPiece {
  const char* name;
  PySlice rows, cols;
  int64_t ni, h, nj, w;
};

// The nine slices and reshapes of shifted_process, in its order, for window w, shift s
// and h2 = H / w, w2 = W / w windows.
std::vector<OfficialPiece> official_pieces(int64_t h2, int64_t w2, int64_t w, int64_t s) {
  return {
      {"main", {kNone, -w}, {kNone, -w}, h2 - 1, w, w2 - 1, w},
      {"a1", {-s, kNone}, {-s, kNone}, 1, s, 1, s},
      {"b3", {-w, -s}, {-s, kNone}, 1, w - s, 1, s},
      {"c3", {-s, kNone}, {-w, -s}, 1, s, 1, w - s},
      {"d", {-w, -s}, {-w, -s}, 1, w - s, 1, w - s},
      {"b1", {kNone, -w}, {-s, kNone}, h2 - 1, w, 1, s},
      {"b2", {kNone, -w}, {-w, -s}, h2 - 1, w, 1, w - s},
      {"c1", {-s, kNone}, {kNone, -w}, 1, s, w2 - 1, w},
      {"c2", {-w, -s}, {kNone, -w}, 1, w - s, w2 - 1, w},
  };
}

// hidden_state[:, :, :, rows, cols], reshaped to (B, T, C, ni, h, nj, w) and rearranged
// 'b t c i h j w -> (b i j) (t h w) c': the sequences, each a list of token ids.
std::vector<std::vector<int32_t>> flatten_slice(const IdMap& m, const PySlice& rows,
                                                const PySlice& cols, int64_t ni, int64_t h,
                                                int64_t nj, int64_t w) {
  const auto [y0, y1] = rows.resolve(m.H);
  const auto [x0, x1] = cols.resolve(m.W);
  REQUIRE(y1 - y0 == ni * h);  // torch's reshape would fail otherwise
  REQUIRE(x1 - x0 == nj * w);
  std::vector<std::vector<int32_t>> sequences;
  for (int64_t b = 0; b < m.B; ++b)
    for (int64_t i = 0; i < ni; ++i)
      for (int64_t j = 0; j < nj; ++j) {
        std::vector<int32_t> seq;
        for (int64_t t = 0; t < m.T; ++t)
          for (int64_t hh = 0; hh < h; ++hh)
            for (int64_t ww = 0; ww < w; ++ww) seq.push_back(m.at(b, t, y0 + i * h + hh, x0 + j * w + ww));
        sequences.push_back(seq);
      }
  return sequences;
}

// The inverse of flatten_slice: `values` (the partitioned rows of this piece group,
// (b i j) (t h w) flattened) rearranged '(b i j) (t h w) -> b t (i h) (j w)' and assigned
// to m[:, :, rows, cols].
void unflatten_into(IdMap& m, const PySlice& rows, const PySlice& cols, int64_t ni, int64_t h,
                    int64_t nj, int64_t w, const std::vector<int32_t>& values) {
  const int64_t y0 = rows.resolve(m.H).first, x0 = cols.resolve(m.W).first;
  const int64_t seq_len = m.T * h * w;
  REQUIRE(int64_t(values.size()) == m.B * ni * nj * seq_len);
  for (int64_t b = 0; b < m.B; ++b)
    for (int64_t i = 0; i < ni; ++i)
      for (int64_t j = 0; j < nj; ++j)
        for (int64_t t = 0; t < m.T; ++t)
          for (int64_t hh = 0; hh < h; ++hh)
            for (int64_t ww = 0; ww < w; ++ww) {
              const int64_t seq = (b * ni + i) * nj + j, pos = (t * h + hh) * w + ww;
              m.at(b, t, y0 + i * h + hh, x0 + j * w + ww) = values[size_t(seq * seq_len + pos)];
            }
}

// What the official layer sees: the name, cell size and sequences of every group.
struct OfficialGroup {
  std::string name;
  int64_t rows, cols;
  std::vector<std::vector<int32_t>> sequences;
};

std::vector<OfficialGroup> official_groups(int64_t B, int64_t T, int64_t H, int64_t W,
                                           int64_t window, int64_t shift) {
  const IdMap map = identity_map(B, T, H, W);
  const int64_t h2 = H / window, w2 = W / window;
  if (shift == 0) {  // unshifted_process: reshape (B, T, C, h1, w, w1, w), flatten
    return {{"windows", window, window,
             flatten_slice(map, {}, {}, h2, window, w2, window)}};
  }
  const IdMap rolled = torch_roll(map, -shift, -shift);
  std::vector<OfficialGroup> groups;
  for (const OfficialPiece& p : official_pieces(h2, w2, window, shift))
    groups.push_back({p.name, p.h, p.w, flatten_slice(rolled, p.rows, p.cols, p.ni, p.h, p.nj, p.w)});
  return groups;
}

// The official write-back of a shifted layer's outputs when the output of partitioned
// row i is the number i: _hidden_state slices ← unflatten(group outputs), then roll by
// (+s, +s). The result names, for every map row, the partitioned row that lands there.
IdMap official_write_back(const WindowPartition& p) {
  IdMap out = identity_map(p.B, p.T, p.H, p.W);
  if (p.shift == 0) {
    std::vector<int32_t> all(out.ids.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = int32_t(i);
    unflatten_into(out, {}, {}, p.H / p.window, p.window, p.W / p.window, p.window, all);
    return out;
  }
  int32_t next = 0;
  for (const OfficialPiece& piece :
       official_pieces(p.H / p.window, p.W / p.window, p.window, p.shift)) {
    std::vector<int32_t> values(size_t(p.B * piece.ni * piece.nj * p.T * piece.h * piece.w));
    for (int32_t& v : values) v = next++;
    unflatten_into(out, piece.rows, piece.cols, piece.ni, piece.h, piece.nj, piece.w, values);
  }
  return torch_roll(out, p.shift, p.shift);
}

// Checks the partition against the re-enactment: groups (names, sizes, counts, offsets)
// and every sequence, forward entry by entry; and inverse against the write-back.
void check_against_official(int64_t B, int64_t T, int64_t H, int64_t W, int64_t window,
                            int64_t shift) {
  CAPTURE(B);
  CAPTURE(T);
  CAPTURE(H);
  CAPTURE(W);
  CAPTURE(window);
  CAPTURE(shift);
  const WindowPartition p = make_window_partition(B, T, H, W, window, shift);
  CHECK(p.B == B);
  CHECK(p.T == T);
  CHECK(p.H == H);
  CHECK(p.W == W);
  CHECK(p.window == window);
  CHECK(p.shift == shift);
  const std::vector<OfficialGroup> want = official_groups(B, T, H, W, window, shift);
  REQUIRE(p.groups.size() == want.size());
  std::vector<int32_t> official_forward;
  for (size_t k = 0; k < want.size(); ++k) {
    const WindowGroup& g = p.groups[k];
    CAPTURE(want[k].name);
    CHECK(g.name == want[k].name);
    CHECK(g.rows == want[k].rows);
    CHECK(g.cols == want[k].cols);
    CHECK(g.seq_len() == want[k].rows * want[k].cols);
    CHECK(g.count == int64_t(want[k].sequences.size()));
    CHECK(g.offset == int64_t(official_forward.size()));
    for (const std::vector<int32_t>& seq : want[k].sequences) {
      CHECK(int64_t(seq.size()) == T * g.seq_len());
      official_forward.insert(official_forward.end(), seq.begin(), seq.end());
    }
  }
  CHECK(p.forward == official_forward);
  CHECK(p.inverse == official_write_back(p).ids);
}

// ---- gather_rows helpers ------------------------------------------------------------------

Tensor index_tensor(const std::vector<int32_t>& v) {
  return Tensor::from_vector_i32(v, Shape{int64_t(v.size())});
}

// k/16 with |k| ≤ 100: exact in f32, f16, bf16 and f64.
Tensor exact_random(const Shape& shape, uint64_t seed) {
  std::vector<float> v = test::random(shape, seed, -100, 100).to_vector();
  for (float& x : v) x = std::round(x) / 16;
  return Tensor::from_vector(v, shape);
}

}  // namespace

// ---- (1) the partitions against the official code -----------------------------------------

TEST_CASE("window partition: real-shift partition is the official roll/slice/flatten") {
  // The shipped case (60×120, window 20, shift 10), shifts ≠ window/2, non-square maps,
  // more windows down than across, the smallest map (2×2 windows), B = 2, T = 1 and 3.
  struct Case {
    int64_t H, W, window, shift;
  };
  const std::vector<Case> cases = {{60, 120, 20, 10}, {40, 60, 20, 10}, {12, 18, 6, 2},
                                   {12, 18, 6, 4},    {15, 10, 5, 1},   {15, 10, 5, 3},
                                   {8, 12, 4, 3},     {6, 6, 3, 1},     {4, 4, 2, 1}};
  for (const Case& c : cases)
    for (const int64_t B : {1, 2})
      for (const int64_t T : {1, 3}) check_against_official(B, T, c.H, c.W, c.window, c.shift);
}

TEST_CASE("window partition: unshifted partition is the official reshape/flatten") {
  struct Case {
    int64_t H, W, window;
  };
  const std::vector<Case> cases = {{60, 120, 20}, {40, 60, 20}, {12, 18, 6},
                                   {15, 10, 5},   {5, 10, 5},   {7, 7, 7}};  // one window row; one window
  for (const Case& c : cases)
    for (const int64_t B : {1, 2})
      for (const int64_t T : {1, 3}) check_against_official(B, T, c.H, c.W, c.window, 0);
}

TEST_CASE("window partition: a shifted cell in original coordinates") {
  // 12×18 map, window 6, shift 2: row bands [0,2) [2,8) [8,12), column bands [0,2) [2,8)
  // [8,14) [14,18). Group b3 (bottom × left) is the one 4×2 cell rows 8..11, columns 0..1.
  const WindowPartition p = make_window_partition(1, 2, 12, 18, 6, 2);
  const WindowGroup& b3 = p.groups[2];
  REQUIRE(b3.name == "b3");
  CHECK(b3.rows == 4);
  CHECK(b3.cols == 2);
  CHECK(b3.count == 1);
  std::vector<int32_t> want;
  for (int t = 0; t < 2; ++t)
    for (int y = 8; y < 12; ++y)
      for (int x = 0; x < 2; ++x) want.push_back(int32_t((t * 12 + y) * 18 + x));
  const std::vector<int32_t> got(p.forward.begin() + b3.offset,
                                 p.forward.begin() + b3.offset + 2 * b3.seq_len());
  CHECK(got == want);
}

// ---- (2) forward and inverse are inverse permutations --------------------------------------

TEST_CASE("window partition: forward and inverse are inverse permutations") {
  for (const int64_t shift : {0, 3, 7, 10, 19}) {
    CAPTURE(shift);
    const WindowPartition p = make_window_partition(2, 3, 40, 60, 20, shift);
    const size_t n = size_t(2 * 3 * 40 * 60);
    REQUIRE(p.forward.size() == n);
    REQUIRE(p.inverse.size() == n);
    std::vector<bool> seen(n, false);
    bool ok = true;
    for (size_t i = 0; i < n; ++i) {
      const int32_t r = p.forward[i];
      ok = ok && r >= 0 && size_t(r) < n && !seen[size_t(r)] && p.inverse[size_t(r)] == int32_t(i);
      if (r >= 0 && size_t(r) < n) seen[size_t(r)] = true;
    }
    CHECK(ok);
    for (size_t r = 0; r < n; ++r) ok = ok && p.forward[size_t(p.inverse[r])] == int32_t(r);
    CHECK(ok);
    // The groups tile the partitioned rows back to back.
    int64_t next = 0;
    for (const WindowGroup& g : p.groups) {
      CHECK(g.offset == next);
      CHECK(g.count > 0);
      next += g.count * p.T * g.seq_len();
    }
    CHECK(next == int64_t(n));
  }
}

// ---- (3) the TV3S grid ---------------------------------------------------------------------

TEST_CASE("window partition: the 60x120 grid of model-spec §5.3 (28 shifted, 18 unshifted)") {
  struct Want {
    const char* name;
    int64_t rows, cols, count;
  };
  const std::vector<Want> want = {{"main", 20, 20, 10}, {"a1", 10, 10, 1}, {"b3", 10, 10, 1},
                                  {"c3", 10, 10, 1},    {"d", 10, 10, 1},  {"b1", 20, 10, 2},
                                  {"b2", 20, 10, 2},    {"c1", 10, 20, 5}, {"c2", 10, 20, 5}};
  for (const int64_t B : {1, 3}) {
    CAPTURE(B);
    const WindowPartition shifted = make_window_partition(B, 4, 60, 120, 20, 10);
    REQUIRE(shifted.groups.size() == want.size());
    int64_t sequences = 0, offset = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      const WindowGroup& g = shifted.groups[k];
      CAPTURE(want[k].name);
      CHECK(g.name == want[k].name);
      CHECK(g.rows == want[k].rows);
      CHECK(g.cols == want[k].cols);
      CHECK(g.count == B * want[k].count);
      CHECK(g.offset == offset);
      CHECK(4 * g.seq_len() == 4 * want[k].rows * want[k].cols);  // 1600 / 400 / 800 tokens
      sequences += g.count;
      offset += g.count * 4 * g.seq_len();
    }
    CHECK(sequences == B * 28);
    CHECK(offset == B * 4 * 60 * 120);

    const WindowPartition plain = make_window_partition(B, 4, 60, 120, 20, 0);
    REQUIRE(plain.groups.size() == 1);
    CHECK(plain.groups[0].name == "windows");
    CHECK(plain.groups[0].rows == 20);
    CHECK(plain.groups[0].cols == 20);
    CHECK(plain.groups[0].count == B * 18);
    CHECK(plain.groups[0].offset == 0);
    CHECK(plain.forward.size() == size_t(B * 4 * 60 * 120));
  }
  // A general shift: top/left strips of s, bottom/right strips of w − s.
  const WindowPartition p = make_window_partition(1, 1, 60, 120, 20, 7);
  CHECK(p.groups[1].rows == 7);   // a1: 7×7
  CHECK(p.groups[1].cols == 7);
  CHECK(p.groups[4].rows == 13);  // d: 13×13
  CHECK(p.groups[4].cols == 13);
  CHECK(p.groups[5].rows == 20);  // b1: 20×7
  CHECK(p.groups[5].cols == 7);
  CHECK(p.groups[8].rows == 13);  // c2: 13×20
  CHECK(p.groups[8].cols == 20);
}

TEST_CASE("window partition: bad sizes are one-line errors naming them") {
  auto message = [](int64_t B, int64_t T, int64_t H, int64_t W, int64_t window, int64_t shift) {
    try {
      make_window_partition(B, T, H, W, window, shift);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto check = [&](const std::string& got, const std::string& part) {
    INFO(got);
    CHECK(got.find("make_window_partition") != std::string::npos);
    CHECK(got.find(part) != std::string::npos);
    CHECK(got.find('\n') == std::string::npos);
  };
  check(message(1, 1, 60, 121, 20, 10), "60×121");                // W not a multiple
  check(message(1, 1, 50, 120, 20, 0), "50×120");                 // H not a multiple
  check(message(1, 1, 60, 120, 20, 20), "shift=20");              // shift = window
  check(message(1, 1, 60, 120, 20, -1), "shift=-1");
  check(message(1, 1, 20, 120, 20, 10), "H=20");                  // one window row, shifted
  check(message(1, 1, 60, 20, 20, 10), "W=20");                   // one window column
  check(message(0, 1, 60, 120, 20, 10), "B=0");
  check(message(1, 0, 60, 120, 20, 10), "T=0");
  check(message(1, 1, 0, 120, 20, 10), "H=0");
  check(message(1, 1, 60, 120, 0, 0), "window=0");
  check(message(1, 1, 60, 120, -20, 0), "window=-20");
  check(message(100000, 1000, 60, 120, 20, 0), "i32");            // too many rows for i32
  CHECK_NOTHROW(make_window_partition(1, 1, 20, 20, 20, 0));       // one window, unshifted
}

// ---- (6) map → partition → map ----------------------------------------------------------------

TEST_CASE("gather_rows: the partitioned tokens are the official sequences; the round trip is the identity") {
  // Tokens x[r, c] = r·C + c. Each group's row range, viewed as [count, T·rows·cols, C],
  // must hold the official sequences; gathering with inverse gives x back, and the
  // gradient of the round trip is the identity too.
  const int64_t B = 2, T = 3, H = 12, W = 18, C = 5;
  for (const int64_t shift : {0, 2}) {
    CAPTURE(shift);
    const WindowPartition p = make_window_partition(B, T, H, W, 6, shift);
    std::vector<float> v(size_t(B * T * H * W * C));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
    Tensor x = Tensor::from_vector(v, {B * T * H * W, C});
    x.requires_grad_();
    const Tensor partitioned = gather_rows(x, index_tensor(p.forward));
    const std::vector<OfficialGroup> official = official_groups(B, T, H, W, 6, shift);
    REQUIRE(official.size() == p.groups.size());
    for (size_t k = 0; k < p.groups.size(); ++k) {
      const WindowGroup& g = p.groups[k];
      const int64_t L = T * g.seq_len();
      const Tensor sequences =
          partitioned.slice_outer(g.offset, g.offset + g.count * L).reshape({g.count, L, C});
      std::vector<float> want;
      for (const std::vector<int32_t>& seq : official[k].sequences)
        for (const int32_t id : seq)
          for (int64_t c = 0; c < C; ++c) want.push_back(float(id * C + c));
      test::check_close(sequences, Tensor::from_vector(want, {g.count, L, C}), 0, g.name);
    }
    const Tensor back = gather_rows(partitioned, index_tensor(p.inverse));
    test::check_close(back, x, 0, "round trip");
    const Tensor w = test::random({B * T * H * W, C}, 5);
    sum_all(mul(back, w)).backward();
    test::check_close(x.grad(), w, 0, "gradient of the round trip");
  }
}

// ---- (5) CUDA ----------------------------------------------------------------------------

TV3S_CUDA_TEST_CASE("gather_rows: CUDA round trip through the partition; device errors") {
  for (const int64_t shift : {0, 10}) {
    CAPTURE(shift);
    const WindowPartition p = make_window_partition(2, 2, 40, 60, 20, shift);
    const Tensor forward = index_tensor(p.forward).cuda(), inverse = index_tensor(p.inverse).cuda();
    for (const DType dtype : {DType::f32, DType::f16, DType::bf16}) {
      CAPTURE(dtype_name(dtype));
      Tensor x = exact_random({2 * 2 * 40 * 60, 7}, 7).to(dtype).cuda();
      x.requires_grad_();
      const Tensor partitioned = gather_rows(x, forward);
      test::check_close(partitioned, gather_rows(x.detach().cpu(), index_tensor(p.forward)), 0);
      const Tensor back = gather_rows(partitioned, inverse);
      test::check_close(back, x, 0, "round trip");
      const Tensor w = exact_random({2 * 2 * 40 * 60, 7}, 8).to(dtype).cuda();
      sum_all(mul(back, w).to(DType::f32)).backward();  // f32: an f16 sum would overflow
      test::check_close(x.grad(), w, 0, "gradient of the round trip");
    }
  }
  const Tensor x = Tensor::zeros({4, 3}).cuda();
  CHECK_THROWS_AS(gather_rows(x, index_tensor({0, 1})), Error);  // index on the CPU
  CHECK(gather_rows(x, Tensor::from_vector_i32({}, Shape{0}).cuda()).shape() == Shape{0, 3});
}
