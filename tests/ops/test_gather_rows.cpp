// gather_rows (src/ops/gather_rows.cpp, cuda/gather_rows.cu): the row gather that applies
// the TV3S window partitions (tests/models/test_window_partition.cpp).
//
// Tolerances: everything is exact (0) — gather_rows only moves bytes — except CUDA
// f16/bf16 gradients in check_backends: its loss weights are rounded to f16/bf16 on the
// GPU, half an ulp at most: 2^-11 (f16) and 2^-8 (bf16) relative to values ≤ 1.5, so
// rel ≤ 1e-3 and 4e-3. Inputs are k/16 with |k| ≤ 100, exact in every float dtype, so
// forwards agree exactly. gradcheck (f64, eps 1e-6): the op is linear,
// |analytic − numeric| ≤ 1e-6 + 1e-5·|numeric|.
#include <algorithm>
#include <cmath>
#include <vector>

#include "src/models/window_partition.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {

// ---- gather_rows helpers ------------------------------------------------------------------

Tensor index_tensor(const std::vector<int32_t>& v) {
  return Tensor::from_vector_i32(v, Shape{int64_t(v.size())});
}

// k/16 with |k| ≤ 100: exact in f32, f16, bf16 and f64.
Tensor exact_random(const Shape& shape, uint64_t seed, bool requires_grad = true) {
  std::vector<float> v = test::random(shape, seed, -100, 100).to_vector();
  for (float& x : v) x = std::round(x) / 16;
  Tensor t = Tensor::from_vector(v, shape);
  if (requires_grad) t.requires_grad_();
  return t;
}

// A partial permutation: `M` distinct rows of [0, R), in a scrambled order.
std::vector<int32_t> scrambled_rows(int64_t R, int64_t M, uint64_t seed) {
  std::vector<int32_t> rows(static_cast<size_t>(R));
  for (int64_t i = 0; i < R; ++i) rows[size_t(i)] = int32_t(i);
  Rng rng(seed);
  for (int64_t i = R - 1; i > 0; --i)
    std::swap(rows[size_t(i)], rows[size_t(int64_t(rng.uniform(0, double(i + 1))) % (i + 1))]);
  rows.resize(size_t(M));
  return rows;
}

}  // namespace
// ---- (1) gather_rows on the CPU ------------------------------------------------------------

TEST_CASE("gather_rows: hand-computed values and gradient") {
  // x = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]], rows 2, 0, 3.
  Tensor x = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  x.requires_grad_();
  const Tensor y = gather_rows(x, index_tensor({2, 0, 3}));
  test::check_close(y, Tensor::from_vector({6, 7, 8, 0, 1, 2, 9, 10, 11}, {3, 3}), 0);
  // d/dx Σ y ⊙ w: w's rows land on rows 2, 0, 3 of dx; row 1 (not gathered) is zero.
  const Tensor w = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {3, 3});
  sum_all(mul(y, w)).backward();
  test::check_close(x.grad(), Tensor::from_vector({4, 5, 6, 0, 0, 0, 1, 2, 3, 7, 8, 9}, {4, 3}), 0);
}

TEST_CASE("gather_rows: gradcheck in f64 (partial and full permutations)") {
  const auto f = [](const std::vector<Tensor>& in) { return gather_rows(in[0], in[1]); };
  const Tensor x = test::random({7, 5}, 1, -1, 1, true, DType::f64);
  test::gradcheck(f, {x, index_tensor({3, 6, 0, 1})});
  test::gradcheck(f, {x, index_tensor(scrambled_rows(7, 7, 2))});
  const WindowPartition p = make_window_partition(1, 2, 4, 6, 2, 1);
  test::gradcheck(f, {test::random({48, 3}, 3, -1, 1, true, DType::f64),
                      index_tensor(p.forward)}, 1e-6, 1e-6, 1e-5, 200);
}

TEST_CASE("gather_rows: every dtype, byte for byte; no rows; no channels") {
  const std::vector<int32_t> rows = {4, 1, 2};
  for (const DType dtype : {DType::f32, DType::f16, DType::bf16, DType::f64, DType::i32, DType::u8}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = Tensor::from_vector({0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {5, 2}, dtype);
    const Tensor y = gather_rows(x, index_tensor(rows));
    CHECK(y.dtype() == dtype);
    CHECK(y.to_vector() == std::vector<float>{8, 9, 2, 3, 4, 5});
  }
  // M = 0: an empty result, and a zero gradient.
  Tensor x = test::random({4, 3}, 4, -1, 1, true);
  const Tensor y = gather_rows(x, Tensor::from_vector_i32({}, Shape{0}));
  CHECK(y.shape() == Shape{0, 3});
  sum_all(y).backward();
  REQUIRE(x.grad().defined());
  test::check_close(x.grad(), Tensor::zeros({4, 3}), 0);
  // C = 0 and R = M = 0.
  CHECK(gather_rows(Tensor::zeros({3, 0}), index_tensor({2, 0})).shape() == Shape{2, 0});
  CHECK(gather_rows(Tensor::zeros({0, 5}), Tensor::from_vector_i32({}, Shape{0})).shape() ==
        Shape{0, 5});
}

TEST_CASE("gather_rows: bad index or shapes are errors naming the op") {
  const Tensor x = Tensor::zeros({4, 3});
  auto throws = [](const std::function<void()>& f, const std::string& part) {
    std::string got = "no error";
    try {
      f();
    } catch (const Error& e) {
      got = e.what();
    }
    INFO(got);
    CHECK(got.find("gather_rows") != std::string::npos);
    CHECK(got.find(part) != std::string::npos);
  };
  throws([&] { gather_rows(x, index_tensor({0, 4})); }, "index[1] = 4 is outside [0, 4)");
  throws([&] { gather_rows(x, index_tensor({-1})); }, "index[0] = -1 is outside");
  throws([&] { gather_rows(x, index_tensor({1, 3, 1})); }, "index[2] = 1 repeats index[0]");
  throws([&] { gather_rows(x, index_tensor({0, 1, 2, 3, 0})); }, "names more rows");
  throws([&] { gather_rows(x, Tensor::zeros({2})); }, "index must be i32 [M]");
  throws([&] { gather_rows(x, Tensor::from_vector_i32({0, 1}, {1, 2})); }, "i32[1, 2]");
  throws([&] { gather_rows(Tensor::zeros({4}), index_tensor({0})); }, "x must be [R, C]");
  throws([&] { gather_rows(Tensor::zeros({2, 2, 3}), index_tensor({0})); }, "f32[2, 2, 3]");
  throws([&] { gather_rows(Tensor(), index_tensor({0})); }, "undefined");
}

// ---- (2) CUDA against CPU -------------------------------------------------------------------

TV3S_CUDA_TEST_CASE("gather_rows: CUDA matches CPU (f32, f16, bf16; odd C; with gradients)") {
  using In = std::vector<Tensor>;
  const auto f = [](const In& in) { return gather_rows(in[0], in[1]); };
  uint64_t seed = 10;
  // C: odd (1-, 2- or 4-byte words), multiples of 2/4/8 (8- and 16-byte words), the TV3S
  // width, and one longer than a block of 16-byte words (lanes loop).
  for (const int64_t C : {1, 3, 7, 13, 2, 4, 8, 12, 256, 2056}) {
    CAPTURE(C);
    const int64_t R = 37;
    // Partial (dx rows left zero), full (no zeroing), and no rows.
    for (const int64_t M : {int64_t(20), R, int64_t(0)}) {
      CAPTURE(M);
      const In in = {exact_random({R, C}, ++seed), index_tensor(scrambled_rows(R, M, ++seed))};
      test::check_backends(f, in, 0.0, DType::f32);
      test::check_backends(f, in, 1e-3, DType::f16);
      test::check_backends(f, in, 4e-3, DType::bf16);
    }
  }
  // The TV3S partition of one 4-frame clip, C = 256 (the decoder's call).
  const WindowPartition p = make_window_partition(1, 4, 60, 120, 20, 10);
  const In in = {exact_random({4 * 60 * 120, 256}, 99), index_tensor(p.forward)};
  test::check_backends(f, in, 0.0, DType::f32);
  test::check_backends(f, in, 1e-3, DType::f16);
}

TV3S_CUDA_TEST_CASE("gather_rows: CUDA is bit-exact in every dtype, aligned or not") {
  for (const DType dtype : {DType::f32, DType::f16, DType::bf16, DType::i32, DType::u8}) {
    for (const int64_t C : {5, 8, 256}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(C);
      const int64_t R = 50;
      const Tensor index = index_tensor(scrambled_rows(R, 31, uint64_t(C)));
      // A view starting one element into its storage: rows are no longer 16-byte aligned.
      const Tensor flat = exact_random({R * C + 1}, uint64_t(C) + 1, false).to(dtype);
      const Tensor x = flat.slice_outer(1, R * C + 1).reshape({R, C});
      const Tensor x_gpu = flat.cuda().slice_outer(1, R * C + 1).reshape({R, C});
      test::check_close(gather_rows(x_gpu, index.cuda()), gather_rows(x, index), 0, "offset view");
      test::check_close(gather_rows(x.clone().cuda(), index.cuda()), gather_rows(x, index), 0,
                        "aligned");
    }
  }
}

