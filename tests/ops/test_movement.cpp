// Layout family: each op against its index formula written out with loops here, views
// where they are promised, every dtype, finite-difference gradients in f64, errors, and
// CUDA against CPU (exact: the ops only move elements).
#include "tests/test_util.h"

using namespace tv3s;

namespace {

// 0, 1, 2, ... as a tensor of `shape`: every element names its own position.
Tensor iota(const Shape& shape, DType dtype = DType::f32) {
  std::vector<float> v(size_t(shape.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  return Tensor::from_vector(v, shape, dtype);
}

std::vector<float> values(const Tensor& t) { return t.to_vector(); }

// Small integers / 16: exact in every float dtype, so CUDA f16/bf16 runs see the same
// inputs as the CPU f32 run and the outputs must agree exactly.
Tensor exact_random(const Shape& shape, uint64_t seed, bool grad = true) {
  std::vector<float> v = test::random(shape, seed, -100, 100).to_vector();
  for (float& x : v) x = std::round(x) / 16;
  Tensor t = Tensor::from_vector(v, shape);
  if (grad) t.requires_grad_();
  return t;
}

Tensor random64(const Shape& shape, uint64_t seed) {
  return test::random(shape, seed, -1, 1, true, DType::f64);
}

const std::vector<DType> kAllDTypes = {DType::f32, DType::f16, DType::bf16,
                                       DType::f64, DType::i32, DType::u8};

}  // namespace

// --- permute / transpose ---------------------------------------------------------------

TEST_CASE("movement: permute forward matches the index formula") {
  const Tensor x = iota(Shape{2, 3, 4});
  const Tensor y = permute(x, {2, 0, 1});  // y[k][i][j] = x[i][j][k]
  REQUIRE(y.shape() == Shape{4, 2, 3});
  const std::vector<float> v = values(y);
  for (int k = 0; k < 4; ++k)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) CHECK(v[size_t((k * 2 + i) * 3 + j)] == float((i * 3 + j) * 4 + k));
  CHECK(values(permute(x, {-1, 0, 1})) == v);  // negative dims count from the end
  CHECK_FALSE(y.shares_storage(x));

  // A 4-D permute that keeps the last dim, and one that moves it.
  const Tensor z = iota(Shape{2, 3, 4, 5});
  const std::vector<float> a = values(permute(z, {0, 2, 1, 3}));  // a[n][h][c][w] = z[n][c][h][w]
  const std::vector<float> b = values(permute(z, {3, 1, 0, 2}));  // b[w][c][n][h] = z[n][c][h][w]
  for (int n = 0; n < 2; ++n)
    for (int c = 0; c < 3; ++c)
      for (int h = 0; h < 4; ++h)
        for (int w = 0; w < 5; ++w) {
          const float want = float(((n * 3 + c) * 4 + h) * 5 + w);
          CHECK(a[size_t(((n * 4 + h) * 3 + c) * 5 + w)] == want);
          CHECK(b[size_t(((w * 3 + c) * 2 + n) * 4 + h)] == want);
        }
}

TEST_CASE("movement: transpose swaps two axes") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor t = transpose(x, 0, 1);
  CHECK(t.shape() == Shape{3, 2});
  CHECK(values(t) == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(values(transpose(x, -1, -2)) == values(t));
  CHECK(values(transpose(x, 1, 1)) == values(x));
}

TEST_CASE("movement: permute that only moves size-1 dims is a free view") {
  const Tensor x = iota(Shape{3, 1, 4});
  const Tensor y = permute(x, {1, 0, 2});
  CHECK(y.shape() == Shape{1, 3, 4});
  CHECK(y.shares_storage(x));
  CHECK(values(y) == values(x));
  CHECK(permute(x, {0, 1, 2}).shares_storage(x));
}

TEST_CASE("movement: permute and transpose reject bad axes") {
  const Tensor x = iota(Shape{2, 3, 4});
  CHECK_THROWS_WITH_AS(permute(x, {0, 0, 1}), doctest::Contains("not a permutation"), Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1, 3}), doctest::Contains("f32[2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(permute(x, {0, 1}), doctest::Contains("permute: dims [0, 1] has 2 entries"),
                       Error);
  CHECK_THROWS_WITH_AS(transpose(x, 0, 3), doctest::Contains("transpose: axis 3 out of range"),
                       Error);
}

// --- slice -------------------------------------------------------------------------------

TEST_CASE("movement: slice forward, Python-style indices") {
  const Tensor x = iota(Shape{3, 4});
  CHECK(values(slice(x, 1, 1, 3)) == std::vector<float>{1, 2, 5, 6, 9, 10});
  CHECK(values(slice(x, 1, -2, 100)) == std::vector<float>{2, 3, 6, 7, 10, 11});  // end clamped
  CHECK(values(slice(x, -1, 0, -1)) == std::vector<float>{0, 1, 2, 4, 5, 6, 8, 9, 10});
  CHECK(slice(x, 1, 3, 1).shape() == Shape{3, 0});  // end before begin: empty
  CHECK(slice(x, 1, 4, 4).shape() == Shape{3, 0});
  CHECK(values(slice(x, 0, -1, 3)) == std::vector<float>{8, 9, 10, 11});
}

TEST_CASE("movement: slice is a view when every dim before the axis is 1") {
  const Tensor x = iota(Shape{3, 4});
  const Tensor rows = slice(x, 0, 1, 3);
  CHECK(rows.shares_storage(x));
  CHECK(values(rows) == std::vector<float>{4, 5, 6, 7, 8, 9, 10, 11});
  const Tensor y = iota(Shape{1, 1, 5, 2});
  const Tensor inner = slice(y, 2, 1, 4);
  CHECK(inner.shares_storage(y));
  CHECK(inner.shape() == Shape{1, 1, 3, 2});
  CHECK(values(inner) == std::vector<float>{2, 3, 4, 5, 6, 7});
  CHECK_FALSE(slice(x, 1, 0, 2).shares_storage(x));  // rows of 2 out of 4: a copy
}

TEST_CASE("movement: slice rejects bad axes and begins") {
  const Tensor x = iota(Shape{3, 4});
  CHECK_THROWS_WITH_AS(slice(x, 2, 0, 1), doctest::Contains("slice: axis 2 out of range"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 1, 5, 6), doctest::Contains("slice: begin 5 out of range"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 1, -5, 2), doctest::Contains("f32[3, 4]"), Error);
}

// --- concat --------------------------------------------------------------------------------

TEST_CASE("movement: concat forward") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 1, 2});
  const Tensor b = Tensor::from_vector({5, 6, 7, 8, 9, 10, 11, 12}, Shape{2, 2, 2});
  const Tensor c = concat({a, b}, 1);
  CHECK(c.shape() == Shape{2, 3, 2});
  CHECK(values(c) == std::vector<float>{1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12});
  const Tensor d = concat({a, a}, -1);
  CHECK(d.shape() == Shape{2, 1, 4});
  CHECK(values(d) == std::vector<float>{1, 2, 1, 2, 3, 4, 3, 4});
  const Tensor e = concat({b, Tensor::zeros(Shape{0, 2, 2}), a.reshape(Shape{1, 2, 2})}, 0);
  CHECK(e.shape() == Shape{3, 2, 2});
  CHECK(values(e) == std::vector<float>{5, 6, 7, 8, 9, 10, 11, 12, 1, 2, 3, 4});
}

TEST_CASE("movement: concat rejects mismatched inputs") {
  const Tensor a = iota(Shape{2, 3});
  CHECK_THROWS_WITH_AS(concat({a, iota(Shape{3, 3})}, 1),
                       doctest::Contains("concat: tensor 1 is f32[3, 3] cpu but tensor 0 is f32[2, 3]"),
                       Error);
  CHECK_THROWS_WITH_AS(concat({a, iota(Shape{2, 3, 1})}, 0), doctest::Contains("concat"), Error);
  CHECK_THROWS_AS(concat({a, iota(Shape{2, 3}, DType::f64)}, 0), Error);
  CHECK_THROWS_WITH_AS(concat({}, 0), doctest::Contains("concat: no tensors"), Error);
  CHECK_THROWS_WITH_AS(concat({a}, 2), doctest::Contains("concat: axis 2 out of range"), Error);
}

// --- pad ------------------------------------------------------------------------------------

TEST_CASE("movement: pad with a constant") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 4}, Shape{2, 2});
  const Tensor y = pad(x, {1, 0}, {0, 2}, 7);
  CHECK(y.shape() == Shape{3, 4});
  CHECK(values(y) == std::vector<float>{7, 7, 7, 7, 1, 2, 7, 7, 3, 4, 7, 7});
  CHECK(values(pad(x, {0, 0}, {0, 0})) == values(x));
  const Tensor z = pad(iota(Shape{1, 2, 1}), {0, 1, 1}, {1, 0, 0});  // zeros by default
  CHECK(z.shape() == Shape{2, 3, 2});
  CHECK(values(z) == std::vector<float>{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});
}

TEST_CASE("movement: pad rejects bad widths") {
  const Tensor x = iota(Shape{2, 2});
  CHECK_THROWS_WITH_AS(pad(x, {1}, {1, 1}), doctest::Contains("need 2 entries each"), Error);
  CHECK_THROWS_WITH_AS(pad(x, {0, -1}, {0, 0}), doctest::Contains("pad: negative padding"), Error);
}

// --- roll -----------------------------------------------------------------------------------

TEST_CASE("movement: roll matches torch.roll") {
  const Tensor x = iota(Shape{5});
  CHECK(values(roll(x, {2}, {0})) == std::vector<float>{3, 4, 0, 1, 2});
  CHECK(values(roll(x, {-1}, {0})) == std::vector<float>{1, 2, 3, 4, 0});
  CHECK(values(roll(x, {12}, {0})) == values(roll(x, {2}, {0})));  // shifts wrap
  CHECK(values(roll(x, {5}, {0})) == values(x));
  // Without axes: roll the flattened tensor, keep the shape.
  const Tensor m = iota(Shape{2, 3});
  const Tensor flat = roll(m, {1}, {});
  CHECK(flat.shape() == Shape{2, 3});
  CHECK(values(flat) == std::vector<float>{5, 0, 1, 2, 3, 4});
  // Two axes, and repeated axes adding up: out[(i+si) mod n][(j+sj) mod m] = x[i][j].
  const Tensor g = iota(Shape{3, 4, 2});
  const std::vector<float> r = values(roll(g, {1, -3}, {0, 1}));
  CHECK(values(roll(g, {2, -1, 5}, {0, 0, 1})) == r);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j)
      for (int k = 0; k < 2; ++k)
        CHECK(r[size_t((((i + 1) % 3) * 4 + (j + 1) % 4) * 2 + k)] == float((i * 4 + j) * 2 + k));
}

TEST_CASE("movement: roll rejects mismatched shifts and axes") {
  const Tensor x = iota(Shape{2, 3});
  CHECK_THROWS_WITH_AS(roll(x, {1, 2}, {0}), doctest::Contains("roll: 2 shifts [1, 2] for 1 axes"),
                       Error);
  CHECK_THROWS_WITH_AS(roll(x, {1, 2}, {}), doctest::Contains("roll: without axes"), Error);
  CHECK_THROWS_WITH_AS(roll(x, {1}, {2}), doctest::Contains("roll: axis 2 out of range"), Error);
}

// --- every dtype -------------------------------------------------------------------------------

TEST_CASE("movement: every op moves every dtype bit-exactly") {
  for (DType dtype : kAllDTypes) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = iota(Shape{2, 3, 4}, dtype);  // 0..23: exact in every dtype
    const Tensor f = iota(Shape{2, 3, 4});
    const auto same = [&](const Tensor& got, const Tensor& want) {
      CHECK(got.dtype() == dtype);
      CHECK(got.shape() == want.shape());
      CHECK(values(got) == values(want));
    };
    same(permute(x, {2, 0, 1}), permute(f, {2, 0, 1}));
    same(transpose(x, 1, 2), transpose(f, 1, 2));
    same(slice(x, 2, 1, 3), slice(f, 2, 1, 3));
    same(slice(x, 0, 1, 2), slice(f, 0, 1, 2));
    same(concat({x, x}, 1), concat({f, f}, 1));
    same(pad(x, {0, 1, 0}, {1, 0, 2}, 5), pad(f, {0, 1, 0}, {1, 0, 2}, 5));
    same(roll(x, {1, 2}, {1, 2}), roll(f, {1, 2}, {1, 2}));
  }
}

// --- backward ------------------------------------------------------------------------------------

TEST_CASE("movement: permute and transpose backward (gradcheck)") {
  test::gradcheck([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 3, 1}); },
                  {random64(Shape{2, 3, 4, 2}, 1)});
  test::gradcheck([](const std::vector<Tensor>& in) { return transpose(in[0], 0, 2); },
                  {random64(Shape{3, 2, 4}, 2)});
}

TEST_CASE("movement: slice backward (gradcheck), view and copy") {
  test::gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, -1); },
                  {random64(Shape{2, 5, 3}, 3)});
  test::gradcheck([](const std::vector<Tensor>& in) { return slice(in[0], 0, 2, 4); },
                  {random64(Shape{5, 3}, 4)});
  // A view into x used twice: gradients of both uses add up.
  test::gradcheck(
      [](const std::vector<Tensor>& in) {
        return concat({slice(in[0], 0, 0, 2), slice(in[0], 0, 1, 3)}, 1);
      },
      {random64(Shape{3, 2}, 5)});
}

TEST_CASE("movement: concat backward (gradcheck), one input without grad") {
  Tensor fixed = test::random(Shape{2, 1, 3}, 6, -1, 1, false, DType::f64);
  test::gradcheck(
      [](const std::vector<Tensor>& in) { return concat({in[0], in[1], in[2]}, 1); },
      {random64(Shape{2, 2, 3}, 7), fixed, random64(Shape{2, 4, 3}, 8)});
}

TEST_CASE("movement: pad backward (gradcheck)") {
  test::gradcheck([](const std::vector<Tensor>& in) { return pad(in[0], {1, 0, 2}, {0, 3, 1}, -2.0); },
                  {random64(Shape{2, 3, 2}, 9)});
}

TEST_CASE("movement: roll backward (gradcheck)") {
  test::gradcheck([](const std::vector<Tensor>& in) { return roll(in[0], {1, -2}, {0, 2}); },
                  {random64(Shape{3, 2, 5}, 10)});
  test::gradcheck([](const std::vector<Tensor>& in) { return roll(in[0], {4}, {}); },
                  {random64(Shape{2, 3}, 11)});
}

// --- CUDA ----------------------------------------------------------------------------------------

namespace {

// Every movement op on the given inputs, each through check_backends.
void check_layout_backends(const std::vector<Tensor>& in4d, double tol, DType dtype, bool grads) {
  using In = std::vector<Tensor>;
  const auto run = [&](const test::OpFn& f, const In& inputs) {
    test::check_backends(f, inputs, tol, dtype, grads);
  };
  // permute: keeps the last dim (widened words), moves it (tiled path), small dims (generic).
  run([](const In& in) { return permute(in[0], {0, 2, 1, 3}); }, in4d);
  run([](const In& in) { return permute(in[0], {0, 3, 1, 2}); }, in4d);
  run([](const In& in) { return permute(in[0], {3, 2, 1, 0}); }, in4d);
  run([](const In& in) { return transpose(in[0], 0, 1); }, in4d);
  run([](const In& in) { return slice(in[0], 0, 1, 3); }, in4d);   // a view
  run([](const In& in) { return slice(in[0], 3, 8, 40); }, in4d);  // aligned rows
  run([](const In& in) { return slice(in[0], 3, 3, 38); }, in4d);  // unaligned rows
  run([](const In& in) { return slice(in[0], 1, -2, 100); }, in4d);
  run([](const In& in) { return concat({in[0], in[0]}, 1); }, in4d);
  run([](const In& in) { return concat({slice(in[0], 3, 0, 5), in[0]}, 3); }, in4d);
  run([](const In& in) { return pad(in[0], {0, 1, 2, 3}, {1, 0, 0, 5}, 0.5); }, in4d);
  run([](const In& in) { return roll(in[0], {1, -7}, {1, 3}); }, in4d);
  run([](const In& in) { return roll(in[0], {9}, {}); }, in4d);
}

}  // namespace

TV3S_CUDA_TEST_CASE("movement: CUDA matches CPU for every op (f32, f16, bf16; with gradients)") {
  // Inputs are exact in every float dtype, so forwards agree exactly. The gradients are
  // check_backends' weights, rounded to f16/bf16 on the GPU (half an ulp: 2^-11 / 2^-8
  // relative), and where two paths meet (concat of x with itself) their rounded sum: at
  // most about 2 half-ulps of the largest gradient.
  const std::vector<Tensor> in4d = {exact_random(Shape{3, 5, 33, 40}, 1)};
  check_layout_backends(in4d, 0.0, DType::f32, true);
  check_layout_backends(in4d, 2e-3, DType::f16, true);
  check_layout_backends(in4d, 1.6e-2, DType::bf16, true);
}

TV3S_CUDA_TEST_CASE("movement: CUDA matches CPU for f64, i32 and u8 (bit-exact, no gradients)") {
  const std::vector<Tensor> floats = {exact_random(Shape{3, 5, 33, 40}, 2, false)};
  check_layout_backends(floats, 0.0, DType::f64, false);
  const Tensor bytes = test::random(Shape{3, 5, 33, 40}, 3, 0, 255).to(DType::u8);
  check_layout_backends({bytes}, 0.0, DType::u8, false);
  check_layout_backends({bytes.to(DType::i32)}, 0.0, DType::i32, false);
}

TV3S_CUDA_TEST_CASE("movement: CUDA permute of large transposes (tiled path, partial tiles)") {
  using In = std::vector<Tensor>;
  const In x = {exact_random(Shape{2, 67, 100}, 4)};
  test::check_backends([](const In& in) { return transpose(in[0], 1, 2); }, x, 0.0);
  test::check_backends([](const In& in) { return transpose(in[0], 1, 2); }, x, 1e-3, DType::f16);
  const In y = {exact_random(Shape{70000, 9}, 5, false)};  // many tile rows, thin tile columns
  test::check_backends([](const In& in) { return transpose(in[0], 0, 1); }, y, 0.0);
}
