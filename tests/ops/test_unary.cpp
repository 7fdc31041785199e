// Unary family: values known by hand, every op against its formula written again here
// with <cmath> in double, the fast f32 GELU (src/ops/cpu/unary.cpp) against the reference
// (unary_reference, src/ops/unary.cpp), finite-difference gradients in f64, errors, CUDA
// against CPU.
#include <cmath>

#include "src/ops/cpu/unary.h"
#include "src/ops/unary.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {

struct UnaryCase {
  UnaryOp op;
  double lo, hi;                 // input range: inside the op's domain, away from kinks
  double (*formula)(double);     // the math, independently of src/ops/unary.cpp
};

double sigmoid_formula(double x) { return 1 / (1 + std::exp(-x)); }

const std::vector<UnaryCase>& cases() {
  static const std::vector<UnaryCase> all = {
      {UnaryOp::neg, -2, 2, [](double x) { return -x; }},
      {UnaryOp::exp, -2, 2, [](double x) { return std::exp(x); }},
      {UnaryOp::log, 0.5, 2, [](double x) { return std::log(x); }},
      {UnaryOp::sqrt, 0.5, 2, [](double x) { return std::sqrt(x); }},
      {UnaryOp::rsqrt, 0.5, 2, [](double x) { return 1 / std::sqrt(x); }},
      {UnaryOp::square, -2, 2, [](double x) { return x * x; }},
      {UnaryOp::tanh, -2, 2, [](double x) { return std::tanh(x); }},
      {UnaryOp::relu, -2, 2, [](double x) { return x > 0 ? x : 0.0; }},
      {UnaryOp::gelu, -3, 3, [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }},
      {UnaryOp::silu, -4, 4, [](double x) { return x * sigmoid_formula(x); }},
      {UnaryOp::sigmoid, -4, 4, sigmoid_formula},
      {UnaryOp::softplus, -4, 4, [](double x) { return x > 20 ? x : std::log(1 + std::exp(x)); }},
  };
  return all;
}

// Values in [lo, hi) kept at least 0.05 away from 0, so relu's kink never sits inside a
// finite-difference step.
Tensor inputs_for(const UnaryCase& c, const Shape& shape, uint64_t seed, DType dtype, bool grad) {
  std::vector<double> v = test::random(shape, seed, c.lo, c.hi).to_vector_f64();
  for (double& x : v)
    if (std::fabs(x) < 0.05) x = x < 0 ? -0.05 : 0.05;
  Tensor t = Tensor::from_vector_f64(v, shape, dtype);
  if (grad) t.requires_grad_();
  return t;
}

Tensor expected(const UnaryCase& c, const Tensor& x) {
  std::vector<double> v = x.to_vector_f64();
  for (double& e : v) e = c.formula(e);
  return Tensor::from_vector_f64(v, x.shape(), DType::f64);
}

}  // namespace

TEST_CASE("unary: known values") {
  const Tensor x = Tensor::from_vector({-1, 0, 0.5f, 1}, Shape{4});
  // relu, square, neg: exact
  CHECK(relu(x).to_vector() == std::vector<float>{0, 0, 0.5f, 1});
  CHECK(square(x).to_vector() == std::vector<float>{1, 0, 0.25f, 1});
  CHECK(neg(x).to_vector() == std::vector<float>{1, -0.f, -0.5f, -1});
  // Values from tables: Φ(1) = 0.8413447460685429, e = 2.718281828459045, ...
  const auto close = [](const Tensor& got, std::vector<double> want) {
    test::check_close(got, Tensor::from_vector_f64(want, got.shape()), 1e-7);
  };
  close(gelu(x), {-0.15865525393145707, 0, 0.34573123063700656, 0.8413447460685429});
  close(sigmoid(x), {0.2689414213699951, 0.5, 0.6224593312018546, 0.7310585786300049});
  close(silu(x), {-0.2689414213699951, 0, 0.3112296656009273, 0.7310585786300049});
  close(tanh(x), {-0.7615941559557649, 0, 0.46211715726000974, 0.7615941559557649});
  close(softplus(x), {0.31326168751822286, 0.6931471805599453, 0.9740769841801067,
                      1.3132616875182228});
  close(exp(x), {0.36787944117144233, 1, 1.6487212707001282, 2.718281828459045});
  const Tensor p = Tensor::from_vector({0.25f, 1, 4}, Shape{3});
  CHECK(sqrt(p).to_vector() == std::vector<float>{0.5f, 1, 2});
  CHECK(rsqrt(p).to_vector() == std::vector<float>{2, 1, 0.5f});
  close(log(p), {-1.3862943611198906, 0, 1.3862943611198906});
}

TEST_CASE("unary: the reference matches every formula; the fast f32 GELU matches the reference") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(unary_op_name(c.op));
    for (const DType dtype : {DType::f64, DType::f32}) {
      const Tensor x = inputs_for(c, Shape{3, 41}, 9, dtype, false);
      Tensor y = Tensor::empty(x.shape(), dtype);
      unary_reference(c.op, x, y);
      test::check_close(y, expected(c, x), dtype == DType::f64 ? 1e-14 : 1e-6, "reference");
    }
  }
  // Every tail of the 8 lanes, a chunk boundary (4096) and enough values for threads;
  // nothing past n is written. Tolerance 1e-6 as the op's f32 against its formula.
  for (const int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 4101, 40000}) {
    CAPTURE(n);
    const Tensor x = test::random(Shape{n}, uint64_t(n), -6, 6);
    Tensor want = Tensor::empty(x.shape());
    unary_reference(UnaryOp::gelu, x, want);
    std::vector<float> got(size_t(n + 8), 123.f);
    cpu::gelu_f32(x.data<float>(), got.data(), n);
    for (size_t i = size_t(n); i < got.size(); ++i) CHECK(got[i] == 123.f);
    got.resize(size_t(n));
    test::check_close(Tensor::from_vector(got, Shape{n}), want, 1e-6, "fast gelu");
  }
}

TEST_CASE("unary: every op matches its formula (f32 and f64)") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(unary_op_name(c.op));
    const Tensor x64 = inputs_for(c, Shape{3, 41}, 7, DType::f64, false);
    test::check_close(unary(c.op, x64), expected(c, x64), 1e-14, "f64");
    const Tensor x32 = inputs_for(c, Shape{3, 41}, 7, DType::f32, false);
    const Tensor y32 = unary(c.op, x32);
    CHECK(y32.dtype() == DType::f32);
    CHECK(y32.shape() == Shape{3, 41});
    test::check_close(y32, expected(c, x32), 1e-6, "f32");
  }
}

TEST_CASE("unary: softplus is the identity above 20, as in PyTorch") {
  const Tensor x = Tensor::from_vector_f64({19.5, 20.5, 25, 100, -30}, Shape{5});
  const std::vector<double> y = softplus(x).to_vector_f64();
  CHECK(y[0] == doctest::Approx(std::log1p(std::exp(19.5))).epsilon(1e-15));
  CHECK(y[1] == 20.5);
  CHECK(y[2] == 25);
  CHECK(y[3] == 100);  // log1p(exp(100)) would be fine too; exp(1000) would not
  CHECK(y[4] == doctest::Approx(std::exp(-30.0)).epsilon(1e-12));
  // Gradient: σ(x) below the threshold, exactly 1 above it.
  Tensor leaf = x.clone().requires_grad_();
  sum_all(softplus(leaf)).backward();
  const std::vector<double> g = leaf.grad().to_vector_f64();
  CHECK(g[0] == doctest::Approx(1 / (1 + std::exp(-19.5))).epsilon(1e-15));
  CHECK(g[1] == 1);
  CHECK(g[3] == 1);
}

TEST_CASE("unary: extreme inputs stay finite where the math is") {
  const Tensor x = Tensor::from_vector({-200, 200}, Shape{2});
  CHECK(sigmoid(x).to_vector() == std::vector<float>{0, 1});
  const std::vector<float> s = silu(x).to_vector();
  CHECK(s[0] == 0.f);
  CHECK(s[1] == 200.f);
  CHECK(tanh(x).to_vector() == std::vector<float>{-1, 1});
  const std::vector<float> g = gelu(x).to_vector();
  CHECK(g[0] == 0.f);
  CHECK(g[1] == 200.f);
}

TEST_CASE("unary: backward of every op (gradcheck, f64)") {
  for (const UnaryCase& c : cases()) {
    CAPTURE(unary_op_name(c.op));
    const UnaryOp op = c.op;
    test::gradcheck([op](const std::vector<Tensor>& in) { return unary(op, in[0]); },
                    {inputs_for(c, Shape{2, 5, 3}, 21, DType::f64, true)});
  }
  // softplus on both sides of its threshold
  Tensor wide = Tensor::from_vector_f64({-5, 0.5, 19, 21, 30}, Shape{5});
  test::gradcheck([](const std::vector<Tensor>& in) { return softplus(in[0]); },
                  {wide.requires_grad_()});
}

TEST_CASE("unary: backward through a chain of ops and a view") {
  // d/dx Σ sigmoid(gelu(x)²) computed by hand: σ'(u)·2·gelu(x)·gelu'(x), u = gelu(x)².
  Tensor x = Tensor::from_vector_f64({-0.7, 0.3, 1.2, 2.0}, Shape{2, 2});
  x.requires_grad_();
  sum_all(sigmoid(square(gelu(x.slice_outer(1, 2))))).backward();
  const std::vector<double> xs = x.to_vector_f64(), g = x.grad().to_vector_f64();
  CHECK(g[0] == 0);
  CHECK(g[1] == 0);
  for (int i = 2; i < 4; ++i) {
    const double v = xs[size_t(i)];
    const double cdf = 0.5 * (1 + std::erf(v / std::sqrt(2.0)));
    const double gl = v * cdf, dgl = cdf + v * std::exp(-v * v / 2) / std::sqrt(2 * M_PI);
    const double s = sigmoid_formula(gl * gl);
    CHECK(g[size_t(i)] == doctest::Approx(s * (1 - s) * 2 * gl * dgl).epsilon(1e-12));
  }
}

TEST_CASE("unary: records no graph under NoGradGuard") {
  Tensor x = test::random(Shape{4}, 3, -1, 1, true);
  CHECK(gelu(x).requires_grad());
  NoGradGuard no_grad;
  CHECK_FALSE(gelu(x).requires_grad());
}

TEST_CASE("unary: bad dtypes are rejected with the op's name") {
  const Tensor labels = Tensor::from_vector_i32({1, 2, 3}, Shape{3});
  CHECK_THROWS_WITH_AS(relu(labels), doctest::Contains("relu"), Error);
  CHECK_THROWS_WITH_AS(gelu(labels), doctest::Contains("i32[3]"), Error);
  const Tensor half = Tensor::zeros(Shape{2}, DType::f16);
  CHECK_THROWS_WITH_AS(exp(half), doctest::Contains("exp: CPU arithmetic is f32 or f64"), Error);
  CHECK_THROWS_AS(tanh(Tensor()), Error);
}

TV3S_CUDA_TEST_CASE("unary: CUDA matches CPU, forward and backward (f32, f16, bf16)") {
  // f32: a few ulps of libm vs CUDA's expf/erff/tanhf. f16/bf16: the inputs, the weights
  // of the checked sum and the results are rounded to 11/8 significant bits.
  for (auto [dtype, tol] : {std::pair{DType::f32, 1e-6}, {DType::f16, 1e-2}, {DType::bf16, 3e-2}}) {
    for (const UnaryCase& c : cases()) {
      CAPTURE(unary_op_name(c.op));
      CAPTURE(dtype_name(dtype));
      const UnaryOp op = c.op;
      const auto f = [op](const std::vector<Tensor>& in) { return unary(op, in[0]); };
      // 3·37 elements: the 16-byte packs and a tail of n mod 8.
      test::check_backends(f, {inputs_for(c, Shape{3, 37}, 5, DType::f32, true)}, tol, dtype);
      // Several blocks of the grid-stride loop.
      test::check_backends(f, {inputs_for(c, Shape{64, 1000}, 6, DType::f32, true)}, tol, dtype);
      // A view at an offset of 3 elements is not 16-byte aligned: the one-element path.
      const auto g = [op](const std::vector<Tensor>& in) {
        return unary(op, in[0].slice_outer(1, 5));
      };
      test::check_backends(g, {inputs_for(c, Shape{5, 3}, 8, DType::f32, true)}, tol, dtype);
    }
  }
}
