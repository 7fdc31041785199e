// selective_scan: hand-computed values (the op and the plain-loop reference); the CPU op
// (its fast path, src/ops/cpu/selective_scan.cpp) against the reference (every optional
// input present or absent, softplus on and off and past its threshold, L = 0 and 1, long
// sequences), forward and backward; scanning in two pieces through the state equals one
// scan; f64 finite-difference gradients of every input through y, through final_state,
// through both and through a two-piece composition; f32 gradients against f64 ones; CPU
// determinism across thread counts; CUDA against CPU; the errors.
// The op: src/ops/selective_scan.cpp (the reference), src/ops/cpu/selective_scan.cpp,
// cuda/selective_scan.cu.
//
// Tolerances (rel = max|got − ref| / max|ref|, see test_util.h):
//   CPU f64 vs the f64 reference: 1e-13 forward, 1e-12 backward (the same operations,
//   reordered; sums of the backward in a different order).
//   CPU f32 vs the f64 reference: 2e-6 forward (inputs rounded to f32, the state and y in
//   f32, e^x by simd::exp8 at ≤ 2 ulp; measured ≤ 1.7e-7 on the forward cases); 1e-5
//   backward (dinitial from dfinal alone is a product of L decays, each rounded: measured
//   2.0e-6 at L = 129).
//   Two pieces vs one piece on the CPU: 0 (the same operations in the same order).
//   gradcheck: eps 1e-6, |analytic − numeric| ≤ 1e-6 + 1e-5·|numeric| (the defaults).
//   f32 gradients vs f64: 2e-6 (the recurrences run in f32, the sums over channels,
//   tokens and sequences in double; measured ≤ 2e-7).
//   CUDA vs CPU: f32 2e-5 (expf vs exp8, the chunked forward joins chunks through
//   e^{A·ΣΔ}, the GPU sums in f32); f16 5e-3 and bf16 4e-2 (the GPU gets the inputs
//   rounded to 11/8 mantissa bits, the CPU the f32 ones, and the outputs are rounded
//   once more). Measured on a host emulation of the kernels (the kernel source run with
//   a thread per CUDA thread, barriers for __syncthreads and the shuffles) on the cases
//   below but the TV3S-sized one: f32 ≤ 1.1e-6; f16 ≤ 8.4e-4 and bf16 ≤ 6.5e-3 on the
//   chunked L = 333 case.
#include <omp.h>

#include <cmath>
#include <vector>

#include "src/ops/cpu/selective_scan.h"
#include "src/ops/selective_scan.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// One configuration: sizes, which optional inputs are given, softplus on Δ.
struct ScanCase {
  const char* name;
  int64_t B, L, D, N;
  bool z = true, D_skip = true, delta_bias = true, initial_state = true;
  bool softplus = true;
  double delta_lo = -2, delta_hi = 1;  // raw delta range (before the bias)
};

ScanCase without_optionals(ScanCase c) {
  c.z = c.D_skip = c.delta_bias = c.initial_state = false;
  return c;
}

// The inputs in the order u, delta, A, B, C, then D, z, delta_bias, initial_state for
// those the case gives. A = −e^{U(−1.6, 1.4)} ∈ [−4, −0.2]; without softplus Δ must be
// positive, so delta is drawn from [0.02, 0.6].
std::vector<Tensor> make_inputs(const ScanCase& c, uint64_t seed, bool requires_grad,
                                DType dtype = DType::f64) {
  const double delta_lo = c.softplus ? c.delta_lo : 0.02, delta_hi = c.softplus ? c.delta_hi : 0.6;
  auto uniform = [&](const Shape& shape, double lo, double hi) {
    return random(shape, ++seed, lo, hi, requires_grad, dtype);
  };
  std::vector<Tensor> in;
  in.push_back(uniform({c.B, c.L, c.D}, -1, 1));               // u
  in.push_back(uniform({c.B, c.L, c.D}, delta_lo, delta_hi));  // delta
  Tensor A = -exp(random({c.D, c.N}, ++seed, -1.6, 1.4, false, dtype));
  if (requires_grad) A.requires_grad_();
  in.push_back(A);
  in.push_back(uniform({c.B, c.L, c.N}, -1, 1));  // B
  in.push_back(uniform({c.B, c.L, c.N}, -1, 1));  // C
  if (c.D_skip) in.push_back(uniform({c.D}, -1, 1));
  if (c.z) in.push_back(uniform({c.B, c.L, c.D}, -3, 3));
  if (c.delta_bias) in.push_back(c.softplus ? uniform({c.D}, -1, 0.5) : uniform({c.D}, 0, 0.1));
  if (c.initial_state) in.push_back(uniform({c.B, c.D, c.N}, -1, 1));
  return in;
}

// The op's arguments, named (undefined where the case gives none).
struct ScanArgs {
  Tensor u, delta, A, B, C, D, z, delta_bias, initial_state;
};
ScanArgs unpack(const ScanCase& c, const std::vector<Tensor>& in) {
  ScanArgs a{in[0], in[1], in[2], in[3], in[4], {}, {}, {}, {}};
  size_t k = 5;
  if (c.D_skip) a.D = in[k++];
  if (c.z) a.z = in[k++];
  if (c.delta_bias) a.delta_bias = in[k++];
  if (c.initial_state) a.initial_state = in[k++];
  return a;
}
ScanResult scan(const ScanArgs& a, bool softplus) {
  return selective_scan(a.u, a.delta, a.A, a.B, a.C, a.D, a.z, a.delta_bias, a.initial_state,
                        softplus);
}

// The op on inputs laid out as make_inputs makes them.
ScanResult scan_of(const ScanCase& c, const std::vector<Tensor>& in) {
  return scan(unpack(c, in), c.softplus);
}

// Streaming in two pieces: tokens [0, L1), then [L1, L) from the first piece's final
// state. Returns y of both pieces joined and the second piece's final state.
ScanResult scan_in_two_pieces(const ScanCase& c, const std::vector<Tensor>& in, int64_t L1) {
  const ScanArgs all = unpack(c, in);
  auto piece = [&](int64_t begin, int64_t end, const Tensor& state) {
    auto tokens = [&](const Tensor& t) { return t.defined() ? slice(t, 1, begin, end) : Tensor(); };
    ScanArgs a = all;
    a.u = tokens(all.u), a.delta = tokens(all.delta), a.B = tokens(all.B), a.C = tokens(all.C);
    a.z = tokens(all.z);
    a.initial_state = state;
    return scan(a, c.softplus);
  };
  const ScanResult first = piece(0, L1, all.initial_state);
  const ScanResult second = piece(L1, c.L, first.final_state);
  return {concat({first.y, second.y}, 1), second.final_state};
}

// The inputs with D and z frozen: they reach only y, so a function of final_state alone
// gives them no gradient.
std::vector<Tensor> freeze_y_only(const ScanCase& c, std::vector<Tensor> in) {
  size_t k = 5;
  if (c.D_skip) in[k] = in[k].detach(), ++k;
  if (c.z) in[k] = in[k].detach();
  return in;
}

// Both outputs as one vector in y's dtype: y, then final_state.
Tensor both_outputs(const ScanResult& r) {
  const Tensor h = r.final_state.to(r.y.dtype());
  return concat({r.y.reshape(Shape{r.y.numel()}), h.reshape(Shape{h.numel()})}, 0);
}

// The scan inputs of a case as the op would hand them to its kernels.
ScanInputs scan_inputs(const ScanCase& c, const std::vector<Tensor>& in) {
  const ScanArgs a = unpack(c, in);
  return {a.u, a.delta, a.A, a.B, a.C, a.D, a.z, a.delta_bias, a.initial_state, c.softplus};
}

// y and final_state from the plain-loop reference (src/ops/selective_scan.cpp), in the
// inputs' dtype.
ScanResult reference_scan(const ScanCase& c, const std::vector<Tensor>& in) {
  const ScanInputs s = scan_inputs(c, in);
  const DType dtype = in[0].dtype();
  ScanResult r{Tensor::empty(Shape{c.B, c.L, c.D}, dtype), Tensor::empty(Shape{c.B, c.D, c.N}, dtype)};
  selective_scan_reference_forward(s, r.y, r.final_state);
  return r;
}

std::vector<Tensor> to_dtype(const std::vector<Tensor>& in, DType dtype) {
  std::vector<Tensor> out;
  for (const Tensor& t : in) out.push_back(t.detach().to(dtype));
  return out;
}

std::vector<ScanCase> forward_cases() {
  std::vector<ScanCase> cases = {
      {"every input", 2, 13, 11, 4},
      {"TV3S-like: D = 64, N = 16", 2, 30, 64, 16},
      {"long: 150 tokens (several CPU checkpoint stretches)", 1, 150, 9, 3},
      {"L = 1", 3, 1, 10, 4},
      {"L = 0", 2, 0, 6, 3},
      {"one channel, one state", 1, 12, 1, 1},
      {"softplus past its threshold (delta in [15, 25])", 2, 8, 5, 3},
  };
  cases.back().delta_lo = 15;
  cases.back().delta_hi = 25;
  ScanCase plain = without_optionals({"no z, D, delta_bias, initial state", 2, 9, 5, 3});
  cases.push_back(plain);
  ScanCase no_softplus = {"softplus off", 1, 10, 9, 2};
  no_softplus.softplus = false;
  cases.push_back(no_softplus);
  ScanCase only_z = without_optionals({"only z", 1, 7, 10, 2});
  only_z.z = true;
  cases.push_back(only_z);
  ScanCase only_state = without_optionals({"only initial state, L = 0", 2, 0, 4, 5});
  only_state.initial_state = true;
  cases.push_back(only_state);
  cases.push_back(without_optionals({"no initial state, L = 0", 2, 0, 4, 5}));
  return cases;
}

}  // namespace

TEST_CASE("selective_scan: hand-computed values") {
  // One channel, one state, no softplus, A = −ln 2 and Δ = 1: the decay is ½.
  //   h0 = ½·0 + 1·1·1 = 1      y0 = 1·1 + ½·1 = 1.5
  //   h1 = ½·1 + 1·1·2 = 2.5    y1 = 1·2.5 + ½·2 = 3.5     final state 2.5
  // From the initial state 4: h0 = 3, y0 = 3.5; h1 = 3.5, y1 = 4.5; final 3.5.
  const Tensor u = Tensor::from_vector({1, 2}, {1, 2, 1});
  const Tensor delta = Tensor::from_vector({1, 1}, {1, 2, 1});
  const Tensor A = Tensor::from_vector({-float(std::log(2.0))}, {1, 1});
  const Tensor BC = Tensor::from_vector({1, 1}, {1, 2, 1});
  const Tensor D = Tensor::from_vector({0.5f}, {1});
  ScanResult r = selective_scan(u, delta, A, BC, BC, D, Tensor(), Tensor(), Tensor(), false);
  check_close(r.y, Tensor::from_vector({1.5f, 3.5f}, {1, 2, 1}), 1e-6, "y");
  check_close(r.final_state, Tensor::from_vector({2.5f}, {1, 1, 1}), 1e-6, "final state");
  r = selective_scan(u, delta, A, BC, BC, D, Tensor(), Tensor(),
                     Tensor::from_vector({4}, {1, 1, 1}), false);
  check_close(r.y, Tensor::from_vector({3.5f, 4.5f}, {1, 2, 1}), 1e-6, "y from a state");
  check_close(r.final_state, Tensor::from_vector({3.5f}, {1, 1, 1}), 1e-6, "final from a state");
  // The reference, on the same two cases.
  ScanInputs in{u, delta, A, BC, BC, D, Tensor(), Tensor(), Tensor(), false};
  Tensor y = Tensor::empty({1, 2, 1}), final_state = Tensor::empty({1, 1, 1});
  selective_scan_reference_forward(in, y, final_state);
  check_close(y, Tensor::from_vector({1.5f, 3.5f}, {1, 2, 1}), 1e-6, "reference y");
  check_close(final_state, Tensor::from_vector({2.5f}, {1, 1, 1}), 1e-6, "reference final state");
  in.initial_state = Tensor::from_vector({4}, {1, 1, 1});
  selective_scan_reference_forward(in, y, final_state);
  check_close(y, Tensor::from_vector({3.5f, 4.5f}, {1, 2, 1}), 1e-6, "reference y from a state");
  check_close(final_state, Tensor::from_vector({3.5f}, {1, 1, 1}), 1e-6,
              "reference final from a state");
}

TEST_CASE("selective_scan: the CPU op against the reference, f64 and f32") {
  uint64_t seed = 100;
  for (const ScanCase& c : forward_cases()) {
    CAPTURE(c.name);
    const std::vector<Tensor> in = make_inputs(c, seed += 20, false);
    const ScanResult want = reference_scan(c, in);
    ScanResult r = scan_of(c, in);
    check_close(r.y, want.y, 1e-13, "y f64");
    check_close(r.final_state, want.final_state, 1e-13, "final state f64");
    r = scan_of(c, to_dtype(in, DType::f32));
    CHECK(r.y.dtype() == DType::f32);
    check_close(r.y, want.y, 2e-6, "y f32");
    check_close(r.final_state, want.final_state, 2e-6, "final state f32");
  }
}

TEST_CASE("selective_scan: two pieces through the state equal one scan (CPU, exact)") {
  for (const DType dtype : {DType::f64, DType::f32}) {
    for (const bool with_state : {true, false}) {
      ScanCase c = {"two pieces", 2, 37, 19, 5};
      c.initial_state = with_state;
      const std::vector<Tensor> in = make_inputs(c, 300, false, dtype);
      const ScanResult whole = scan_of(c, in);
      for (const int64_t L1 : {0, 1, 16, 36, 37}) {
        CAPTURE(L1);
        CAPTURE(with_state);
        const ScanResult pieces = scan_in_two_pieces(c, in, L1);
        check_close(pieces.y, whole.y, 0, "y");
        check_close(pieces.final_state, whole.final_state, 0, "final state");
      }
    }
  }
}

// --- gradients ---------------------------------------------------------------------------

namespace {
void gradcheck_outputs(const ScanCase& c, uint64_t seed) {
  CAPTURE(c.name);
  // Through y alone, through final_state alone, and through both at once.
  gradcheck([c](const std::vector<Tensor>& in) { return scan_of(c, in).y; },
            make_inputs(c, seed, true));
  gradcheck([c](const std::vector<Tensor>& in) { return scan_of(c, in).final_state; },
            freeze_y_only(c, make_inputs(c, seed + 50, true)));
  gradcheck([c](const std::vector<Tensor>& in) { return both_outputs(scan_of(c, in)); },
            make_inputs(c, seed + 100, true));
}
}  // namespace

TEST_CASE("selective_scan: gradcheck in f64 of every input, through y, final_state and both") {
  gradcheck_outputs({"every input", 2, 6, 5, 3}, 1000);
  gradcheck_outputs({"L = 1", 2, 1, 3, 2}, 2000);
  gradcheck_outputs(without_optionals({"no optional inputs", 2, 5, 4, 3}), 3000);
  ScanCase no_softplus = {"softplus off", 1, 6, 3, 2};
  no_softplus.softplus = false;
  gradcheck_outputs(no_softplus, 4000);
  ScanCase threshold = {"softplus past its threshold", 1, 5, 3, 2};
  threshold.delta_lo = 15;
  threshold.delta_hi = 25;
  gradcheck_outputs(threshold, 5000);
  // 70 tokens: two checkpoint stretches of the CPU backward; 11 channels: two lane blocks.
  gradcheck_outputs({"70 tokens, 11 channels", 2, 70, 11, 2}, 6000);
}

TEST_CASE("selective_scan: gradcheck with only some inputs learning") {
  const ScanCase c = {"every input", 2, 6, 5, 3};
  // Only the parameters (A, D, delta_bias) learn; the token inputs are frozen.
  std::vector<Tensor> in = make_inputs(c, 7000, false);
  for (const int k : {2, 5, 7}) in[size_t(k)].requires_grad_();
  gradcheck([c](const std::vector<Tensor>& x) { return both_outputs(scan_of(c, x)); }, in);
  // Only the initial state learns, through y.
  in = make_inputs(c, 7100, false);
  in[8].requires_grad_();
  gradcheck([c](const std::vector<Tensor>& x) { return scan_of(c, x).y; }, in);
  // z and D reach only y: through final_state alone they get no gradient.
  in = make_inputs(c, 7200, true);
  sum_all(scan_of(c, in).final_state).backward();
  CHECK(in[0].grad().defined());
  CHECK_FALSE(in[5].grad().defined());  // D
  CHECK_FALSE(in[6].grad().defined());  // z
}

TEST_CASE("selective_scan: gradcheck through a two-piece composition") {
  // The second piece starts from the first one's final state: the gradient flows back
  // through final_state into the first scan and its initial state.
  for (const int64_t L1 : {1, 4, 7}) {
    CAPTURE(L1);
    const ScanCase c = {"two pieces", 2, 9, 4, 3};
    gradcheck(
        [c, L1](const std::vector<Tensor>& in) {
          return both_outputs(scan_in_two_pieces(c, in, L1));
        },
        make_inputs(c, 8000 + uint64_t(L1), true));
  }
}

namespace {
// Gradients of Σ (y ⊙ wy) + Σ (final_state ⊙ wf) for every input, in `dtype`.
std::vector<Tensor> gradients(const ScanCase& c, const std::vector<Tensor>& in64, DType dtype) {
  std::vector<Tensor> in = to_dtype(in64, dtype);
  for (Tensor& t : in) t.requires_grad_();
  const ScanResult r = scan_of(c, in);
  Rng rng(77);
  const Tensor wy = Tensor::uniform(r.y.shape(), rng, 0.5, 1.5, dtype);
  const Tensor wf = Tensor::uniform(r.final_state.shape(), rng, 0.5, 1.5, dtype);
  add(sum_all(mul(r.y, wy)), sum_all(mul(r.final_state, wf))).backward();
  std::vector<Tensor> grads;
  for (const Tensor& t : in) grads.push_back(t.grad());
  grads.push_back(r.y.detach());
  grads.push_back(r.final_state.detach());
  return grads;
}
}  // namespace

TEST_CASE("selective_scan: f32 gradients match f64 ones") {
  // 130 tokens (three CPU checkpoint stretches), 20 channels (a partial lane block).
  const ScanCase c = {"f32 vs f64", 3, 130, 20, 16};
  const std::vector<Tensor> in = make_inputs(c, 9000, false);
  const std::vector<Tensor> g64 = gradients(c, in, DType::f64);
  const std::vector<Tensor> g32 = gradients(c, in, DType::f32);
  const char* names[] = {"du",     "ddelta",      "dA",        "dB",          "dC", "dD",
                         "dz",     "ddelta_bias", "dinitial",  "y",           "final state"};
  for (size_t k = 0; k < g64.size(); ++k) check_close(g32[k], g64[k], 2e-6, names[k]);
}

namespace {
// Every input's gradient (and y, final_state) from the fast CPU path and from the
// reference, for cotangents dy and/or dfinal, both in the inputs' dtype.
struct BackwardOf {
  std::vector<Tensor> grads;  // in ScanInputs order; undefined where the case has no input
};
BackwardOf scan_backward_with(const ScanCase& c, const std::vector<Tensor>& in, const Tensor& dy,
                              const Tensor& dfinal, bool fast) {
  const ScanInputs s = scan_inputs(c, in);
  auto like = [](const Tensor& t) { return t.defined() ? Tensor::empty(t.shape(), t.dtype()) : Tensor(); };
  ScanGrads g{like(s.u), like(s.delta), like(s.A), like(s.B), like(s.C), like(s.D), like(s.z),
              like(s.delta_bias), like(s.initial_state)};
  if (fast) cpu::selective_scan_backward(s, dy, dfinal, g);
  else selective_scan_reference_backward(s, dy, dfinal, g);
  return {{g.u, g.delta, g.A, g.B, g.C, g.D, g.z, g.delta_bias, g.initial_state}};
}
}  // namespace

TEST_CASE("selective_scan: the fast CPU backward matches the reference, f64 and f32") {
  // Lane tails (D not a multiple of 8), checkpoint stretch boundaries (L around 64 and
  // 128), N = 1, the optional inputs absent, softplus off and past its threshold.
  std::vector<ScanCase> cases = {
      {"every input", 2, 13, 11, 4},
      {"one lane block, L = 64", 1, 64, 8, 3},
      {"L = 65, D = 9", 2, 65, 9, 2},
      {"L = 129, D = 17, N = 16", 1, 129, 17, 16},
      {"L = 1", 3, 1, 10, 4},
      {"one channel, one state", 1, 12, 1, 1},
      {"softplus past its threshold", 2, 8, 5, 3},
      without_optionals({"no optional inputs", 2, 70, 6, 3}),
  };
  cases[6].delta_lo = 15;
  cases[6].delta_hi = 25;
  ScanCase no_softplus = {"softplus off", 1, 10, 9, 2};
  no_softplus.softplus = false;
  cases.push_back(no_softplus);
  const char* names[] = {"du", "ddelta", "dA", "dB", "dC", "dD", "dz", "ddelta_bias", "dinitial"};
  uint64_t seed = 9500;
  for (const ScanCase& c : cases) {
    CAPTURE(c.name);
    const std::vector<Tensor> in = make_inputs(c, seed += 20, false);
    const Tensor dy = random({c.B, c.L, c.D}, seed + 1, -1, 1, false, DType::f64);
    const Tensor dfinal = random({c.B, c.D, c.N}, seed + 2, -1, 1, false, DType::f64);
    for (const int which : {0, 1, 2}) {  // dy only, dfinal only, both
      CAPTURE(which);
      const Tensor dy_in = which == 1 ? Tensor() : dy, dfinal_in = which == 0 ? Tensor() : dfinal;
      const BackwardOf want = scan_backward_with(c, in, dy_in, dfinal_in, false);
      const BackwardOf f64 = scan_backward_with(c, in, dy_in, dfinal_in, true);
      const std::vector<Tensor> in32 = to_dtype(in, DType::f32);
      const BackwardOf f32 = scan_backward_with(
          c, in32, dy_in.defined() ? dy_in.to(DType::f32) : Tensor(),
          dfinal_in.defined() ? dfinal_in.to(DType::f32) : Tensor(), true);
      for (size_t k = 0; k < want.grads.size(); ++k) {
        if (!want.grads[k].defined()) continue;
        check_close(f64.grads[k], want.grads[k], 1e-12, names[k]);
        check_close(f32.grads[k], want.grads[k], 1e-5, names[k]);
      }
    }
  }
}

TEST_CASE("selective_scan: CPU results do not depend on the number of threads") {
  const ScanCase c = {"threads", 5, 70, 40, 16};  // large enough for parallel_for to use threads
  const std::vector<Tensor> in = make_inputs(c, 9100, false, DType::f32);
  const int saved = omp_get_max_threads();
  std::vector<std::vector<float>> first;
  for (const int threads : {1, 2, 3}) {
    CAPTURE(threads);
    omp_set_num_threads(threads);
    const std::vector<Tensor> got = gradients(c, in, DType::f32);
    for (size_t k = 0; k < got.size(); ++k) {
      const std::vector<float> values = got[k].to_vector();
      if (threads == 1) first.push_back(values);
      else CHECK(values == first[k]);
    }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("selective_scan: bad input") {
  const ScanCase c = {"base", 2, 5, 4, 3};
  const ScanArgs ok = unpack(c, make_inputs(c, 9200, false, DType::f32));
  CHECK_NOTHROW(scan(ok, true));
  auto fails = [&](ScanArgs a) { CHECK_THROWS_AS(scan(a, true), tv3s::Error); };
  ScanArgs a = ok;
  a.u = random({2, 5}, 1);  // not [B, L, D]
  fails(a);
  a = ok, a.u = Tensor();
  fails(a);
  a = ok, a.delta = random({2, 5, 3}, 1);
  fails(a);
  a = ok, a.delta = Tensor();
  fails(a);
  a = ok, a.A = random({3, 3}, 1);  // D
  fails(a);
  a = ok, a.A = random({4}, 1);
  fails(a);
  a = ok, a.A = random({4, 0}, 1);  // N = 0
  fails(a);
  a = ok, a.B = random({2, 5, 2}, 1);  // N
  fails(a);
  a = ok, a.C = random({2, 4, 3}, 1);  // L
  fails(a);
  a = ok, a.C = Tensor();
  fails(a);
  a = ok, a.D = random({5}, 1);
  fails(a);
  a = ok, a.z = random({2, 5, 3}, 1);
  fails(a);
  a = ok, a.delta_bias = random({4, 1}, 1);
  fails(a);
  a = ok, a.initial_state = random({2, 3, 4}, 1);  // [B, N, D] instead of [B, D, N]
  fails(a);
  a = ok, a.A = ok.A.to(DType::f64);  // mixed dtypes
  fails(a);
  a = ok, a.delta_bias = ok.delta_bias.to(DType::f64);
  fails(a);
  a = ok;
  for (Tensor* t : {&a.u, &a.delta, &a.A, &a.B, &a.C, &a.D, &a.z, &a.delta_bias, &a.initial_state})
    *t = t->to(DType::f16);  // no f16 arithmetic on the CPU
  fails(a);
}

// --- CUDA against CPU ---------------------------------------------------------------------

namespace {
std::vector<ScanCase> cuda_cases() {
  std::vector<ScanCase> cases = {
      // One pass (L ≤ 128); 70 channels: a partial forward block, 5 backward groups.
      {"one pass, D = 70", 2, 50, 70, 16},
      // 333 tokens × 2 × 40 channels: too few threads, so the forward runs in 4 chunks of
      // 96 (the last 45); the backward in 21 checkpoint stretches of 16 (the last 13).
      {"chunked forward, L = 333", 2, 333, 40, 16},
      {"N = 5 (8 lanes per channel)", 2, 200, 33, 5},
      {"N = 32 (one warp per channel)", 1, 150, 20, 32},
      {"N = 1", 1, 140, 9, 1},
      {"L = 1", 3, 1, 10, 16},
      // TV3S per-frame shapes, fewer windows: 5 chunks of 96 tokens.
      {"TV3S: D = 512, L = 400", 3, 400, 512, 16},
  };
  cases.push_back(without_optionals({"no optional inputs, chunked", 2, 300, 24, 16}));
  ScanCase no_softplus = {"softplus off, chunked", 1, 260, 17, 16};
  no_softplus.softplus = false;
  cases.push_back(no_softplus);
  return cases;
}

// check_backends hands every input over in one dtype; the op takes A, D, delta_bias and
// the initial state in f32 (exactly: the 16-bit values widened), the rest in u's dtype.
ScanResult scan_state_f32(const ScanCase& c, const std::vector<Tensor>& in) {
  ScanArgs a = unpack(c, in);
  const DType state = scan_state_dtype(a.u);
  for (Tensor* t : {&a.A, &a.D, &a.delta_bias, &a.initial_state})
    if (t->defined()) *t = t->to(state);
  return scan(a, c.softplus);
}

void check_scan_backends(DType dtype, double tol) {
  uint64_t seed = 10000;
  for (const ScanCase& c : cuda_cases()) {
    CAPTURE(c.name);
    const std::vector<Tensor> in = make_inputs(c, seed += 20, true, DType::f32);
    check_backends([c](const std::vector<Tensor>& x) { return both_outputs(scan_state_f32(c, x)); },
                   in, tol, dtype);
  }
  // Through one output only (the other node never runs). One pass of 50 tokens: through
  // y alone, the initial state's gradient decays with every token, and after the 333 of
  // the chunked case it is ~1e-7, below what f16 stores to 5e-3 (its subnormals).
  const ScanCase c = cuda_cases()[0];
  check_backends([c](const std::vector<Tensor>& x) { return scan_state_f32(c, x).y; },
                 make_inputs(c, 10500, true, DType::f32), tol, dtype);
  check_backends(
      [c](const std::vector<Tensor>& x) {
        const ScanResult r = scan_state_f32(c, x);
        return r.final_state.to(r.y.dtype());
      },
      freeze_y_only(c, make_inputs(c, 10600, true, DType::f32)), tol, dtype);
}
}  // namespace

TV3S_CUDA_TEST_CASE("selective_scan: CUDA matches CPU in f32 (rel 2e-5)") {
  check_scan_backends(DType::f32, 2e-5);
}

TV3S_CUDA_TEST_CASE("selective_scan: CUDA matches CPU in f16 (rel 5e-3) and bf16 (rel 4e-2)") {
  check_scan_backends(DType::f16, 5e-3);
  check_scan_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("selective_scan: CUDA two pieces through the state equal one scan") {
  // Pieces of 400 tokens (chunked forward) and of 100 (one pass), as in streaming.
  const ScanCase c = {"streaming", 4, 500, 64, 16};
  const std::vector<Tensor> in = make_inputs(c, 11000, false, DType::f32);
  std::vector<Tensor> on_gpu;
  for (const Tensor& t : in) on_gpu.push_back(t.cuda());
  const ScanResult whole = scan_of(c, on_gpu);
  const ScanResult pieces = scan_in_two_pieces(c, on_gpu, 400);
  check_close(pieces.y, whole.y, 1e-5, "y");
  check_close(pieces.final_state, whole.final_state, 1e-5, "final state");
}

TV3S_CUDA_TEST_CASE("selective_scan: CUDA gradients are bitwise deterministic") {
  const ScanCase c = {"determinism", 3, 300, 100, 16};
  const std::vector<Tensor> in = make_inputs(c, 11100, false, DType::f32);
  std::vector<std::vector<float>> first;
  for (int run = 0; run < 3; ++run) {
    std::vector<Tensor> x;
    for (const Tensor& t : in) x.push_back(t.cuda().requires_grad_());
    const ScanResult r = scan_of(c, x);
    add(sum_all(r.y), sum_all(mul(r.final_state, r.final_state.detach()))).backward();
    for (size_t k = 0; k < x.size(); ++k) {
      const std::vector<float> g = x[k].grad().to_vector();
      if (run == 0) first.push_back(g);
      else CHECK(g == first[k]);
    }
  }
}

TV3S_CUDA_TEST_CASE("selective_scan: CUDA bad input") {
  const ScanCase c = {"base", 2, 5, 4, 3};
  std::vector<Tensor> in = make_inputs(c, 11200, false, DType::f32);
  for (Tensor& t : in) t = t.cuda();
  const ScanArgs ok = unpack(c, in);
  CHECK_NOTHROW(scan(ok, true));
  ScanArgs a = ok;
  a.A = ok.A.cpu();  // devices differ
  CHECK_THROWS_AS(scan(a, true), tv3s::Error);
  a = ok, a.initial_state = ok.initial_state.cpu();
  CHECK_THROWS_AS(scan(a, true), tv3s::Error);
  // More states than the kernels keep per channel.
  const ScanCase wide = {"N = 33", 1, 4, 2, 33};
  std::vector<Tensor> w = make_inputs(wide, 11300, false, DType::f32);
  for (Tensor& t : w) t = t.cuda();
  CHECK_THROWS_AS(scan_of(wide, w), tv3s::Error);
}
