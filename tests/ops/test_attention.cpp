// attention: a hand-computed case, an independent composite (permute + matmul + softmax per
// head, in f64) for the forward and its gradients, the plain-loop reference against both,
// the fast CPU path against the reference (forward and backward, f64 and f32, 1 to 3
// threads), large logits, f64 gradient checks, bad input, CUDA against CPU. The attention
// family: src/ops/attention.cpp (the reference), src/ops/cpu/attention.cpp,
// cuda/attention.cu.
//
// Tolerances: the fast path vs the reference in f64 1e-13 forward, 1e-12 backward (as
// against the composite: the same sums in another order); f32 vs the f64 reference 1e-5
// forward (as against the composite) and 2e-5 backward (the f32 GEMM sums over S and L,
// and exp8).
#include <cmath>
#include <vector>

#include <omp.h>

#include "src/ops/attention.h"
#include "src/ops/cpu/attention.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// The same attention from other ops: [N, T, H·D] → heads [N, H, T, D], softmax(scale·Q·Kᵀ)·V,
// and back to [N, L, H·D]. Differentiable, so it gives reference gradients too.
Tensor attention_composite(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                           double scale) {
  auto split_heads = [heads](const Tensor& x) {
    const int64_t D = x.size(2) / heads;
    return permute(x.reshape(Shape{x.size(0), x.size(1), heads, D}), {0, 2, 1, 3});
  };
  const Tensor p = softmax(matmul(split_heads(q), split_heads(k), false, true) * scale, -1);
  return permute(matmul(p, split_heads(v)), {0, 2, 1, 3}).reshape(q.shape());
}

struct Case {
  int64_t N, L, S, H, D;
};

// L past one CPU query block (128) and not a multiple of it; S = 1; odd sizes everywhere.
const std::vector<Case> kCpuCases = {{1, 5, 7, 1, 4}, {2, 9, 3, 3, 5}, {1, 4, 1, 2, 3},
                                     {2, 300, 37, 2, 8}, {1, 1, 6, 4, 2}};

}  // namespace

TEST_CASE("attention: hand-computed values (L = 2, S = 3, D = 2)") {
  // q = [[1, 0], [0, 1]], k = [[1, 0], [0, 1], [1, 1]], v = [[1, 2], [3, 4], [5, 6]], scale 1.
  // Scores: row 0 [1, 0, 1], row 1 [0, 1, 1]. With e = exp(1):
  //   o₀ = (e·v₀ + v₁ + e·v₂) / (2e + 1) = ((6e + 3), (8e + 4)) / (2e + 1) = (3, 4)
  //   o₁ = (v₀ + e·v₁ + e·v₂) / (2e + 1) = ((1 + 8e), (2 + 10e)) / (2e + 1)
  const Tensor q = Tensor::from_vector({1, 0, 0, 1}, {1, 2, 2});
  const Tensor k = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {1, 3, 2});
  const Tensor v = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {1, 3, 2});
  const double e = std::exp(1.0);
  const Tensor want = Tensor::from_vector_f64(
      {3, 4, (1 + 8 * e) / (2 * e + 1), (2 + 10 * e) / (2 * e + 1)}, {1, 2, 2});
  check_close(attention(q, k, v, 1, 1.0), want, 1e-6, "f32");
  check_close(attention(q.to(DType::f64), k.to(DType::f64), v.to(DType::f64), 1, 1.0), want,
              1e-15, "f64");
  // Scale 0 gives uniform weights: every row is the mean of v, (3, 4).
  check_close(attention(q, k, v, 1, 0.0), Tensor::from_vector({3, 4, 3, 4}, {1, 2, 2}), 1e-6,
              "scale 0");
  // Two heads of D = 1 over the same numbers laid out as channels: head h reads column h.
  // Head 0: q (1, 0), k (1, 0, 1), v (1, 3, 5); head 1: q (0, 1), k (0, 1, 1), v (2, 4, 6).
  //   head 0: o = (e·1 + 3 + e·5)/(2e + 1) = 3 for query 0; (1 + 3 + 5)/3 = 3 for query 1
  //   head 1: o = (2 + 4 + 6)/3 = 4 for query 0; (2 + e·4 + e·6)/(2e + 1) for query 1
  const Tensor want_heads =
      Tensor::from_vector_f64({3, 4, 3, (2 + 10 * e) / (2 * e + 1)}, {1, 2, 2});
  check_close(attention(q, k, v, 2, 1.0), want_heads, 1e-6, "two heads of D = 1");
}

TEST_CASE("attention: against matmul + softmax per head, f64 and f32") {
  uint64_t seed = 100;
  for (const Case& c : kCpuCases) {
    CAPTURE(c.N);
    CAPTURE(c.L);
    CAPTURE(c.S);
    CAPTURE(c.H);
    CAPTURE(c.D);
    const Tensor q = random({c.N, c.L, c.H * c.D}, ++seed, -2, 2, false, DType::f64);
    const Tensor k = random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, false, DType::f64);
    const Tensor v = random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, false, DType::f64);
    const double scale = 1 / std::sqrt(double(c.D));
    const Tensor want = attention_composite(q, k, v, c.H, scale);
    check_close(attention(q, k, v, c.H, scale), want, 1e-13, "f64");
    const Tensor got32 =
        attention(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32), c.H, scale);
    CHECK(got32.dtype() == DType::f32);
    check_close(got32, want, 1e-5, "f32");
  }
}

namespace {
// o and lse of the reference or of the fast path, in the inputs' dtype.
struct Forward {
  Tensor o, lse;
};
Forward forward_of(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads, double scale,
                   bool fast) {
  Forward f{Tensor::empty(q.shape(), q.dtype()),
            Tensor::empty(Shape{q.size(0), heads, q.size(1)}, q.dtype())};
  if (fast) cpu::attention_forward(q, k, v, heads, scale, f.o, f.lse);
  else attention_reference_forward(q, k, v, heads, scale, f.o, f.lse);
  return f;
}
std::vector<Tensor> backward_of(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Forward& f, const Tensor& dout, int64_t heads, double scale,
                                bool fast) {
  Tensor dq = Tensor::empty(q.shape(), q.dtype()), dk = Tensor::empty(k.shape(), k.dtype()),
         dv = Tensor::empty(v.shape(), v.dtype());
  if (fast) cpu::attention_backward(q, k, v, f.o, f.lse, dout, heads, scale, dq, dk, dv);
  else attention_reference_backward(q, k, v, f.o, f.lse, dout, heads, scale, dq, dk, dv);
  return {dq, dk, dv};
}
}  // namespace

TEST_CASE("attention: the reference against hand-computed values and the composite") {
  const Tensor q = Tensor::from_vector_f64({1, 0, 0, 1}, {1, 2, 2});
  const Tensor k = Tensor::from_vector_f64({1, 0, 0, 1, 1, 1}, {1, 3, 2});
  const Tensor v = Tensor::from_vector_f64({1, 2, 3, 4, 5, 6}, {1, 3, 2});
  const double e = std::exp(1.0);  // the values of the hand-computed case above
  check_close(forward_of(q, k, v, 1, 1.0, false).o,
              Tensor::from_vector_f64({3, 4, (1 + 8 * e) / (2 * e + 1), (2 + 10 * e) / (2 * e + 1)},
                                      {1, 2, 2}),
              1e-15, "hand-computed");
  uint64_t seed = 150;
  for (const Case& c : kCpuCases) {
    CAPTURE(c.L);
    CAPTURE(c.S);
    CAPTURE(c.H);
    const double scale = 0.7;
    std::vector<Tensor> in = {random({c.N, c.L, c.H * c.D}, ++seed, -2, 2, true, DType::f64),
                              random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, true, DType::f64),
                              random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, true, DType::f64)};
    const Tensor dout = random({c.N, c.L, c.H * c.D}, ++seed, 0.5, 1.5, false, DType::f64);
    sum_all(attention_composite(in[0], in[1], in[2], c.H, scale) * dout).backward();
    const Tensor q = in[0].detach(), k = in[1].detach(), v = in[2].detach();
    const Forward f = forward_of(q, k, v, c.H, scale, false);
    check_close(f.o, attention_composite(q, k, v, c.H, scale), 1e-13, "o");
    const std::vector<Tensor> grads = backward_of(q, k, v, f, dout, c.H, scale, false);
    check_close(grads[0], in[0].grad(), 1e-12, "dq");
    check_close(grads[1], in[1].grad(), 1e-12, "dk");
    check_close(grads[2], in[2].grad(), 1e-12, "dv");
  }
}

TEST_CASE("attention: the fast CPU path matches the reference, f64 and f32, 1 to 3 threads") {
  // kCpuCases, and enough work for threads: 32 heads (one chunk of query blocks per head,
  // dK and dV in place) and L = 700 on one head (six blocks in several chunks: partials).
  std::vector<Case> cases = kCpuCases;
  cases.push_back({4, 100, 30, 8, 4});
  cases.push_back({1, 700, 20, 1, 16});
  const int saved = omp_get_max_threads();
  uint64_t seed = 170;
  for (const int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (const Case& c : cases) {
      CAPTURE(threads);
      CAPTURE(c.L);
      CAPTURE(c.S);
      CAPTURE(c.H);
      const double scale = 1 / std::sqrt(double(c.D));
      const Tensor q = random({c.N, c.L, c.H * c.D}, ++seed, -2, 2, false, DType::f64);
      const Tensor k = random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, false, DType::f64);
      const Tensor v = random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, false, DType::f64);
      const Tensor dout = random({c.N, c.L, c.H * c.D}, ++seed, -1, 1, false, DType::f64);
      const Forward want = forward_of(q, k, v, c.H, scale, false);
      const std::vector<Tensor> want_grads = backward_of(q, k, v, want, dout, c.H, scale, false);
      const Forward got = forward_of(q, k, v, c.H, scale, true);
      check_close(got.o, want.o, 1e-13, "o f64");
      check_close(got.lse, want.lse, 1e-13, "lse f64");
      const std::vector<Tensor> grads = backward_of(q, k, v, got, dout, c.H, scale, true);
      const char* names[] = {"dq", "dk", "dv"};
      for (size_t i = 0; i < 3; ++i) check_close(grads[i], want_grads[i], 1e-12, names[i]);
      const Tensor q32 = q.to(DType::f32), k32 = k.to(DType::f32), v32 = v.to(DType::f32);
      const Forward got32 = forward_of(q32, k32, v32, c.H, scale, true);
      check_close(got32.o, want.o, 1e-5, "o f32");
      check_close(got32.lse, want.lse, 1e-5, "lse f32");
      const std::vector<Tensor> grads32 =
          backward_of(q32, k32, v32, got32, dout.to(DType::f32), c.H, scale, true);
      for (size_t i = 0; i < 3; ++i) check_close(grads32[i], want_grads[i], 2e-5, names[i]);
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("attention: gradients equal the composite's in f64") {
  // Covers both ways the CPU backward sums dK/dV: in place (one chunk of query blocks per
  // head) and through per-chunk partials (L = 300: three blocks, several chunks).
  uint64_t seed = 200;
  for (const Case& c : kCpuCases) {
    CAPTURE(c.L);
    CAPTURE(c.S);
    CAPTURE(c.H);
    const double scale = 0.7;
    std::vector<Tensor> mine = {random({c.N, c.L, c.H * c.D}, ++seed, -2, 2, true, DType::f64),
                                random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, true, DType::f64),
                                random({c.N, c.S, c.H * c.D}, ++seed, -2, 2, true, DType::f64)};
    std::vector<Tensor> theirs;
    for (const Tensor& x : mine) theirs.push_back(x.detach().clone().requires_grad_());
    const Tensor w = random({c.N, c.L, c.H * c.D}, ++seed, 0.5, 1.5, false, DType::f64);
    sum_all(attention(mine[0], mine[1], mine[2], c.H, scale) * w).backward();
    sum_all(attention_composite(theirs[0], theirs[1], theirs[2], c.H, scale) * w).backward();
    check_close(mine[0].grad(), theirs[0].grad(), 1e-12, "dq");
    check_close(mine[1].grad(), theirs[1].grad(), 1e-12, "dk");
    check_close(mine[2].grad(), theirs[2].grad(), 1e-12, "dv");
  }
}

TEST_CASE("attention: gradcheck in f64 of q, k and v") {
  struct Check {
    Case c;
    double scale;
  };
  for (const Check& check : {Check{{2, 3, 4, 2, 3}, 0.5}, Check{{1, 5, 1, 1, 2}, 1.0},
                             Check{{1, 130, 6, 1, 2}, 0.8}, Check{{1, 2, 9, 3, 1}, 2.0}}) {
    const Case& c = check.c;
    CAPTURE(c.L);
    CAPTURE(c.S);
    CAPTURE(c.H);
    const int64_t heads = c.H;
    const double scale = check.scale;
    gradcheck(
        [heads, scale](const std::vector<Tensor>& in) {
          return attention(in[0], in[1], in[2], heads, scale);
        },
        {random({c.N, c.L, c.H * c.D}, 301, -1, 1, true, DType::f64),
         random({c.N, c.S, c.H * c.D}, 302, -1, 1, true, DType::f64),
         random({c.N, c.S, c.H * c.D}, 303, -1, 1, true, DType::f64)});
  }
  // Only k needs a gradient.
  gradcheck([](const std::vector<Tensor>& in) { return attention(in[0], in[1], in[2], 1, 1.0); },
            {random({1, 4, 3}, 304, -1, 1, false, DType::f64),
             random({1, 5, 3}, 305, -1, 1, true, DType::f64),
             random({1, 5, 3}, 306, -1, 1, false, DType::f64)});
}

TEST_CASE("attention: large logits (scores up to ±5000) stay finite and exact") {
  const Tensor q = random({1, 6, 4}, 401, -50, 50, false, DType::f64);
  const Tensor k = random({1, 5, 4}, 402, -50, 50, false, DType::f64);
  const Tensor v = random({1, 5, 4}, 403, -1, 1, false, DType::f64);
  const Tensor want = attention_composite(q, k, v, 2, 1.0);
  check_close(attention(q, k, v, 2, 1.0), want, 1e-13, "f64");
  const Tensor got32 = attention(q.to(DType::f32), k.to(DType::f32), v.to(DType::f32), 2, 1.0);
  for (float x : got32.to_vector()) CHECK(std::isfinite(x));
  // Rounding q and k to f32 moves scores of ~10³ by ~10⁻³, and the weights with them.
  check_close(got32, want, 1e-2, "f32");
}

TEST_CASE("attention: empty batch or no queries") {
  const Tensor q = random({1, 0, 4}, 1, -1, 1, true);
  const Tensor k = random({1, 3, 4}, 2, -1, 1, true);
  const Tensor v = random({1, 3, 4}, 3, -1, 1, true);
  const Tensor o = attention(q, k, v, 2, 0.5);
  CHECK(o.shape() == Shape{1, 0, 4});
  sum_all(o).backward();
  check_close(k.grad(), Tensor::zeros({1, 3, 4}), 0, "dk");
  check_close(v.grad(), Tensor::zeros({1, 3, 4}), 0, "dv");
}

TEST_CASE("attention: bad input") {
  const Tensor q = random({2, 5, 6}, 1), k = random({2, 4, 6}, 2), v = random({2, 4, 6}, 3);
  CHECK_NOTHROW(attention(q, k, v, 3, 1.0));
  CHECK_THROWS_AS(attention(q, k, v, 4, 1.0), tv3s::Error);    // 6 channels, 4 heads
  CHECK_THROWS_AS(attention(q, k, v, 0, 1.0), tv3s::Error);    // no heads
  CHECK_THROWS_AS(attention(q, k, random({2, 3, 6}, 4), 3, 1.0), tv3s::Error);  // S of v ≠ S of k
  CHECK_THROWS_AS(attention(q, random({2, 4, 9}, 4), random({2, 4, 9}, 5), 3, 1.0),
                  tv3s::Error);                                 // channels of k ≠ of q
  CHECK_THROWS_AS(attention(random({3, 5, 6}, 4), k, v, 3, 1.0), tv3s::Error);  // N differs
  CHECK_THROWS_AS(attention(q.reshape({10, 6}), k, v, 3, 1.0), tv3s::Error);    // not 3-D
  CHECK_THROWS_AS(attention(q, random({2, 0, 6}, 4), random({2, 0, 6}, 5), 3, 1.0),
                  tv3s::Error);                                 // no keys
  CHECK_THROWS_AS(attention(q.to(DType::f64), k, v, 3, 1.0), tv3s::Error);      // dtypes differ
  CHECK_THROWS_AS(attention(q.to(DType::f16), k.to(DType::f16), v.to(DType::f16), 3, 1.0),
                  tv3s::Error);                                 // f16 is not a CPU dtype
  CHECK_THROWS_AS(attention(q, k, v, 3, NAN), tv3s::Error);
  CHECK_THROWS_AS(attention(Tensor(), k, v, 3, 1.0), tv3s::Error);
  // The message names the problem.
  try {
    attention(q, k, v, 4, 1.0);
  } catch (const tv3s::Error& err) {
    CHECK(std::string(err.what()).find("heads") != std::string::npos);
  }
}

// --- CUDA against CPU ---------------------------------------------------------------------
// Shapes from MiT at 480×853 (B1: D = 64, S = 390/405; B0: D = 32), with L cut down where
// the CPU reference would be slow. They cover: L not a multiple of any query tile (64, 32,
// 16), S spanning many key/value tiles and ending in a partial one, S = 1, L = 1, D below
// its bound (5 → 32, 40 → 64, 100 → 128: masked dims) and D = 128 exactly, several images.

namespace {
void check_attention_backends(DType dtype, double tol) {
  const std::vector<Case> cases = {
      {1, 1000, 390, 1, 64},  // stage 1 of B1 (L cut from 25680)
      {1, 700, 390, 2, 64},   // stage 2 of B1 (L cut from 6420)
      {1, 500, 405, 5, 64},   // stage 3 of B1 (L cut from 1620)
      {1, 405, 405, 8, 64},   // stage 4 of B1, exact
      {2, 333, 130, 2, 32},   // B0-like, two images
      {1, 77, 50, 2, 100},    // D = 100 → the 128 kernels, masked tail dims
      {1, 40, 33, 1, 128},    // D = 128 exactly
      {1, 1, 70, 5, 5},       // L = 1, D = 5
  };
  uint64_t seed = 500;
  for (const Case& c : cases) {
    CAPTURE(c.N);
    CAPTURE(c.L);
    CAPTURE(c.S);
    CAPTURE(c.H);
    CAPTURE(c.D);
    const int64_t heads = c.H;
    const double scale = 1 / std::sqrt(double(c.D));
    check_backends(
        [heads, scale](const std::vector<Tensor>& in) {
          return attention(in[0], in[1], in[2], heads, scale);
        },
        {random({c.N, c.L, c.H * c.D}, ++seed, -1, 1, true),
         random({c.N, c.S, c.H * c.D}, ++seed, -1, 1, true),
         random({c.N, c.S, c.H * c.D}, ++seed, -1, 1, true)},
        tol, dtype);
  }
  // S = 1: every weight is exactly 1, so o = v and dq = dk = 0 up to rounding noise, which
  // a relative tolerance cannot judge: only v's gradient is compared.
  check_backends([](const std::vector<Tensor>& in) { return attention(in[0], in[1], in[2], 3, 0.5); },
                 {random({2, 19, 120}, ++seed), random({2, 1, 120}, ++seed),
                  random({2, 1, 120}, ++seed, -1, 1, true)},
                 tol, dtype);
}
}  // namespace

TV3S_CUDA_TEST_CASE("attention: CUDA matches CPU in f32 (rel 5e-5)") {
  check_attention_backends(DType::f32, 5e-5);
}

TV3S_CUDA_TEST_CASE("attention: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 5e-2)") {
  check_attention_backends(DType::f16, 1e-2);
  check_attention_backends(DType::bf16, 5e-2);
}

TV3S_CUDA_TEST_CASE("attention: CUDA large logits stay finite, repeated runs are identical") {
  const Tensor q = random({1, 70, 64}, 601, -8, 8), k = random({1, 45, 64}, 602, -8, 8);
  const Tensor v = random({1, 45, 64}, 603, -1, 1);
  const Tensor want = attention(q, k, v, 2, 1.0);  // scores up to ~2000
  const Tensor got = attention(q.cuda(), k.cuda(), v.cuda(), 2, 1.0);
  for (float x : got.to_vector()) CHECK(std::isfinite(x));
  check_close(got, want, 1e-3, "f32 large logits");
  // The backward has no atomics: the same gradients bit for bit on every run.
  std::vector<Tensor> grads[2];
  for (auto& g : grads) {
    std::vector<Tensor> in = {q.cuda().requires_grad_(), k.cuda().requires_grad_(),
                              v.cuda().requires_grad_()};
    sum_all(attention(in[0], in[1], in[2], 2, 0.125) * attention(in[0], in[1], in[2], 2, 0.125))
        .backward();
    for (const Tensor& x : in) g.push_back(x.grad());
  }
  for (int i = 0; i < 3; ++i) check_close(grads[0][i], grads[1][i], 0, "deterministic");
}

TV3S_CUDA_TEST_CASE("attention: CUDA bad input") {
  const Tensor q = random({1, 5, 6}, 1), k = random({1, 4, 6}, 2), v = random({1, 4, 6}, 3);
  CHECK_THROWS_AS(attention(q.cuda(), k, v.cuda(), 3, 1.0), tv3s::Error);  // devices differ
  CHECK_THROWS_AS(attention(q.cuda(), k.cuda(), v, 3, 1.0), tv3s::Error);
  const Tensor wide = random({1, 3, 129}, 4);  // D = 129 > 128
  CHECK_THROWS_AS(attention(wide.cuda(), wide.cuda(), wide.cuda(), 1, 1.0), tv3s::Error);
  CHECK_NOTHROW(attention(wide.cuda(), wide.cuda(), wide.cuda(), 3, 1.0));  // D = 43
  CHECK_THROWS_AS(attention(q.to(DType::f64).cuda(), k.to(DType::f64).cuda(),
                            v.to(DType::f64).cuda(), 3, 1.0),
                  tv3s::Error);  // f64 is not a CUDA dtype
}
