// Reduce family: values by hand, first-max semantics, gradients, CUDA against CPU.
#include "tests/test_util.h"

using namespace tv3s;

TEST_CASE("reduce: sum/mean/max/argmax over each axis, by hand") {
  // [[1, 5, 3], [4, 2, 6]]
  const Tensor x = Tensor::from_vector({1, 5, 3, 4, 2, 6}, Shape{2, 3});
  CHECK(sum(x, 0).to_vector() == std::vector<float>{5, 7, 9});
  CHECK(sum(x, 1).to_vector() == std::vector<float>{9, 12});
  CHECK(sum(x, -1, true).shape() == Shape{2, 1});
  CHECK(mean(x, 1).to_vector() == std::vector<float>{3, 4});
  CHECK(max(x, 0).to_vector() == std::vector<float>{4, 5, 6});
  CHECK(max(x, 1).to_vector() == std::vector<float>{5, 6});
  CHECK(argmax(x, 1).to_vector_i32() == std::vector<int32_t>{1, 2});
  CHECK(argmax(x, 0).dtype() == DType::i32);
  CHECK(sum_all(x).item() == 21);
  CHECK(sum_all(x).shape() == Shape{});
  CHECK(mean_all(x).item() == 3.5);
}

TEST_CASE("reduce: argmax takes the first of equal maxima") {
  const Tensor x = Tensor::from_vector({2, 7, 7, 1, 3, 3, 3, 3}, Shape{2, 4});
  CHECK(argmax(x, 1).to_vector_i32() == std::vector<int32_t>{1, 0});
}

TEST_CASE("reduce: sum_to undoes broadcasting") {
  const Tensor x = Tensor::ones(Shape{2, 3, 4});
  CHECK(sum_to(x, Shape{3, 1}).to_vector() == std::vector<float>{8, 8, 8});
  CHECK(sum_to(x, Shape{2, 1, 4}).to_vector() == std::vector<float>(8, 3.f));
  CHECK(sum_to(x, Shape{}).item() == 24);
  CHECK_THROWS_AS(sum_to(x, Shape{5}), Error);
}

TEST_CASE("reduce: a long sum is accurate (f64 accumulation on CPU)") {
  const Tensor x = Tensor::full(Shape{1 << 20}, 0.1);
  CHECK(sum_all(x).item() == doctest::Approx(double(0.1f) * (1 << 20)).epsilon(1e-7));
}

TEST_CASE("reduce: gradients match finite differences (f64)") {
  const auto x = [] { return test::random(Shape{3, 4, 5}, 21, -1, 1, true, DType::f64); };
  for (int axis : {0, 1, 2}) {
    test::gradcheck([axis](const std::vector<Tensor>& in) { return sum(in[0], axis); }, {x()});
    test::gradcheck([axis](const std::vector<Tensor>& in) { return mean(in[0], axis, true); }, {x()});
    test::gradcheck([axis](const std::vector<Tensor>& in) { return max(in[0], axis); }, {x()});
  }
  test::gradcheck([](const std::vector<Tensor>& in) { return sum_to(in[0], Shape{4, 1}); }, {x()});
  test::gradcheck([](const std::vector<Tensor>& in) { return mean_all(in[0]); }, {x()});
}

TV3S_CUDA_TEST_CASE("reduce: CUDA matches CPU (short and long reductions, every axis)") {
  const std::vector<Tensor> small = {test::random(Shape{6, 5, 7}, 31, -1, 1, true)};
  const std::vector<Tensor> large = {test::random(Shape{3, 4099, 9}, 32, -1, 1, true)};
  for (auto* in : {&small, &large}) {
    for (int axis : {0, 1, 2}) {
      for (auto [dtype, tol] : {std::pair{DType::f32, 1e-5}, {DType::f16, 5e-3}, {DType::bf16, 3e-2}}) {
        test::check_backends([axis](const std::vector<Tensor>& v) { return sum(v[0], axis); }, *in, tol, dtype);
        test::check_backends([axis](const std::vector<Tensor>& v) { return mean(v[0], axis); }, *in, tol, dtype);
        // max from inputs already rounded to `dtype`: rounding the f32 inputs on the CUDA side
        // only would make ties and swaps, and move the gradient to another element.
        Tensor rounded = (*in)[0].to(dtype).to(DType::f32);
        rounded.requires_grad_();
        test::check_backends([axis](const std::vector<Tensor>& v) { return max(v[0], axis); }, {rounded}, tol, dtype);
      }
      const Tensor& x = (*in)[0];
      CHECK(argmax(x.cuda(), axis).to_vector_i32() == argmax(x, axis).to_vector_i32());
    }
    test::check_backends([](const std::vector<Tensor>& v) { return sum_all(v[0]); }, *in, 1e-5);
    const Shape last{(*in)[0].size(2)};  // sum over all but the last axis
    test::check_backends([last](const std::vector<Tensor>& v) { return sum_to(v[0], last); }, *in, 1e-5);
  }
}
