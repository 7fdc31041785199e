// window_attention (Swin's shifted-window attention) on the CPU: hand-computed cases, an
// independent composite from other ops (pad, roll, reshape/permute window partition,
// matmul, softmax, the bias as a one-hot matrix times the table, the official mask) in f64
// for the forward and the gradients, the plain-loop reference against both, the fast CPU
// path against the reference (f64 and f32, 1 to 3 threads, identical bits across thread
// counts), f64 gradient checks, golden values from PyTorch
// (tools/gen_window_attention_fixtures.py), bad input. CUDA against CPU is tested in a
// file of its own. The family: src/ops/window_attention.cpp (the math, the reference, the
// op), src/ops/cpu/window_attention.cpp, cuda/window_attention.cu.
//
// Tolerances (relative max error, tests/test_util.h): f64 against the composite, the
// reference and PyTorch 1e-12 (the same sums in another order); f32 fast path against the
// f64 reference 1e-5 forward, 2e-5 backward.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include <omp.h>

#include "src/ops/cpu/window_attention.h"
#include "src/ops/window_attention.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// The same attention from other ops, following the official SwinTransformerBlock step by
// step: pad (the padded positions take pad_qkv), roll by (−s, −s), window partition,
// (scale·q)·kᵀ + bias (+ mask), softmax, ·v, window reverse, roll by (s, s), crop.
// Differentiable in all three inputs, so it gives reference gradients too. f64.
Tensor window_attention_composite(const Tensor& qkv, const Tensor& pad_qkv, const Tensor& table,
                                  int64_t heads, int64_t w, int64_t s, double scale) {
  const int64_t N = qkv.size(0), H = qkv.size(1), W = qkv.size(2), C = qkv.size(3) / 3;
  const int64_t D = C / heads, L = w * w;
  const int64_t Hp = (H + w - 1) / w * w, Wp = (W + w - 1) / w * w, nh = Hp / w, nw = Wp / w;
  // X̄ = the map padded with zeros, plus pad_qkv where the 0/1 tensor `padded` is 1.
  const Tensor padded =
      pad(Tensor::zeros({1, H, W, 1}, DType::f64), {0, 0, 0, 0}, {0, Hp - H, Wp - W, 0}, 1.0);
  Tensor x =
      pad(qkv, {0, 0, 0, 0}, {0, Hp - H, Wp - W, 0}) + padded * pad_qkv.reshape({1, 1, 1, 3 * C});
  if (s > 0) x = roll(x, {-s, -s}, {1, 2});
  // [N, nh, w, nw, w, 3, heads, D] → [3, N, nh, nw, heads, w, w, D] → q, k, v [B, heads, L, D].
  x = permute(x.reshape({N, nh, w, nw, w, 3, heads, D}), {5, 0, 1, 3, 6, 2, 4, 7})
          .reshape({3, N * nh * nw, heads, L, D});
  const Shape head_shape{N * nh * nw, heads, L, D};
  const Tensor q = slice(x, 0, 0, 1).reshape(head_shape), k = slice(x, 0, 1, 2).reshape(head_shape),
               v = slice(x, 0, 2, 3).reshape(head_shape);
  Tensor attn = matmul(q * scale, k, false, true);  // [B, heads, L, L]
  // The bias: one_hot [L·L, (2w−1)²] picks row idx(t, u) of the table for the pair (t, u).
  std::vector<double> one_hot(size_t(L * L * (2 * w - 1) * (2 * w - 1)), 0.0);
  for (int64_t t = 0; t < L; ++t)
    for (int64_t u = 0; u < L; ++u) {
      const int64_t idx = (t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1);
      one_hot[size_t((t * L + u) * (2 * w - 1) * (2 * w - 1) + idx)] = 1;
    }
  const Tensor bias =
      matmul(Tensor::from_vector_f64(one_hot, {L * L, (2 * w - 1) * (2 * w - 1)}), table);
  attn = attn + permute(bias.reshape({L, L, heads}), {2, 0, 1});
  if (s > 0) {
    // The official mask (BasicLayer.forward): the padded map's 3×3 slice regions, counted,
    // partitioned into windows; −100 between tokens of different regions.
    std::vector<int> region(size_t(Hp * Wp));
    const int64_t row_cuts[] = {0, Hp - w, Hp - s, Hp}, col_cuts[] = {0, Wp - w, Wp - s, Wp};
    int count = 0;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j, ++count)
        for (int64_t y = row_cuts[i]; y < row_cuts[i + 1]; ++y)
          for (int64_t xx = col_cuts[j]; xx < col_cuts[j + 1]; ++xx)
            region[size_t(y * Wp + xx)] = count;
    std::vector<double> mask(size_t(nh * nw * L * L));
    for (int64_t a = 0; a < nh; ++a)
      for (int64_t b = 0; b < nw; ++b)
        for (int64_t t = 0; t < L; ++t)
          for (int64_t u = 0; u < L; ++u) {
            const int rt = region[size_t((a * w + t / w) * Wp + b * w + t % w)];
            const int ru = region[size_t((a * w + u / w) * Wp + b * w + u % w)];
            mask[size_t(((a * nw + b) * L + t) * L + u)] = rt != ru ? -100.0 : 0.0;
          }
    attn = attn.reshape({N, nh * nw, heads, L, L}) +
           Tensor::from_vector_f64(mask, {1, nh * nw, 1, L, L});
    attn = attn.reshape({N * nh * nw, heads, L, L});
  }
  // [B, heads, L, D] → [N, nh, nw, heads, w, w, D] → [N, nh, w, nw, w, heads, D] → map.
  Tensor o = matmul(softmax(attn, -1), v).reshape({N, nh, nw, heads, w, w, D});
  o = permute(o, {0, 1, 4, 2, 5, 3, 6}).reshape({N, Hp, Wp, C});
  if (s > 0) o = roll(o, {s, s}, {1, 2});
  return slice(slice(o, 1, 0, H), 2, 0, W);
}

struct Case {
  int64_t N, H, W, heads, D, window, shift;
};

// Shift 0 and > 0, with and without padding, heads 1–3, N = 2, windows 2, 3, 4, 7.
const std::vector<Case> kCases = {
    {1, 4, 4, 1, 2, 2, 0},   // no padding, no shift
    {1, 4, 6, 2, 3, 2, 1},   // no padding, shifted
    {2, 5, 7, 3, 2, 3, 0},   // padded both ways, no shift
    {2, 5, 4, 2, 3, 3, 1},   // window 3 shift 1, padded
    {1, 9, 11, 2, 4, 7, 3},  // window 7 shift 3 at 9×11 (padded to 14×14)
    {1, 6, 3, 3, 1, 4, 2},   // one window across, padded, shifted
};

struct Inputs {
  Tensor qkv, pad_qkv, table;
};
Inputs random_inputs(const Case& c, uint64_t seed, bool requires_grad, DType dtype = DType::f64) {
  const int64_t C = c.heads * c.D, offsets = (2 * c.window - 1) * (2 * c.window - 1);
  return {random({c.N, c.H, c.W, 3 * C}, seed, -2, 2, requires_grad, dtype),
          random({3 * C}, seed + 1, -2, 2, requires_grad, dtype),
          random({offsets, c.heads}, seed + 2, -2, 2, requires_grad, dtype)};
}

WindowAttentionDims dims_of(const Case& c, const Tensor& qkv) {
  return window_attention_dims(qkv, c.heads, c.window, c.shift);
}

// The reference's or the fast path's output and gradients, in the inputs' dtype.
Tensor forward_of(const Inputs& in, const WindowAttentionDims& d, double scale, bool fast) {
  Tensor out = Tensor::empty({d.N, d.H, d.W, d.C}, in.qkv.dtype());
  if (fast)
    cpu::window_attention_forward(in.qkv, in.pad_qkv, in.table, d, scale, out);
  else
    window_attention_reference_forward(in.qkv, in.pad_qkv, in.table, d, scale, out);
  return out;
}
std::vector<Tensor> backward_of(const Inputs& in, const Tensor& dout, const WindowAttentionDims& d,
                                double scale, bool fast) {
  Tensor dqkv = Tensor::full(in.qkv.shape(), NAN, in.qkv.dtype());  // NaN: "written in full"
  Tensor dpad = Tensor::full(in.pad_qkv.shape(), NAN, in.qkv.dtype());
  Tensor dtable = Tensor::full(in.table.shape(), NAN, in.qkv.dtype());
  if (fast)
    cpu::window_attention_backward(in.qkv, in.pad_qkv, in.table, dout, d, scale, dqkv, dpad,
                                   dtable);
  else
    window_attention_reference_backward(in.qkv, in.pad_qkv, in.table, dout, d, scale, dqkv, dpad,
                                        dtable);
  return {dqkv, dpad, dtable};
}

const char* const kGradNames[] = {"dqkv", "dpad_qkv", "dtable"};

}  // namespace

TEST_CASE("window_attention: hand-computed values (1 head, D = 1, window 2, a 2×3 map)") {
  // qkv [1, 2, 3, 3] = (q, k, v) per position. The map is padded to 2×4: column 3 takes
  // pad_qkv = (0, 0, 100). Two windows: columns 0–1 and columns 2–3.
  // q = ln 2 everywhere, k = 1 at (0, 0) and 0 elsewhere, v = 10·y + x + 1:
  //   v = [[1, 2, 3], [11, 12, 13]], the padded column v = 100. scale = 1.
  // table[j] = ln(j + 1) (3×3 = 9 offsets), so the weight of key u for query t is
  // ∝ (idx(t, u) + 1), times 2 for the key at (0, 0) (q·k = ln 2), where
  // idx(t, u) = (ti − ui + 1)·3 + (tj − uj + 1), tokens in window order
  // (0,0) (0,1) (1,0) (1,1).
  // Window 0, keys v = (1, 2, 11, 12):
  //   t = (0,0): idx 4, 3, 1, 0 → weights 5·2, 4, 2, 1 (17):  o = (10 + 8 + 22 + 12)/17 = 52/17
  //   t = (0,1): idx 5, 4, 2, 1 → 6·2, 5, 3, 2 (22):         o = (12 + 10 + 33 + 24)/22 = 79/22
  //   t = (1,0): idx 7, 6, 4, 3 → 8·2, 7, 5, 4 (32):         o = (16 + 14 + 55 + 48)/32 = 133/32
  //   t = (1,1): idx 8, 7, 5, 4 → 9·2, 8, 6, 5 (37):         o = (18 + 16 + 66 + 60)/37 = 160/37
  // Window 1, keys v = (3, 100, 13, 100) (the padded ones are keys too), no k = 1 there:
  //   t = (0,0) = map (0, 2): 5, 4, 2, 1 (12): o = (15 + 400 + 26 + 100)/12 = 541/12
  //   t = (1,0) = map (1, 2): 8, 7, 5, 4 (24): o = (24 + 700 + 65 + 400)/24 = 1189/24
  const double ln2 = std::log(2.0);
  std::vector<double> qkv;
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      qkv.push_back(ln2);
      qkv.push_back(y == 0 && x == 0 ? 1 : 0);
      qkv.push_back(10 * y + x + 1);
    }
  std::vector<double> table;
  for (int j = 0; j < 9; ++j) table.push_back(std::log(j + 1.0));
  const Inputs in{Tensor::from_vector_f64(qkv, {1, 2, 3, 3}),
                  Tensor::from_vector_f64({0, 0, 100}, {3}),
                  Tensor::from_vector_f64(table, {9, 1})};
  const Tensor want = Tensor::from_vector_f64(
      {52.0 / 17, 79.0 / 22, 541.0 / 12, 133.0 / 32, 160.0 / 37, 1189.0 / 24}, {1, 2, 3, 1});
  check_close(window_attention(in.qkv, in.pad_qkv, in.table, 1, 2, 0, 1.0), want, 1e-15, "op f64");
  check_close(window_attention(in.qkv.to(DType::f32), in.pad_qkv.to(DType::f32),
                               in.table.to(DType::f32), 1, 2, 0, 1.0),
              want, 1e-6, "op f32");
  const WindowAttentionDims d = window_attention_dims(in.qkv, 1, 2, 0);
  check_close(forward_of(in, d, 1.0, false), want, 1e-15, "reference");

  // Shift 1, q = k = 0 and a zero table: uniform weights among the keys of the query's mask
  // region. The rolled 2×4 map R[y, x] = X̄[(y + 1) mod 2, (x + 1) mod 4]; row bands
  // (rolled row 0 → 1, row 1 → 2), column bands (columns 0, 1 → 0, 2 → 1, 3 → 2).
  //   Window 0: X̄(1,1) v 12 and X̄(1,2) v 13 (region (1,0)), X̄(0,1) v 2 and X̄(0,2) v 3
  //   (region (2,0)): outputs (12 + 13)/2 = 12.5 at (1,1), (1,2); (2 + 3)/2 = 2.5 at (0,1), (0,2).
  //   Window 1: X̄(1,3) pad, X̄(1,0) v 11, X̄(0,3) pad, X̄(0,0) v 1: four regions, so each
  //   query sees only itself (the others at weight e^−100): 11 at (1,0), 1 at (0,0).
  for (size_t i = 0; i < qkv.size(); i += 3) qkv[i] = qkv[i + 1] = 0;
  const Inputs shifted{Tensor::from_vector_f64(qkv, {1, 2, 3, 3}), in.pad_qkv,
                       Tensor::zeros({9, 1}, DType::f64)};
  const Tensor want_shifted = Tensor::from_vector_f64({1, 2.5, 2.5, 11, 12.5, 12.5}, {1, 2, 3, 1});
  check_close(window_attention(shifted.qkv, shifted.pad_qkv, shifted.table, 1, 2, 1, 1.0),
              want_shifted, 1e-15, "op shifted");
  check_close(forward_of(shifted, window_attention_dims(shifted.qkv, 1, 2, 1), 1.0, false),
              want_shifted, 1e-15, "reference shifted");
}

TEST_CASE(
    "window_attention: the op and the reference match the composite in f64 (forward, gradients)") {
  uint64_t seed = 1000;
  for (const Case& c : kCases) {
    CAPTURE(c.N);
    CAPTURE(c.H);
    CAPTURE(c.W);
    CAPTURE(c.heads);
    CAPTURE(c.window);
    CAPTURE(c.shift);
    seed += 10;
    const double scale = 1 / std::sqrt(double(c.D));
    const Inputs mine = random_inputs(c, seed, true), theirs = random_inputs(c, seed, true);
    const Tensor dout = random({c.N, c.H, c.W, c.heads * c.D}, seed + 5, -1, 1, false, DType::f64);
    const Tensor want = window_attention_composite(theirs.qkv, theirs.pad_qkv, theirs.table,
                                                   c.heads, c.window, c.shift, scale);
    sum_all(want * dout).backward();
    const Tensor got =
        window_attention(mine.qkv, mine.pad_qkv, mine.table, c.heads, c.window, c.shift, scale);
    check_close(got, want, 1e-12, "op");
    sum_all(got * dout).backward();
    check_close(mine.qkv.grad(), theirs.qkv.grad(), 1e-12, "op dqkv");
    check_close(mine.pad_qkv.grad(), theirs.pad_qkv.grad(), 1e-12, "op dpad_qkv");
    check_close(mine.table.grad(), theirs.table.grad(), 1e-12, "op dtable");

    const Inputs plain{mine.qkv.detach(), mine.pad_qkv.detach(), mine.table.detach()};
    const WindowAttentionDims d = dims_of(c, plain.qkv);
    check_close(forward_of(plain, d, scale, false), want, 1e-12, "reference");
    const std::vector<Tensor> grads = backward_of(plain, dout, d, scale, false);
    check_close(grads[0], theirs.qkv.grad(), 1e-12, "reference dqkv");
    check_close(grads[1], theirs.pad_qkv.grad(), 1e-12, "reference dpad_qkv");
    check_close(grads[2], theirs.table.grad(), 1e-12, "reference dtable");
  }
}

TEST_CASE(
    "window_attention: the fast CPU path matches the reference, f64 and f32, 1 to 3 threads") {
  // kCases, and a Swin-T stage-1-like shape cut down (window 7, shift 3, 3 heads of D = 32,
  // 16 windows over two images: enough work for threads).
  std::vector<Case> cases = kCases;
  cases.push_back({2, 14, 13, 3, 32, 7, 3});
  const int saved = omp_get_max_threads();
  uint64_t seed = 2000;
  for (const Case& c : cases) {
    CAPTURE(c.N);
    CAPTURE(c.H);
    CAPTURE(c.W);
    CAPTURE(c.heads);
    CAPTURE(c.window);
    CAPTURE(c.shift);
    seed += 10;
    const double scale = 1 / std::sqrt(double(c.D));
    const Inputs in = random_inputs(c, seed, false);
    const Tensor dout = random({c.N, c.H, c.W, c.heads * c.D}, seed + 5, -1, 1, false, DType::f64);
    const WindowAttentionDims d = dims_of(c, in.qkv);
    const Tensor want = forward_of(in, d, scale, false);
    const std::vector<Tensor> want_grads = backward_of(in, dout, d, scale, false);
    const Inputs in32{in.qkv.to(DType::f32), in.pad_qkv.to(DType::f32), in.table.to(DType::f32)};
    Tensor first;                     // the f64 fast path's results with one thread: every
    std::vector<Tensor> first_grads;  // other thread count must give the same bits
    for (const int threads : {1, 2, 3}) {
      CAPTURE(threads);
      omp_set_num_threads(threads);
      const Tensor got = forward_of(in, d, scale, true);
      check_close(got, want, 1e-12, "out f64");
      const std::vector<Tensor> grads = backward_of(in, dout, d, scale, true);
      for (size_t i = 0; i < 3; ++i) check_close(grads[i], want_grads[i], 1e-12, kGradNames[i]);
      if (threads == 1) {
        first = got;
        first_grads = grads;
      } else {
        check_close(got, first, 0, "out: same bits as one thread");
        for (size_t i = 0; i < 3; ++i) check_close(grads[i], first_grads[i], 0, kGradNames[i]);
      }
      const Tensor got32 = forward_of(in32, d, scale, true);
      CHECK(got32.dtype() == DType::f32);
      check_close(got32, want, 1e-5, "out f32");
      const std::vector<Tensor> grads32 = backward_of(in32, dout.to(DType::f32), d, scale, true);
      for (size_t i = 0; i < 3; ++i) check_close(grads32[i], want_grads[i], 2e-5, kGradNames[i]);
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("window_attention: the f32 reference matches the f64 reference") {
  const Case c{2, 5, 4, 3, 2, 3, 1};
  const Inputs in = random_inputs(c, 2500, false);
  const Inputs in32{in.qkv.to(DType::f32), in.pad_qkv.to(DType::f32), in.table.to(DType::f32)};
  const Tensor dout = random({c.N, c.H, c.W, c.heads * c.D}, 2505, -1, 1, false, DType::f64);
  const WindowAttentionDims d = dims_of(c, in.qkv);
  check_close(forward_of(in32, d, 0.7, false), forward_of(in, d, 0.7, false), 1e-5, "out");
  const std::vector<Tensor> want = backward_of(in, dout, d, 0.7, false);
  const std::vector<Tensor> got = backward_of(in32, dout.to(DType::f32), d, 0.7, false);
  for (size_t i = 0; i < 3; ++i) check_close(got[i], want[i], 2e-5, kGradNames[i]);
}

TEST_CASE("window_attention: gradcheck in f64 of qkv, pad_qkv and bias_table") {
  for (const Case& c :
       {Case{1, 3, 5, 2, 2, 2, 1}, Case{2, 4, 4, 1, 3, 3, 0}, Case{1, 5, 5, 1, 2, 3, 2}}) {
    CAPTURE(c.H);
    CAPTURE(c.W);
    CAPTURE(c.window);
    CAPTURE(c.shift);
    const Inputs in = random_inputs(c, 3000 + uint64_t(c.H * 10 + c.shift), true);
    gradcheck(
        [c](const std::vector<Tensor>& x) {
          return window_attention(x[0], x[1], x[2], c.heads, c.window, c.shift, 0.8);
        },
        {in.qkv, in.pad_qkv, in.table});
  }
  // Only the table needs a gradient.
  const Case c{1, 3, 3, 1, 2, 2, 1};
  const Inputs in = random_inputs(c, 3100, false);
  gradcheck(
      [](const std::vector<Tensor>& x) { return window_attention(x[0], x[1], x[2], 1, 2, 1, 1.0); },
      {in.qkv, in.pad_qkv, in.table.clone().requires_grad_()});
}

namespace {
Tensor tensor_from(const nlohmann::json& j) {
  return Tensor::from_vector_f64(j["data"].get<std::vector<double>>(),
                                 Shape(j["shape"].get<std::vector<int64_t>>()));
}
}  // namespace

TEST_CASE(
    "window_attention: golden values from the official Swin code in PyTorch (f64, rel 1e-12)") {
  // tools/gen_window_attention_fixtures.py: swin2.py's block (pad, roll, partition,
  // WindowAttention without proj, reverse, roll back, crop) from the qkv Linear's output.
  const std::string path = TV3S_SOURCE_DIR "/tests/data/swin/window_attention_golden.json";
  std::ifstream file(path);
  REQUIRE_MESSAGE(file.good(), "missing ", path,
                  " (python3 tools/gen_window_attention_fixtures.py)");
  const nlohmann::json golden = nlohmann::json::parse(file);
  int checked = 0;
  for (const nlohmann::json& g : golden["cases"]) {
    const int64_t heads = g["heads"], window = g["window"], shift = g["shift"];
    const double scale = g["scale"];
    CAPTURE(g["H"].get<int64_t>());
    CAPTURE(g["W"].get<int64_t>());
    CAPTURE(window);
    CAPTURE(shift);
    const Tensor qkv = tensor_from(g["qkv"]).requires_grad_();
    const Tensor pad_qkv = tensor_from(g["pad_qkv"]).requires_grad_();
    const Tensor table = tensor_from(g["bias_table"]).requires_grad_();
    const Tensor out = window_attention(qkv, pad_qkv, table, heads, window, shift, scale);
    check_close(out, tensor_from(g["output"]), 1e-12, "output");
    sum_all(out * tensor_from(g["weight"])).backward();
    check_close(qkv.grad(), tensor_from(g["dqkv"]), 1e-12, "dqkv");
    check_close(pad_qkv.grad(), tensor_from(g["dpad"]), 1e-12, "dpad_qkv");
    check_close(table.grad(), tensor_from(g["dtable"]), 1e-12, "dtable");
    // The model's qkv bias gets both: d pad_qkv and the sum of dqkv over the real positions.
    const Tensor dbias = pad_qkv.grad() + sum(qkv.grad().reshape({-1, qkv.size(3)}), 0);
    check_close(dbias, tensor_from(g["dbias"]), 1e-12, "dbias");
    ++checked;
  }
  CHECK(checked == 4);
}

TEST_CASE("window_attention: empty map and empty batch") {
  for (const Shape& shape : {Shape{0, 4, 4, 6}, Shape{1, 0, 3, 6}}) {
    const Tensor qkv = Tensor::zeros(shape, DType::f64).requires_grad_();
    const Tensor pad_qkv = random({6}, 1, -1, 1, true, DType::f64);
    const Tensor table = random({9, 2}, 2, -1, 1, true, DType::f64);
    const Tensor out = window_attention(qkv, pad_qkv, table, 2, 2, 1, 1.0);
    CHECK(out.shape() == Shape{shape[0], shape[1], shape[2], 2});
    sum_all(out).backward();
    check_close(pad_qkv.grad(), Tensor::zeros({6}, DType::f64), 0, "dpad_qkv");
    check_close(table.grad(), Tensor::zeros({9, 2}, DType::f64), 0, "dtable");
  }
}

TEST_CASE("window_attention: bad input") {
  const Tensor qkv = random({1, 5, 5, 12}, 1), pad_qkv = random({12}, 2), table = random({9, 2}, 3);
  CHECK_NOTHROW(window_attention(qkv, pad_qkv, table, 2, 2, 1, 0.5));
  CHECK_THROWS_WITH(window_attention(qkv.reshape({1, 25, 12}), pad_qkv, table, 2, 2, 1, 0.5),
                    doctest::Contains("needs qkv [N, H, W, 3C]"));
  CHECK_THROWS_WITH(window_attention(random({1, 5, 5, 13}, 4), pad_qkv, table, 2, 2, 1, 0.5),
                    doctest::Contains("last dim must be 3C"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, random({9, 3}, 4), 3, 2, 1, 0.5),
                    doctest::Contains("do not split into 3 heads"));  // C = 4
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, table, 0, 2, 1, 0.5),
                    doctest::Contains("do not split into 0 heads"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, random({1, 2}, 4), 2, 0, 0, 0.5),
                    doctest::Contains("window must be ≥ 1"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, table, 2, 2, 2, 0.5),
                    doctest::Contains("shift must be in [0, window) = [0, 2), got 2"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, table, 2, 2, -1, 0.5),
                    doctest::Contains("shift must be in [0, window)"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, random({25, 2}, 4), 2, 2, 1, 0.5),
                    doctest::Contains("bias_table must be [(2·window − 1)², heads] = [9, 2]"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, random({9, 1}, 4), 2, 2, 1, 0.5),
                    doctest::Contains("bias_table must be"));
  CHECK_THROWS_WITH(window_attention(qkv, random({4}, 4), table, 2, 2, 1, 0.5),
                    doctest::Contains("pad_qkv must be [3C] = [12]"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv.to(DType::f64), table, 2, 2, 1, 0.5),
                    doctest::Contains("window_attention: dtype mismatch"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, table.to(DType::f64), 2, 2, 1, 0.5),
                    doctest::Contains("window_attention: dtype mismatch"));
  CHECK_THROWS_WITH(window_attention(qkv.to(DType::f16), pad_qkv.to(DType::f16),
                                     table.to(DType::f16), 2, 2, 1, 0.5),
                    doctest::Contains("window_attention: CPU arithmetic is f32 or f64"));
  CHECK_THROWS_WITH(window_attention(qkv, pad_qkv, table, 2, 2, 1, NAN),
                    doctest::Contains("scale must be finite"));
  CHECK_THROWS_WITH(window_attention(Tensor(), pad_qkv, table, 2, 2, 1, 0.5),
                    doctest::Contains("window_attention: input tensor is undefined"));
}
