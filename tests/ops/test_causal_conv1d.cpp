// causal_conv1d: hand-computed values (with and without a state, L = 1); CPU forward
// against a direct formula written here in double (odd sizes, K = 1..4, L = 1, 2, 3 below
// and at K − 1, with/without bias, state and SiLU); chunk composition (a sequence scanned in
// chunks, some shorter than K − 1, passing the state = one pass); f64 finite-difference
// gradients of x, weight, bias and initial_state through y, through final_state and
// through both; CUDA against CPU; determinism; the errors.
// The causal_conv1d family: src/ops/causal_conv1d.cpp, cuda/causal_conv1d.cu.
//
// Tolerances (rel = max|got − ref| / max|ref|, see test_util.h):
//   hand-computed values: exact (small integers, exact in f32).
//   CPU f64 vs the direct formula: 1e-13; CPU f32: 1e-6 (≤ 4 products of values in [-1, 1]
//   plus a bias per output, one SiLU).
//   chunk composition: exact (0) on the CPU — the chunked pass adds the same products in the
//   same order; CUDA 0 as well (same kernel, same per-element order).
//   gradcheck: eps 1e-6, |analytic − numeric| ≤ 1e-6 + 1e-5·|numeric|.
//   f32 gradients vs f64: 1e-6 (dw/db sum 300 products in double, from f32 values; dx ≤ 4
//   products in f32). Measured ≈ 1e-7.
//   CUDA vs CPU: f32 1e-5 (dw/db sum up to 2000 rows in f32 on the GPU, in double on the
//   CPU); f16 1e-2 and bf16 4e-2 (inputs rounded to 11/8 mantissa bits, f32 accumulation,
//   outputs rounded once more).
#include <cmath>
#include <string>
#include <vector>

#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// y and final_state straight from the definition, in double: x̂ = [state ; x],
// y[b, t, d] = bias[d] + Σ_k w[d, 0, k] · x̂[b, t + k, d] (then SiLU), final = x̂[b, L..].
struct Direct {
  Tensor y, final_state;
};
Direct direct_causal_conv1d(const Tensor& x, const Tensor& w, const Tensor& bias,
                            const Tensor& state, bool silu) {
  const int64_t B = x.size(0), L = x.size(1), D = x.size(2), K = w.size(2);
  const std::vector<double> xv = x.to_vector_f64(), wv = w.to_vector_f64();
  const std::vector<double> bv = bias.defined() ? bias.to_vector_f64() : std::vector<double>();
  const std::vector<double> sv = state.defined() ? state.to_vector_f64() : std::vector<double>();
  auto xhat = [&](int64_t b, int64_t j, int64_t d) -> double {
    if (j >= K - 1) return xv[size_t((b * L + j - (K - 1)) * D + d)];
    return sv.empty() ? 0.0 : sv[size_t((b * (K - 1) + j) * D + d)];
  };
  std::vector<double> y, fin;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t)
      for (int64_t d = 0; d < D; ++d) {
        double s = bv.empty() ? 0.0 : bv[size_t(d)];
        for (int64_t k = 0; k < K; ++k) s += wv[size_t(d * K + k)] * xhat(b, t + k, d);
        y.push_back(silu ? s / (1 + std::exp(-s)) : s);
      }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < K - 1; ++i)
      for (int64_t d = 0; d < D; ++d) fin.push_back(xhat(b, L + i, d));
  return {Tensor::from_vector_f64(y, Shape{B, L, D}),
          Tensor::from_vector_f64(fin, Shape{B, K - 1, D})};
}

// One configuration: x [B, L, D], kernel width K.
struct ConvCase {
  const char* name;
  int64_t B, L, D, K;
};

std::vector<ConvCase> forward_cases() {
  return {
      {"Mamba K=4, odd D", 2, 7, 5, 4},
      {"L = 1", 2, 1, 3, 4},
      {"L = 2", 1, 2, 4, 4},
      {"L = 3 = K - 1", 3, 3, 6, 4},
      {"D = 33 (past a 32-channel tile), more than one CPU block", 2, 9, 33, 4},
      {"K = 3", 1, 8, 6, 3},
      {"K = 2", 2, 5, 3, 2},
      {"K = 1 (no state)", 2, 4, 3, 1},
  };
}

// y and final_state joined along the sequence, [B, L + K − 1, D]: one output that carries
// both, so one gradient check covers the two nodes together.
Tensor both_outputs(const CausalConv1dResult& r) { return concat({r.y, r.final_state}, 1); }

}  // namespace

TEST_CASE("causal_conv1d: hand-computed values") {
  // D = 2, K = 4. Channel 0: taps [1, 2, 3, 4] (oldest first), x = [1, 10, 100], no bias
  // term (0): y[t] = Σ_k w[k] x̂[t + k]. Channel 1: taps [1, 0, 0, 0] (only the input K − 1
  // steps back) and bias −1, x = [5, 6, 7]: y[t] = x̂[t] − 1.
  const Tensor x = Tensor::from_vector({1, 5, 10, 6, 100, 7}, {1, 3, 2});
  const Tensor w = Tensor::from_vector({1, 2, 3, 4, 1, 0, 0, 0}, {2, 1, 4});
  const Tensor bias = Tensor::from_vector({0, -1}, {2});
  // Zero state: x̂₀ = [0, 0, 0, 1, 10, 100], x̂₁ = [0, 0, 0, 5, 6, 7].
  //   y₀ = [4, 3 + 40, 2 + 30 + 400] = [4, 43, 432]; y₁ = [−1, −1, −1].
  CausalConv1dResult r = causal_conv1d(x, w, bias, Tensor(), false);
  check_close(r.y, Tensor::from_vector({4, -1, 43, -1, 432, -1}, {1, 3, 2}), 0, "y, zero state");
  check_close(r.final_state, Tensor::from_vector({1, 5, 10, 6, 100, 7}, {1, 3, 2}), 0,
              "final_state = x");
  // State [1000, 2000, 3000] / [2, 3, 4]: x̂₀ = [1000, 2000, 3000, 1, 10, 100]:
  //   y₀ = [1000 + 4000 + 9000 + 4, 2000 + 6000 + 3 + 40, 3000 + 2 + 30 + 400]
  //      = [14004, 8043, 3432]; y₁ = x̂₁[t] − 1 = [1, 2, 3].
  const Tensor state = Tensor::from_vector({1000, 2, 2000, 3, 3000, 4}, {1, 3, 2});
  r = causal_conv1d(x, w, bias, state, false);
  check_close(r.y, Tensor::from_vector({14004, 1, 8043, 2, 3432, 3}, {1, 3, 2}), 0, "y, state");
  check_close(r.final_state, x, 0, "final_state with L = K − 1");
  // L = 1: the new state is the old one shifted by one row, then x:
  //   final = [[2000, 3], [3000, 4], [7, 9]];
  //   y₀ = 1000 + 4000 + 9000 + 4·7 = 14028, y₁ = 2 − 1 = 1.
  r = causal_conv1d(Tensor::from_vector({7, 9}, {1, 1, 2}), w, bias, state, false);
  check_close(r.y, Tensor::from_vector({14028, 1}, {1, 1, 2}), 0, "y, L = 1");
  check_close(r.final_state, Tensor::from_vector({2000, 3, 3000, 4, 7, 9}, {1, 3, 2}), 0,
              "final_state, L = 1");
  // SiLU: y = v·σ(v); for channel 1 with the zero state v = −1 → −0.2689414213699951.
  r = causal_conv1d(x, w, bias, Tensor(), true);
  check_close(slice(r.y, 2, 1, 2),
              Tensor::from_vector_f64({-0.2689414213699951, -0.2689414213699951,
                                       -0.2689414213699951},
                                      {1, 3, 1}),
              1e-7, "SiLU(-1)");
}

TEST_CASE("causal_conv1d: against a direct formula, f64 and f32, every option") {
  uint64_t seed = 100;
  for (const ConvCase& c : forward_cases()) {
    const std::string name = c.name;
    CAPTURE(name);
    const Tensor x = random({c.B, c.L, c.D}, ++seed, -1, 1, false, DType::f64);
    const Tensor w = random({c.D, 1, c.K}, ++seed, -1, 1, false, DType::f64);
    const Tensor b = random({c.D}, ++seed, -1, 1, false, DType::f64);
    const Tensor s = random({c.B, c.K - 1, c.D}, ++seed, -1, 1, false, DType::f64);
    for (const bool with_bias : {true, false})
      for (const bool with_state : {true, false})
        for (const bool silu : {true, false}) {
          CAPTURE(with_bias);
          CAPTURE(with_state);
          CAPTURE(silu);
          const Tensor bias = with_bias ? b : Tensor(), state = with_state ? s : Tensor();
          const Direct want = direct_causal_conv1d(x, w, bias, state, silu);
          const CausalConv1dResult got = causal_conv1d(x, w, bias, state, silu);
          check_close(got.y, want.y, 1e-13, "y f64");
          check_close(got.final_state, want.final_state, 0, "final_state f64");
          auto f32 = [](const Tensor& t) { return t.defined() ? t.to(DType::f32) : Tensor(); };
          const CausalConv1dResult got32 = causal_conv1d(f32(x), f32(w), f32(bias), f32(state), silu);
          check_close(got32.y, want.y, 1e-6, "y f32");
          CHECK(got32.final_state.dtype() == DType::f32);
          check_close(got32.final_state, want.final_state.to(DType::f32), 0, "final_state f32 (a copy)");
        }
  }
}

TEST_CASE("causal_conv1d: an empty sequence (L = 0) passes the state through") {
  const Tensor state = random({2, 3, 4}, 150);
  const CausalConv1dResult r =
      causal_conv1d(Tensor::empty({2, 0, 4}), random({4, 1, 4}, 151), Tensor(), state, true);
  CHECK(r.y.shape() == Shape{2, 0, 4});
  check_close(r.final_state, state, 0, "final_state = initial_state");
}

namespace {
// Scans x in chunks of the given lengths, each taking the previous chunk's final_state,
// and checks y and the final state against one pass over x.
void check_chunk_composition(const Tensor& x, const Tensor& w, const Tensor& bias,
                             const Tensor& initial, const std::vector<int64_t>& chunks) {
  const CausalConv1dResult whole = causal_conv1d(x, w, bias, initial, true);
  Tensor state = initial;
  std::vector<Tensor> ys;
  int64_t begin = 0;
  for (const int64_t length : chunks) {
    const CausalConv1dResult part = causal_conv1d(slice(x, 1, begin, begin + length), w, bias, state, true);
    ys.push_back(part.y);
    state = part.final_state;
    begin += length;
  }
  REQUIRE(begin == x.size(1));
  check_close(concat(ys, 1), whole.y, 0, "y");
  check_close(state, whole.final_state, 0, "final_state");
}
}  // namespace

TEST_CASE("causal_conv1d: chunks passing the state equal one pass (incl. chunks < K - 1)") {
  const Tensor x = random({3, 12, 7}, 160);
  const Tensor w = random({7, 1, 4}, 161);
  const Tensor bias = random({7}, 162);
  const Tensor initial = random({3, 3, 7}, 163);
  for (const std::vector<int64_t>& chunks :
       {std::vector<int64_t>{5, 7}, {1, 11}, {2, 1, 1, 8}, {3, 3, 3, 3}, {11, 1}, {4, 0, 8},
        {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}}) {
    CAPTURE(chunks.size());
    CAPTURE(chunks[0]);
    check_chunk_composition(x, w, bias, Tensor(), chunks);
    check_chunk_composition(x, w, bias, initial, chunks);
  }
}

TEST_CASE("causal_conv1d: gradcheck in f64 of x, weight, bias and initial_state") {
  const std::vector<ConvCase> cases = {
      {"K=4, L=7", 2, 7, 3, 4},  {"L = 1", 2, 1, 3, 4}, {"L = 2", 1, 2, 2, 4},
      {"L = 3", 1, 3, 2, 4},     {"K = 2", 2, 4, 3, 2}, {"D = 17 (two CPU blocks)", 1, 3, 17, 4},
  };
  uint64_t seed = 200;
  for (const ConvCase& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    auto inputs = [&](bool x_grad, bool w_grad, bool b_grad, bool s_grad) {
      return std::vector<Tensor>{random({c.B, c.L, c.D}, ++seed, -1, 1, x_grad, DType::f64),
                                 random({c.D, 1, c.K}, ++seed, -1, 1, w_grad, DType::f64),
                                 random({c.D}, ++seed, -1, 1, b_grad, DType::f64),
                                 random({c.B, c.K - 1, c.D}, ++seed, -1, 1, s_grad, DType::f64)};
    };
    for (const bool silu : {true, false}) {
      CAPTURE(silu);
      // Both outputs, every input.
      gradcheck([silu](const std::vector<Tensor>& in) {
                  return both_outputs(causal_conv1d(in[0], in[1], in[2], in[3], silu));
                },
                inputs(true, true, true, true));
      // y alone (final_state's node is never reached), and final_state alone (y's is not).
      gradcheck([silu](const std::vector<Tensor>& in) {
                  return causal_conv1d(in[0], in[1], in[2], in[3], silu).y;
                },
                inputs(true, true, true, true));
      gradcheck([silu](const std::vector<Tensor>& in) {
                  return causal_conv1d(in[0], in[1], in[2], in[3], silu).final_state;
                },
                inputs(true, false, false, true));  // w and b do not reach final_state
      // No bias and no state (zeros); only the weight learns; only the state learns.
      gradcheck([silu](const std::vector<Tensor>& in) {
                  return both_outputs(causal_conv1d(in[0], in[1], Tensor(), Tensor(), silu));
                },
                inputs(true, true, false, false));
      gradcheck([silu](const std::vector<Tensor>& in) {
                  return both_outputs(causal_conv1d(in[0], in[1], in[2], in[3], silu));
                },
                inputs(false, true, false, false));
      gradcheck([silu](const std::vector<Tensor>& in) {
                  return both_outputs(causal_conv1d(in[0], in[1], in[2], in[3], silu));
                },
                inputs(false, false, false, true));
    }
  }
}

TEST_CASE("causal_conv1d: the gradient through a chain of chunks reaches the first state") {
  // Three chunks (lengths 2, 1, 3: two shorter than K − 1) composed through their states;
  // the loss reads every y and the last state, so each final_state carries a gradient
  // into the next chunk's initial_state and back.
  gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor state = in[3];
        std::vector<Tensor> outs;
        int64_t begin = 0;
        for (const int64_t length : {2, 1, 3}) {
          const CausalConv1dResult r =
              causal_conv1d(slice(in[0], 1, begin, begin + length), in[1], in[2], state, true);
          outs.push_back(r.y);
          state = r.final_state;
          begin += length;
        }
        outs.push_back(state);
        return concat(outs, 1);
      },
      {random({2, 6, 3}, 250, -1, 1, true, DType::f64),
       random({3, 1, 4}, 251, -1, 1, true, DType::f64), random({3}, 252, -1, 1, true, DType::f64),
       random({2, 3, 3}, 253, -1, 1, true, DType::f64)});
}

TEST_CASE("causal_conv1d: f32 gradients match f64 ones") {
  const Tensor x64 = random({3, 100, 20}, 301, -1, 1, true, DType::f64);
  const Tensor w64 = random({20, 1, 4}, 302, -1, 1, true, DType::f64);
  const Tensor b64 = random({20}, 303, -1, 1, true, DType::f64);
  const Tensor s64 = random({3, 3, 20}, 304, -1, 1, true, DType::f64);
  const Tensor dy = random({3, 103, 20}, 305, -1, 1, false, DType::f64);
  sum_all(mul(both_outputs(causal_conv1d(x64, w64, b64, s64, true)), dy)).backward();
  std::vector<Tensor> in32;
  for (const Tensor& t : {x64, w64, b64, s64}) {
    Tensor t32 = t.detach().to(DType::f32);
    t32.requires_grad_();
    in32.push_back(t32);
  }
  sum_all(mul(both_outputs(causal_conv1d(in32[0], in32[1], in32[2], in32[3], true)),
              dy.to(DType::f32)))
      .backward();
  check_close(in32[0].grad(), x64.grad(), 1e-6, "dx");
  check_close(in32[1].grad(), w64.grad(), 1e-6, "dweight");
  check_close(in32[2].grad(), b64.grad(), 1e-6, "dbias");
  check_close(in32[3].grad(), s64.grad(), 1e-6, "dinitial_state");
}

TEST_CASE("causal_conv1d: gradients of inputs that need none stay undefined") {
  const Tensor x = random({2, 5, 3}, 311, -1, 1, true);
  const Tensor w = random({3, 1, 4}, 312);  // frozen
  const Tensor state = random({2, 3, 3}, 313);  // frozen
  sum_all(both_outputs(causal_conv1d(x, w, Tensor(), state, true))).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(w.grad().defined());
  CHECK_FALSE(state.grad().defined());
  // Neither x nor the state needs a gradient: final_state records nothing.
  const Tensor w2 = random({3, 1, 4}, 314, -1, 1, true);
  const CausalConv1dResult r = causal_conv1d(random({2, 5, 3}, 315), w2, Tensor(), Tensor(), true);
  CHECK(r.y.requires_grad());
  CHECK_FALSE(r.final_state.requires_grad());
}

TEST_CASE("causal_conv1d: bad input") {
  const Tensor x = random({2, 5, 4}, 1);
  const Tensor w = random({4, 1, 4}, 2);
  const Tensor state = random({2, 3, 4}, 3);
  CHECK_NOTHROW(causal_conv1d(x, w, random({4}, 4), state, true));  // valid base
  CHECK_THROWS_AS(causal_conv1d(random({5, 4}, 1), w, Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // x not 3-D
  CHECK_THROWS_AS(causal_conv1d(x, random({3, 1, 4}, 2), Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // D
  CHECK_THROWS_AS(causal_conv1d(x, random({4, 2, 4}, 2), Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // not depthwise
  CHECK_THROWS_AS(causal_conv1d(x, random({4, 4}, 2), Tensor(), Tensor(), true), tv3s::Error);
  CHECK_THROWS_AS(causal_conv1d(x, random({4, 1, 0}, 2), Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // K = 0
  CHECK_THROWS_AS(causal_conv1d(x, w, random({5}, 4), Tensor(), true), tv3s::Error);  // bias
  CHECK_THROWS_AS(causal_conv1d(x, w, Tensor(), random({2, 4, 4}, 3), true),
                  tv3s::Error);                                                  // state rows
  CHECK_THROWS_AS(causal_conv1d(x, w, Tensor(), random({1, 3, 4}, 3), true),
                  tv3s::Error);                                                  // state B
  CHECK_THROWS_AS(causal_conv1d(x, w, Tensor(), random({2, 3, 5}, 3), true),
                  tv3s::Error);                                                  // state D
  CHECK_THROWS_AS(causal_conv1d(x, w.to(DType::f64), Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // dtypes
  CHECK_THROWS_AS(causal_conv1d(x, w, Tensor(), state.to(DType::f64), true), tv3s::Error);
  CHECK_THROWS_AS(causal_conv1d(x.to(DType::f16), w.to(DType::f16), Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // f16 on CPU
  CHECK_THROWS_AS(causal_conv1d(Tensor::from_vector_i32({1, 2}, {1, 2, 1}),
                                Tensor::from_vector_i32({1}, {1, 1, 1}), Tensor(), Tensor(), true),
                  tv3s::Error);                                                  // integer
}

// --- CUDA against CPU ---------------------------------------------------------------------

namespace {
void check_conv_backends(DType dtype, double tol) {
  std::vector<ConvCase> cases = forward_cases();
  // Several row chunks in the dw/db reduction (2000 rows) and three channel tiles (70, the
  // last one partial); a TV3S-like streaming shape (2 windows × 100 tokens × 512 channels).
  cases.push_back({"2000 rows, 70 channels", 4, 500, 70, 4});
  cases.push_back({"TV3S streaming-like", 2, 100, 512, 4});
  cases.push_back({"K = 8 (the CUDA maximum)", 2, 11, 9, 8});
  uint64_t seed = 400;
  for (const ConvCase& c : cases) {
    const std::string name = c.name;
    CAPTURE(name);
    for (const bool silu : {true, false}) {
      CAPTURE(silu);
      check_backends(
          [silu](const std::vector<Tensor>& in) {
            return both_outputs(causal_conv1d(in[0], in[1], in[2], in[3], silu));
          },
          {random({c.B, c.L, c.D}, ++seed, -1, 1, true), random({c.D, 1, c.K}, ++seed, -1, 1, true),
           random({c.D}, ++seed, -1, 1, true), random({c.B, c.K - 1, c.D}, ++seed, -1, 1, true)},
          tol, dtype);
      check_backends(
          [silu](const std::vector<Tensor>& in) {
            return both_outputs(causal_conv1d(in[0], in[1], Tensor(), Tensor(), silu));
          },
          {random({c.B, c.L, c.D}, ++seed, -1, 1, true), random({c.D, 1, c.K}, ++seed, -1, 1, true)},
          tol, dtype);
    }
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("causal_conv1d: CUDA matches CPU in f32 (rel 1e-5)") {
  check_conv_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("causal_conv1d: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 4e-2)") {
  check_conv_backends(DType::f16, 1e-2);
  check_conv_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("causal_conv1d: CUDA single-output and partial gradients") {
  // Only final_state reaches the loss (y's node never runs): the state is the last K−1
  // inputs, so x and the initial state get gradients and the weight none; only the state
  // learns; only the bias learns (x not needed by any wanted gradient but kept anyway).
  const Tensor x = random({3, 2, 37}, 450, -1, 1, true);
  const Tensor w = random({37, 1, 4}, 451, -1, 1, true);
  const Tensor b = random({37}, 452, -1, 1, true);
  const Tensor s = random({3, 3, 37}, 453, -1, 1, true);
  check_backends([](const std::vector<Tensor>& in) {
                   return causal_conv1d(in[0], in[1], in[2], in[3], true).final_state;
                 },
                 {x, w.detach(), b.detach(), s}, 1e-5, DType::f32);
  check_backends([](const std::vector<Tensor>& in) {
                   return both_outputs(causal_conv1d(in[0], in[1], in[2], in[3], true));
                 },
                 {x.detach(), w.detach(), b.detach(), s}, 1e-5, DType::f32);
  check_backends([](const std::vector<Tensor>& in) {
                   return causal_conv1d(in[0], in[1], in[2], Tensor(), true).y;
                 },
                 {x.detach(), w.detach(), b}, 1e-5, DType::f32);
}

TV3S_CUDA_TEST_CASE("causal_conv1d: CUDA chunks passing the state equal one pass") {
  const Tensor x = random({3, 40, 70}, 470).cuda();
  const Tensor w = random({70, 1, 4}, 471).cuda();
  const Tensor bias = random({70}, 472).cuda();
  const Tensor initial = random({3, 3, 70}, 473).cuda();
  check_chunk_composition(x, w, bias, initial, {1, 2, 17, 20});
  check_chunk_composition(x, w, bias, Tensor(), {39, 1});
  const Tensor x16 = x.to(DType::f16);
  check_chunk_composition(x16, w.to(DType::f16), bias.to(DType::f16), Tensor(), {2, 38});
}

TV3S_CUDA_TEST_CASE("causal_conv1d: CUDA dweight/dbias are bitwise deterministic") {
  const Tensor x = random({8, 400, 64}, 81, -1, 1).cuda();
  const Tensor dy = random({8, 400, 64}, 82, -1, 1).cuda();
  std::vector<float> first_w, first_b;
  for (int run = 0; run < 3; ++run) {
    Tensor weight = random({64, 1, 4}, 83).cuda();
    Tensor bias = random({64}, 84).cuda();
    weight.requires_grad_();
    bias.requires_grad_();
    sum_all(mul(causal_conv1d(x, weight, bias, Tensor(), true).y, dy)).backward();
    const std::vector<float> gw = weight.grad().to_vector(), gb = bias.grad().to_vector();
    if (run == 0) {
      first_w = gw;
      first_b = gb;
    } else {
      CHECK(gw == first_w);
      CHECK(gb == first_b);
    }
  }
}

TV3S_CUDA_TEST_CASE("causal_conv1d: CUDA rejects kernels wider than its register taps") {
  const Tensor x = random({1, 10, 4}, 91).cuda();
  CHECK_THROWS_AS(causal_conv1d(x, random({4, 1, 9}, 92).cuda(), Tensor(), Tensor(), true),
                  tv3s::Error);
}
