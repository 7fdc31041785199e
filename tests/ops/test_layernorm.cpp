// layer_norm: hand-computed values, an independent long-double formula, a large offset
// (two-pass variance), f64 gradient checks of x, γ and β (with and without affine), CUDA
// against CPU. The layernorm family: src/ops/layernorm.cpp, cuda/layernorm.cu.
#include <cmath>
#include <vector>

#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// LayerNorm of rows of length C, in long double, straight from the definition.
std::vector<double> layer_norm_reference(const std::vector<double>& x, int64_t C,
                                         const std::vector<double>& weight,
                                         const std::vector<double>& bias, double eps) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r * C < x.size(); ++r) {
    long double mean = 0, var = 0;
    for (int64_t c = 0; c < C; ++c) mean += x[r * C + c];
    mean /= C;
    for (int64_t c = 0; c < C; ++c) var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
    var /= C;
    for (int64_t c = 0; c < C; ++c) {
      const long double xhat = (x[r * C + c] - mean) / std::sqrt(var + (long double)eps);
      y[r * C + c] = double(xhat * (weight.empty() ? 1 : weight[c]) + (bias.empty() ? 0 : bias[c]));
    }
  }
  return y;
}

}  // namespace

TEST_CASE("layer_norm: hand-computed values") {
  // x = [1, 2, 3, 4]: μ = 2.5, σ² = 1.25 (biased), x̂ = (x − μ)/sqrt(1.25).
  const Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 4});
  const Tensor xhat = Tensor::from_vector_f64(
      {-1.3416407864998738, -0.4472135954999579, 0.4472135954999579, 1.3416407864998738}, {1, 4});
  check_close(layer_norm(x, Tensor(), Tensor(), 0.0), xhat, 1e-6, "no affine");
  const Tensor weight = Tensor::from_vector({1, -1, 2, 0.5}, {4});
  const Tensor bias = Tensor::from_vector({0, 1, 0, -1}, {4});
  check_close(layer_norm(x, weight, bias, 0.0),
              Tensor::from_vector_f64(
                  {-1.3416407864998738, 1.4472135954999579, 0.8944271909999159, -0.3291796067500631},
                  {1, 4}),
              1e-6, "affine");
  // A constant row has σ² = 0: x̂ = 0, y = β, finite thanks to eps.
  const Tensor flat = Tensor::from_vector({2, 2, 2, 2}, {1, 4});
  check_close(layer_norm(flat, weight, bias, 1e-5), bias.reshape({1, 4}), 0, "constant row");
}

TEST_CASE("layer_norm: against a long-double formula, f32 and f64, weight/bias optional") {
  const int64_t C = 8;
  const Tensor x = random({3, 5, C}, 41, -3, 3, false, DType::f64);
  const Tensor weight = random({C}, 42, 0.5, 1.5, false, DType::f64);
  const Tensor bias = random({C}, 43, -1, 1, false, DType::f64);
  const std::vector<double> xv = x.to_vector_f64(), wv = weight.to_vector_f64(),
                            bv = bias.to_vector_f64();
  struct Case { bool use_weight, use_bias; };
  for (const Case& c : {Case{true, true}, Case{false, false}, Case{true, false}, Case{false, true}}) {
    CAPTURE(c.use_weight);
    CAPTURE(c.use_bias);
    const Tensor want = Tensor::from_vector_f64(
        layer_norm_reference(xv, C, c.use_weight ? wv : std::vector<double>{},
                             c.use_bias ? bv : std::vector<double>{}, 1e-5),
        x.shape());
    const Tensor w = c.use_weight ? weight : Tensor(), b = c.use_bias ? bias : Tensor();
    check_close(layer_norm(x, w, b), want, 1e-13, "f64");
    const Tensor w32 = w.defined() ? w.to(DType::f32) : Tensor();
    const Tensor b32 = b.defined() ? b.to(DType::f32) : Tensor();
    check_close(layer_norm(x.to(DType::f32), w32, b32), want, 1e-6, "f32");
  }
}

TEST_CASE("layer_norm: a large offset keeps its precision (two-pass variance)") {
  // 10⁴ + small values: E[x²] − μ² would cancel catastrophically in f32.
  const Tensor small = random({4, 16}, 44, -1, 1);
  const Tensor x = small + 1e4;
  // The reference uses the f32-rounded inputs, so only the computation is compared.
  const Tensor want = Tensor::from_vector_f64(
      layer_norm_reference(x.to_vector_f64(), 16, {}, {}, 1e-5), x.shape());
  check_close(layer_norm(x, Tensor(), Tensor()), want, 1e-5, "offset 1e4");
}

TEST_CASE("layer_norm: gradcheck in f64 of x, weight and bias") {
  auto with_affine = [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); };
  gradcheck(with_affine, {random({3, 2, 6}, 51, -2, 2, true, DType::f64),
                          random({6}, 52, 0.5, 1.5, true, DType::f64),
                          random({6}, 53, -1, 1, true, DType::f64)});
  // Without affine parameters.
  gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor()); },
            {random({4, 5}, 54, -2, 2, true, DType::f64)});
  // Only the parameters need gradients (frozen input), and weight without bias.
  gradcheck(with_affine, {random({5, 3}, 55, -2, 2, false, DType::f64),
                          random({3}, 56, 0.5, 1.5, true, DType::f64),
                          random({3}, 57, -1, 1, true, DType::f64)});
  gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], Tensor()); },
            {random({2, 7}, 58, -2, 2, true, DType::f64), random({7}, 59, 0.5, 1.5, true, DType::f64)});
}

TEST_CASE("layer_norm: gradient of a parameter that needs none stays undefined") {
  const Tensor x = random({2, 4}, 61, -1, 1, true);
  const Tensor weight = random({4}, 62, 0.5, 1.5);  // frozen
  sum_all(layer_norm(x, weight, Tensor())).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(weight.grad().defined());
}

TEST_CASE("layer_norm: bad input") {
  const Tensor x = random({2, 4}, 1);
  CHECK_THROWS_AS(layer_norm(x, random({5}, 2), Tensor()), tv3s::Error);       // wrong C
  CHECK_THROWS_AS(layer_norm(x, Tensor(), random({2, 4}, 3)), tv3s::Error);    // not [C]
  CHECK_THROWS_AS(layer_norm(x, random({4}, 2, -1, 1, false, DType::f64), Tensor()), tv3s::Error);
  CHECK_THROWS_AS(layer_norm(Tensor::from_vector_i32({1, 2}, {1, 2}), Tensor(), Tensor()),
                  tv3s::Error);
  CHECK_THROWS_AS(layer_norm(x, Tensor(), Tensor(), -1.0), tv3s::Error);
}

// --- CUDA against CPU ---------------------------------------------------------------------
// C = 32 (one element per lane), 7 (idle lanes), 300 (lanes loop); 300 rows make several
// row chunks in the deterministic dγ/dβ reduction.

namespace {
void check_layer_norm_backends(DType dtype, double tol) {
  for (const Shape& shape : {Shape{4, 32}, Shape{3, 5, 7}, Shape{2, 300}, Shape{300, 24}}) {
    CAPTURE(shape.str());
    const int64_t C = shape[shape.ndim() - 1];
    check_backends([](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2]); },
                   {random(shape, 71, -2, 2, true), random({C}, 72, 0.5, 1.5, true),
                    random({C}, 73, -1, 1, true)},
                   tol, dtype);
    check_backends(
        [](const std::vector<Tensor>& in) { return layer_norm(in[0], Tensor(), Tensor()); },
        {random(shape, 74, -2, 2, true)}, tol, dtype);
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("layer_norm: CUDA matches CPU in f32 (rel 1e-5)") {
  check_layer_norm_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("layer_norm: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 4e-2)") {
  check_layer_norm_backends(DType::f16, 1e-2);
  check_layer_norm_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("layer_norm: CUDA dweight/dbias are bitwise deterministic") {
  const Tensor x = random({1000, 40}, 81, -2, 2).cuda();
  const Tensor dy_weights = random({1000, 40}, 82, -1, 1).cuda();
  std::vector<float> first;
  for (int run = 0; run < 3; ++run) {
    Tensor weight = random({40}, 83, 0.5, 1.5).cuda();
    weight.requires_grad_();
    sum_all(mul(layer_norm(x, weight, Tensor()), dy_weights)).backward();
    const std::vector<float> g = weight.grad().to_vector();
    if (run == 0) first = g;
    else CHECK(g == first);
  }
}
