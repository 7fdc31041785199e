// rms_norm / add_rms_norm: hand-computed values; an independent long-double formula (with
// and without a residual, odd C, the TV3S C = 256); the residual output's dtype and value
// (x + residual, exactly the f32/f64 sum); a zero row; f64 gradient checks of x, residual
// and weight through y, through residual_out and through both; CUDA against CPU (f32, f16,
// bf16, with the residual stream in f32); determinism; the errors.
// The rmsnorm family: src/ops/rmsnorm.cpp, cuda/rmsnorm.cu.
//
// Tolerances (rel = max|got − ref| / max|ref|, see test_util.h):
//   hand-computed values: 1e-6 (f32 inputs, results rounded once to f32).
//   CPU f64 vs the long-double formula: 1e-13; CPU f32: 1e-6 (the squares are summed in
//   double; y rounded once to f32).
//   residual_out: exact (0) — it is the sum residual + x in the stream's dtype.
//   gradcheck: eps 1e-6, |analytic − numeric| ≤ 1e-6 + 1e-5·|numeric|.
//   f32 gradients vs f64: 1e-6 (dw sums 600 rows in double; dv from f32 inputs). Measured
//   ≈ 1e-7.
//   CUDA vs CPU: f32 1e-5 (row sums in f32 warp shuffles, dw over up to 1000 rows in f32);
//   f16 1e-2 and bf16 4e-2 (x, w, dy rounded to 11/8 mantissa bits, f32 arithmetic, the
//   output rounded once more). residual_out on CUDA: exact (the same f32 sum).
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

// RMSNorm of rows of length C of v = x (+ residual), in long double, from the definition.
std::vector<double> rms_norm_reference(const std::vector<double>& x,
                                       const std::vector<double>& residual, int64_t C,
                                       const std::vector<double>& weight, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r * C < x.size(); ++r) {
    auto v = [&](int64_t c) {
      return (long double)x[r * C + c] + (residual.empty() ? 0.0L : residual[r * C + c]);
    };
    long double mean_square = 0;
    for (int64_t c = 0; c < C; ++c) mean_square += v(c) * v(c);
    mean_square /= C;
    for (int64_t c = 0; c < C; ++c)
      y[r * C + c] = double(v(c) / std::sqrt(mean_square + (long double)eps) * weight[c]);
  }
  return y;
}

// y and residual_out joined along the last dim, [..., 2C] in y's dtype: one output that
// carries both, so one gradient check covers the two nodes together.
Tensor both_outputs(const AddRmsNormResult& r) {
  return concat({r.y, r.residual.to(r.y.dtype())}, -1);
}

// The residual stream's dtype for x: f32, f64 for f64 x.
DType stream_dtype(const Tensor& x) { return x.dtype() == DType::f64 ? DType::f64 : DType::f32; }

}  // namespace

TEST_CASE("rms_norm: hand-computed values") {
  // x = [3, 4]: mean(x²) = 12.5, x̂ = x / √12.5 = [0.848528137423857, 1.131370849898476].
  const Tensor x = Tensor::from_vector({3, 4}, {1, 2});
  const Tensor weight = Tensor::from_vector({1, -2}, {2});
  check_close(rms_norm(x, weight, 0.0),
              Tensor::from_vector_f64({0.848528137423857, -2.262741699796952}, {1, 2}), 1e-6,
              "rms_norm");
  // residual [1, 0]: v = [4, 4], mean(v²) = 16, rstd = 1/4, x̂ = [1, 1], y = w.
  const AddRmsNormResult r =
      add_rms_norm(x, Tensor::from_vector({1, 0}, {1, 2}), weight, 0.0);
  check_close(r.y, Tensor::from_vector({1, -2}, {1, 2}), 1e-6, "add_rms_norm y");
  check_close(r.residual, Tensor::from_vector({4, 4}, {1, 2}), 0, "add_rms_norm residual");
  // No residual (the first layer): residual_out = x, y = rms_norm(x).
  const AddRmsNormResult first = add_rms_norm(x, Tensor(), weight, 0.0);
  check_close(first.residual, x, 0, "first layer residual");
  check_close(first.y, rms_norm(x, weight, 0.0), 0, "first layer y");
  // A zero row: rstd = 1/√eps, y = 0 (finite thanks to eps).
  check_close(rms_norm(Tensor::zeros({1, 4}), Tensor::ones({4}), 1e-5), Tensor::zeros({1, 4}), 0,
              "zero row");
}

TEST_CASE("rms_norm: against a long-double formula, f32 and f64, with and without residual") {
  uint64_t seed = 40;
  for (const Shape& shape : {Shape{3, 5, 8}, Shape{7, 256}, Shape{2, 33}, Shape{1}}) {
    CAPTURE(shape.str());
    const int64_t C = shape[shape.ndim() - 1];
    const Tensor x = random(shape, ++seed, -3, 3, false, DType::f64);
    const Tensor residual = random(shape, ++seed, -3, 3, false, DType::f64);
    const Tensor weight = random({C}, ++seed, 0.5, 1.5, false, DType::f64);
    const std::vector<double> xv = x.to_vector_f64(), rv = residual.to_vector_f64(),
                              wv = weight.to_vector_f64();
    // rms_norm.
    const Tensor want = Tensor::from_vector_f64(rms_norm_reference(xv, {}, C, wv, 1e-5), shape);
    check_close(rms_norm(x, weight), want, 1e-13, "rms_norm f64");
    check_close(rms_norm(x.to(DType::f32), weight.to(DType::f32)), want, 1e-6, "rms_norm f32");
    // add_rms_norm: f64 x keeps an f64 stream; f32 x an f32 one (the reference then uses
    // the f32-rounded inputs, so only the computation is compared).
    const AddRmsNormResult r64 = add_rms_norm(x, residual, weight);
    check_close(r64.y,
                Tensor::from_vector_f64(rms_norm_reference(xv, rv, C, wv, 1e-5), shape), 1e-13,
                "add_rms_norm f64");
    check_close(r64.residual, add(x, residual), 0, "residual_out f64");
    const Tensor x32 = x.to(DType::f32), r32 = residual.to(DType::f32), w32 = weight.to(DType::f32);
    const AddRmsNormResult out32 = add_rms_norm(x32, r32, w32);
    const std::vector<double> sum32 = add(x32, r32).to_vector_f64();  // the f32 stream
    check_close(out32.y,
                Tensor::from_vector_f64(rms_norm_reference(sum32, {}, C, wv, 1e-5), shape), 1e-6,
                "add_rms_norm f32");
    check_close(out32.residual, add(x32, r32), 0, "residual_out f32");
  }
}

TEST_CASE("add_rms_norm: the residual output's dtype is the stream's") {
  const Tensor x = random({4, 6}, 50);
  const Tensor w = random({6}, 51, 0.5, 1.5);
  AddRmsNormResult r = add_rms_norm(x, Tensor(), w);
  CHECK(r.y.dtype() == DType::f32);
  CHECK(r.residual.dtype() == DType::f32);
  CHECK(r.residual.shape() == x.shape());
  r = add_rms_norm(x.to(DType::f64), random({4, 6}, 52, -1, 1, false, DType::f64), w.to(DType::f64));
  CHECK(r.y.dtype() == DType::f64);
  CHECK(r.residual.dtype() == DType::f64);
}

TEST_CASE("rms_norm: gradcheck in f64 of x, residual and weight") {
  uint64_t seed = 60;
  for (const Shape& shape : {Shape{3, 2, 6}, Shape{4, 5}, Shape{2, 33}, Shape{3, 1}}) {
    CAPTURE(shape.str());
    const int64_t C = shape[shape.ndim() - 1];
    auto inputs = [&](bool x_grad, bool r_grad, bool w_grad) {
      return std::vector<Tensor>{random(shape, ++seed, -2, 2, x_grad, DType::f64),
                                 random(shape, ++seed, -2, 2, r_grad, DType::f64),
                                 random({C}, ++seed, 0.5, 1.5, w_grad, DType::f64)};
    };
    // rms_norm: x and weight; weight alone.
    auto plain = [](const std::vector<Tensor>& in) { return rms_norm(in[0], in[2]); };
    gradcheck(plain, inputs(true, false, true));
    gradcheck(plain, inputs(false, false, true));
    // add_rms_norm through both outputs, through y alone, through residual_out alone.
    auto both = [](const std::vector<Tensor>& in) {
      return both_outputs(add_rms_norm(in[0], in[1], in[2]));
    };
    gradcheck(both, inputs(true, true, true));
    gradcheck([](const std::vector<Tensor>& in) { return add_rms_norm(in[0], in[1], in[2]).y; },
              inputs(true, true, true));
    gradcheck(
        [](const std::vector<Tensor>& in) { return add_rms_norm(in[0], in[1], in[2]).residual; },
        inputs(true, true, false));  // the weight does not reach residual_out
    // Only the residual learns; only the weight; no residual (the first layer).
    gradcheck(both, inputs(false, true, false));
    gradcheck(both, inputs(false, false, true));
    gradcheck([](const std::vector<Tensor>& in) {
                return both_outputs(add_rms_norm(in[0], Tensor(), in[2]));
              },
              inputs(true, false, true));
  }
}

TEST_CASE("add_rms_norm: a chain of layers carries the gradient along the residual stream") {
  // Three pre-norm blocks as Mamba stacks them, h ← tanh(y) standing in for the mixer:
  // r₁ = x₀, y₁ = norm(r₁); r₂ = r₁ + h₁, ...; the loss reads the last y and residual.
  gradcheck(
      [](const std::vector<Tensor>& in) {
        Tensor h = in[0], residual;
        AddRmsNormResult r;
        for (int layer = 0; layer < 3; ++layer) {
          r = add_rms_norm(h, residual, in[1 + layer]);
          residual = r.residual;
          h = tanh(r.y);
        }
        return both_outputs(r);
      },
      {random({5, 4}, 70, -2, 2, true, DType::f64), random({4}, 71, 0.5, 1.5, true, DType::f64),
       random({4}, 72, 0.5, 1.5, true, DType::f64), random({4}, 73, 0.5, 1.5, true, DType::f64)});
}

TEST_CASE("rms_norm: f32 gradients match f64 ones") {
  const Tensor x64 = random({600, 24}, 81, -2, 2, true, DType::f64);
  const Tensor r64 = random({600, 24}, 82, -2, 2, true, DType::f64);
  const Tensor w64 = random({24}, 83, 0.5, 1.5, true, DType::f64);
  const Tensor dy = random({600, 48}, 84, -1, 1, false, DType::f64);
  sum_all(mul(both_outputs(add_rms_norm(x64, r64, w64)), dy)).backward();
  std::vector<Tensor> in32;
  for (const Tensor& t : {x64, r64, w64}) {
    Tensor t32 = t.detach().to(DType::f32);
    t32.requires_grad_();
    in32.push_back(t32);
  }
  sum_all(mul(both_outputs(add_rms_norm(in32[0], in32[1], in32[2])), dy.to(DType::f32))).backward();
  check_close(in32[0].grad(), x64.grad(), 1e-6, "dx");
  check_close(in32[1].grad(), r64.grad(), 1e-6, "dresidual");
  check_close(in32[2].grad(), w64.grad(), 1e-6, "dweight");
}

TEST_CASE("rms_norm: gradients of inputs that need none stay undefined") {
  const Tensor x = random({2, 4}, 91, -1, 1, true);
  const Tensor residual = random({2, 4}, 92);       // frozen
  const Tensor weight = random({4}, 93, 0.5, 1.5);  // frozen
  sum_all(both_outputs(add_rms_norm(x, residual, weight))).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(residual.grad().defined());
  CHECK_FALSE(weight.grad().defined());
  // Only the weight learns: residual_out records nothing.
  const AddRmsNormResult r = add_rms_norm(random({2, 4}, 94), residual, random({4}, 95, 0.5, 1.5, true));
  CHECK(r.y.requires_grad());
  CHECK_FALSE(r.residual.requires_grad());
}

TEST_CASE("rms_norm: bad input") {
  const Tensor x = random({2, 4}, 1);
  const Tensor w = random({4}, 2);
  CHECK_NOTHROW(add_rms_norm(x, random({2, 4}, 3), w));                          // valid base
  CHECK_THROWS_AS(rms_norm(x, random({5}, 2)), tv3s::Error);                      // wrong C
  CHECK_THROWS_AS(rms_norm(x, random({1, 4}, 2)), tv3s::Error);                   // not [C]
  CHECK_THROWS_AS(rms_norm(x, Tensor()), tv3s::Error);                            // no weight
  CHECK_THROWS_AS(rms_norm(x, w.to(DType::f64)), tv3s::Error);                    // dtypes
  CHECK_THROWS_AS(rms_norm(x, w, -1.0), tv3s::Error);                             // eps < 0
  CHECK_THROWS_AS(rms_norm(Tensor::zeros({2, 0}), Tensor::zeros({0})), tv3s::Error);  // C = 0
  CHECK_THROWS_AS(rms_norm(Tensor::from_vector_i32({1, 2}, {1, 2}), w), tv3s::Error);
  CHECK_THROWS_AS(rms_norm(x.to(DType::f16), w.to(DType::f16)), tv3s::Error);    // f16 on CPU
  CHECK_THROWS_AS(add_rms_norm(x, random({2, 5}, 3), w), tv3s::Error);           // residual shape
  CHECK_THROWS_AS(add_rms_norm(x, random({4, 2}, 3), w), tv3s::Error);
  CHECK_THROWS_AS(add_rms_norm(x, random({2, 4}, 3, -1, 1, false, DType::f64), w),
                  tv3s::Error);                                      // f64 residual for f32 x
  CHECK_THROWS_AS(add_rms_norm(x.to(DType::f64), random({2, 4}, 3), w.to(DType::f64)),
                  tv3s::Error);                                      // f32 residual for f64 x
  CHECK_THROWS_AS(add_rms_norm(x, Tensor(), random({3}, 2)), tv3s::Error);        // wrong C
}

// --- CUDA against CPU ---------------------------------------------------------------------
// C = 32 (one element per lane), 3, 7 and 33 (idle lanes), 256 (TV3S), 300 (lanes loop);
// not C = 1, where dx = rstd·g·(1 − x̂²) cancels to ~eps/v² and f32 keeps few digits of it;
// 1000 rows make several row chunks in the deterministic dw reduction. check_backends casts
// every input to the tested dtype, so the functions move the residual back to the stream's
// f32 (a differentiable cast) as the op requires.

namespace {
void check_rms_norm_backends(DType dtype, double tol) {
  uint64_t seed = 100;
  for (const Shape& shape :
       {Shape{4, 32}, Shape{3, 5, 7}, Shape{2, 33}, Shape{2, 300}, Shape{1000, 256}, Shape{1, 3}}) {
    CAPTURE(shape.str());
    const int64_t C = shape[shape.ndim() - 1];
    check_backends([](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1]); },
                   {random(shape, ++seed, -2, 2, true), random({C}, ++seed, 0.5, 1.5, true)}, tol,
                   dtype);
    check_backends(
        [](const std::vector<Tensor>& in) {
          return both_outputs(add_rms_norm(in[0], in[1].to(stream_dtype(in[0])), in[2]));
        },
        {random(shape, ++seed, -2, 2, true), random(shape, ++seed, -2, 2, true),
         random({C}, ++seed, 0.5, 1.5, true)},
        tol, dtype);
    check_backends(
        [](const std::vector<Tensor>& in) {
          return both_outputs(add_rms_norm(in[0], Tensor(), in[1]));
        },
        {random(shape, ++seed, -2, 2, true), random({C}, ++seed, 0.5, 1.5, true)}, tol, dtype);
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("rms_norm: CUDA matches CPU in f32 (rel 1e-5)") {
  check_rms_norm_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("rms_norm: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 4e-2)") {
  check_rms_norm_backends(DType::f16, 1e-2);
  check_rms_norm_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("add_rms_norm: CUDA half-precision x keeps an f32 residual stream") {
  // residual_out is f32(x) + residual, exactly as the CPU computes it from the same values;
  // the residual's gradient comes back in f32 as well.
  for (const DType dtype : {DType::f16, DType::bf16, DType::f32}) {
    const std::string name = dtype_name(dtype);
    CAPTURE(name);
    const Tensor x = random({37, 256}, 110).to(dtype);
    Tensor residual = random({37, 256}, 111, -50, 50);
    const Tensor weight = random({256}, 112, 0.5, 1.5).to(dtype);
    Tensor residual_gpu = residual.cuda();
    residual_gpu.requires_grad_();
    const AddRmsNormResult r = add_rms_norm(x.cuda(), residual_gpu, weight.cuda());
    CHECK(r.y.dtype() == dtype);
    CHECK(r.residual.dtype() == DType::f32);
    check_close(r.residual, add(x.to(DType::f32), residual), 0, "residual_out");
    sum_all(both_outputs(r).to(DType::f32)).backward();
    CHECK(residual_gpu.grad().dtype() == DType::f32);
    if (dtype != DType::f32)  // a residual in x's half precision is refused
      CHECK_THROWS_AS(add_rms_norm(x.cuda(), residual.to(dtype).cuda(), weight.cuda()),
                      tv3s::Error);
  }
}

TV3S_CUDA_TEST_CASE("rms_norm: CUDA dweight is bitwise deterministic") {
  const Tensor x = random({5000, 256}, 121, -2, 2).cuda();
  const Tensor residual = random({5000, 256}, 122, -2, 2).cuda();
  const Tensor dy = random({5000, 256}, 123, -1, 1).cuda();
  std::vector<float> first;
  for (int run = 0; run < 3; ++run) {
    Tensor weight = random({256}, 124, 0.5, 1.5).cuda();
    weight.requires_grad_();
    sum_all(mul(add_rms_norm(x, residual, weight).y, dy)).backward();
    const std::vector<float> g = weight.grad().to_vector();
    if (run == 0) first = g;
    else CHECK(g == first);
  }
}
