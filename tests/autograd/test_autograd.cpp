// The backward engine: chain rule, fan-out accumulation, leaves, grad mode, freeing.
#include <chrono>

#include "tests/test_util.h"

using namespace tv3s;

TEST_CASE("autograd: chain rule through a small expression, by hand") {
  // L = Σ (a·b + a)²  →  dL/da = 2(a·b + a)(b + 1),  dL/db = 2(a·b + a)·a
  Tensor a = Tensor::from_vector_f64({1, 2, -3}, Shape{3}).requires_grad_();
  Tensor b = Tensor::from_vector_f64({0.5, -1, 2}, Shape{3}).requires_grad_();
  const Tensor y = add(mul(a, b), a);
  sum_all(mul(y, y)).backward();
  const std::vector<double> ga = a.grad().to_vector_f64(), gb = b.grad().to_vector_f64();
  const double av[] = {1, 2, -3}, bv[] = {0.5, -1, 2};
  for (int i = 0; i < 3; ++i) {
    const double yi = av[i] * bv[i] + av[i];
    CHECK(ga[size_t(i)] == doctest::Approx(2 * yi * (bv[i] + 1)));
    CHECK(gb[size_t(i)] == doctest::Approx(2 * yi * av[i]));
  }
}

TEST_CASE("autograd: a tensor used twice gets both contributions; grads accumulate") {
  Tensor x = Tensor::from_vector_f64({3}, Shape{1}).requires_grad_();
  sum_all(mul(x, x)).backward();  // d(x²)/dx = 2x = 6
  CHECK(x.grad().item() == 6);
  sum_all(mul(x, x)).backward();  // accumulates: 12
  CHECK(x.grad().item() == 12);
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
  sum_all(affine(x, 5, 1)).backward();
  CHECK(x.grad().item() == 5);
}

TEST_CASE("autograd: broadcasting gradients are summed back to the operand shape") {
  Tensor m = Tensor::from_vector_f64({1, 2, 3, 4, 5, 6}, Shape{2, 3}).requires_grad_();
  Tensor row = Tensor::from_vector_f64({10, 20, 30}, Shape{3}).requires_grad_();
  sum_all(mul(m, row)).backward();
  CHECK(row.grad().shape() == Shape{3});
  CHECK(row.grad().to_vector_f64() == std::vector<double>{5, 7, 9});
  CHECK(m.grad().to_vector_f64() == std::vector<double>{10, 20, 30, 10, 20, 30});
}

TEST_CASE("autograd: NoGradGuard records nothing; inputs without grad record nothing") {
  Tensor w = Tensor::ones(Shape{4}).requires_grad_();
  const uint64_t before = autograd::nodes_recorded();
  {
    NoGradGuard guard;
    const Tensor y = mul(w, w);
    CHECK_FALSE(y.requires_grad());
    CHECK_FALSE(grad_enabled());
  }
  CHECK(grad_enabled());
  const Tensor plain = mul(Tensor::ones(Shape{4}), Tensor::ones(Shape{4}));
  CHECK_FALSE(plain.requires_grad());
  CHECK(autograd::nodes_recorded() == before);
  const Tensor tracked = mul(w, w);
  CHECK(tracked.requires_grad());
  CHECK(autograd::nodes_recorded() == before + 1);
}

TEST_CASE("autograd: backward frees the graph; a second backward says so") {
  Tensor x = Tensor::ones(Shape{2}).requires_grad_();
  const Tensor loss = sum_all(mul(x, x));
  loss.backward();
  CHECK_THROWS_WITH_AS(loss.backward(),
                       "backward: the graph through 'sum_to' was already freed by an earlier backward()",
                       Error);
}

TEST_CASE("autograd: backward needs a scalar that requires grad") {
  Tensor x = Tensor::ones(Shape{2}).requires_grad_();
  CHECK_THROWS_AS(mul(x, x).backward(), Error);
  CHECK_THROWS_AS(Tensor::ones(Shape{1}).backward(), Error);
  CHECK_THROWS_AS(Tensor::zeros(Shape{2}, DType::i32).requires_grad_(), Error);
}

TEST_CASE("autograd: detach cuts the history") {
  Tensor x = Tensor::from_vector_f64({2}, Shape{1}).requires_grad_();
  const Tensor y = mul(x, x);
  const Tensor z = mul(y.detach(), x);  // only the direct path: dz/dx = y = 4
  sum_all(z).backward();
  CHECK(x.grad().item() == 4);
}

TEST_CASE("autograd: views and casts pass gradients") {
  Tensor x = Tensor::from_vector_f64({1, 2, 3, 4, 5, 6}, Shape{3, 2}).requires_grad_();
  const Tensor rows = x.slice_outer(1, 3).reshape(Shape{4});
  sum_all(mul(rows, rows)).backward();
  CHECK(x.grad().to_vector_f64() == std::vector<double>{0, 0, 6, 8, 10, 12});
  Tensor f = Tensor::from_vector({1.5f}, Shape{1}).requires_grad_();
  sum_all(mul(f.to(DType::f64), Tensor::full(Shape{1}, 3.0, DType::f64))).backward();
  CHECK(f.grad().dtype() == DType::f32);
  CHECK(f.grad().item() == 3.0);
}

TEST_CASE("autograd: a long chain (deep tape) runs and frees") {
  Tensor x = Tensor::from_vector_f64({1.0}, Shape{1}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 2000; ++i) y = affine(y, 1.001, 0.0);
  sum_all(y).backward();
  CHECK(x.grad().item() == doctest::Approx(std::pow(1.001, 2000)));
}

TV3S_CUDA_TEST_CASE("autograd: the same graph on CUDA gives the CPU gradients") {
  test::check_backends(
      [](const std::vector<Tensor>& in) { return mul(add(mul(in[0], in[1]), in[0]), in[1]); },
      {test::random(Shape{5, 7}, 1, -1, 1, true), test::random(Shape{7}, 2, -1, 1, true)}, 1e-6);
}
