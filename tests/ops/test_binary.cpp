// Binary family: values by hand, broadcasting rules, finite-difference gradients,
// CUDA against CPU.
#include "tests/test_util.h"

using namespace tv3s;

TEST_CASE("binary: add/sub/mul/div values, with and without broadcasting") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor row = Tensor::from_vector({10, 20, 30}, Shape{3});
  const Tensor col = Tensor::from_vector({1, 2}, Shape{2, 1});
  CHECK(add(a, row).to_vector() == std::vector<float>{11, 22, 33, 14, 25, 36});
  CHECK(sub(a, col).to_vector() == std::vector<float>{0, 1, 2, 2, 3, 4});
  CHECK(mul(a, a).to_vector() == std::vector<float>{1, 4, 9, 16, 25, 36});
  CHECK(div(a, col).to_vector() == std::vector<float>{1, 2, 3, 2, 2.5f, 3});
  // col [2,1] with row [3] → [2,3] (both sides stretch)
  CHECK(mul(col, row).to_vector() == std::vector<float>{10, 20, 30, 20, 40, 60});
  CHECK((a * 2.0 + 1.0).to_vector() == std::vector<float>{3, 5, 7, 9, 11, 13});
  CHECK((-a).to_vector()[5] == -6.f);
  const Tensor scalar = Tensor::full(Shape{}, 2.0);
  CHECK(mul(a, scalar).shape() == Shape{2, 3});
  CHECK(broadcast_shapes(Shape{5, 1, 4}, Shape{3, 1}, "t") == Shape{5, 3, 4});
}

TEST_CASE("binary: accumulate_ adds in place") {
  Tensor a = Tensor::from_vector({1, 2}, Shape{2});
  accumulate_(a, Tensor::from_vector({10, 20}, Shape{2}));
  CHECK(a.to_vector() == std::vector<float>{11, 22});
  CHECK_THROWS_AS(accumulate_(a, Tensor::zeros(Shape{3})), Error);
}

TEST_CASE("binary: gradients match finite differences (f64)") {
  const auto a = [] { return test::random(Shape{2, 3, 4}, 11, -1, 1, true, DType::f64); };
  const auto b = [] { return test::random(Shape{3, 1}, 12, 0.5, 2, true, DType::f64); };
  test::gradcheck([](const std::vector<Tensor>& in) { return add(in[0], in[1]); }, {a(), b()});
  test::gradcheck([](const std::vector<Tensor>& in) { return sub(in[0], in[1]); }, {a(), b()});
  test::gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, {a(), b()});
  test::gradcheck([](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, {a(), b()});
  test::gradcheck([](const std::vector<Tensor>& in) { return div(in[1], in[0] + 3.0); }, {a(), b()});
  test::gradcheck([](const std::vector<Tensor>& in) { return affine(in[0], -1.5, 2.0); }, {a()});
}

TV3S_CUDA_TEST_CASE("binary: CUDA matches CPU (f32, f16, bf16; broadcast and same shape)") {
  const std::vector<Tensor> same = {test::random(Shape{37, 129}, 1, -1, 1, true),
                                    test::random(Shape{37, 129}, 2, 0.5, 2, true)};
  const std::vector<Tensor> bcast = {test::random(Shape{3, 1, 5, 7}, 3, -1, 1, true),
                                     test::random(Shape{4, 1, 7}, 4, 0.5, 2, true)};
  for (auto* inputs : {&same, &bcast}) {
    for (auto [dtype, tol] : {std::pair{DType::f32, 1e-6}, {DType::f16, 2e-3}, {DType::bf16, 2e-2}}) {
      test::check_backends([](const std::vector<Tensor>& in) { return add(in[0], in[1]); }, *inputs, tol, dtype);
      test::check_backends([](const std::vector<Tensor>& in) { return sub(in[0], in[1]); }, *inputs, tol, dtype);
      test::check_backends([](const std::vector<Tensor>& in) { return mul(in[0], in[1]); }, *inputs, tol, dtype);
      test::check_backends([](const std::vector<Tensor>& in) { return div(in[0], in[1]); }, *inputs, 2 * tol, dtype);
      test::check_backends([](const std::vector<Tensor>& in) { return affine(in[0], 0.5, -1.0); },
                           {(*inputs)[0]}, tol, dtype);  // one input: every input must get a gradient
    }
  }
}
