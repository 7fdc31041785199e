// matmul / linear / gemm_cpu: the reference (gemm_reference, the triple loop in
// src/ops/matmul.cpp) on hand-computed values; CPU forward — the fast GEMM,
// src/ops/cpu/gemm.cpp — against the reference in double (odd sizes, every transpose
// combination, sizes that cross the cache-block boundaries, batch broadcast, 1 to 3
// threads), f64 finite-difference gradients, CUDA against CPU, and the errors.
//
// Tolerances (rel = max|got − ref| / max|ref|, see test_util.h):
//   CPU f32 vs double reference: 1e-5 (K ≤ 520, inputs in [-1, 1]: the f32 rounding of
//   a dot product is ~K·2⁻²⁴·|terms| in the worst case, ≲ 2e-6 of max|ref|).
//   CPU f64: 1e-12.
//   CUDA f32 vs CPU f32: 1e-5 (cuBLAS runs f32 pedantic: no TF32, whose 10-bit mantissa
//   would miss this by 100×). f16: 5e-3, bf16: 3e-2 (inputs rounded to 11/8 mantissa
//   bits, f32 accumulation, output rounded once more).
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <omp.h>

#include "src/ops/matmul.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// C = op(A)·op(B) over a batch, by the reference in double. A 2-D operand
// (a_batched / b_batched false) is shared by every batch entry.
std::vector<double> naive_matmul(const std::vector<double>& A, const std::vector<double>& B,
                                 int64_t batch, int64_t M, int64_t N, int64_t K, bool trans_a,
                                 bool trans_b, bool a_batched, bool b_batched) {
  std::vector<double> C(size_t(batch * M * N), 0.0);
  for (int64_t e = 0; e < batch; ++e)
    gemm_reference<double>(trans_a, trans_b, M, N, K, 1.0, A.data() + (a_batched ? e * M * K : 0),
                           trans_a ? M : K, B.data() + (b_batched ? e * K * N : 0),
                           trans_b ? K : N, 0.0, C.data() + e * M * N, N);
  return C;
}

// Shape of a stored operand: rows×cols, transposed when `trans`, after the batch dims.
Shape operand_shape(const std::vector<int64_t>& batch_dims, int64_t rows, int64_t cols, bool trans) {
  std::vector<int64_t> d = batch_dims;
  d.push_back(trans ? cols : rows);
  d.push_back(trans ? rows : cols);
  return Shape(d);
}

// matmul of random inputs against naive_matmul, for one dtype.
void check_matmul_case(DType dtype, double tol, const std::vector<int64_t>& a_batch,
                       const std::vector<int64_t>& b_batch, int64_t M, int64_t N, int64_t K,
                       bool trans_a, bool trans_b, uint64_t seed) {
  const Tensor a = random(operand_shape(a_batch, M, K, trans_a), seed, -1, 1, false, dtype);
  const Tensor b = random(operand_shape(b_batch, K, N, trans_b), seed + 1, -1, 1, false, dtype);
  const Tensor c = matmul(a, b, trans_a, trans_b);
  const std::vector<int64_t>& batch_dims = a_batch.empty() ? b_batch : a_batch;
  int64_t batch = 1;
  for (int64_t d : batch_dims) batch *= d;
  std::vector<int64_t> out_dims = batch_dims;
  out_dims.push_back(M);
  out_dims.push_back(N);
  const std::vector<double> ref = naive_matmul(a.to_vector_f64(), b.to_vector_f64(), batch, M, N, K,
                                               trans_a, trans_b, !a_batch.empty(), !b_batch.empty());
  const Tensor expected = Tensor::from_vector_f64(ref, Shape(out_dims));
  CHECK(c.dtype() == dtype);
  check_close(c, expected, tol,
              str("matmul ", a.desc(), " x ", b.desc(), " trans ", trans_a, trans_b));
}

bool error_mentions(const std::function<void()>& f, const std::vector<std::string>& words) {
  try {
    f();
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& w : words) {
      INFO("error message: ", what, " — expected to contain: ", w);
      if (what.find(w) == std::string::npos) return false;
    }
    return true;
  }
  return false;
}

}  // namespace

TEST_CASE("matmul: the reference on hand-computed values") {
  // [1 2 3; 4 5 6]·[7 8; 9 10; 11 12] = [58 64; 139 154]; then 0.5·that + 2·C and the
  // transposed forms A·Aᵀ = [14 32; 32 77].
  const std::vector<double> A = {1, 2, 3, 4, 5, 6}, B = {7, 8, 9, 10, 11, 12};
  std::vector<double> C = {1, 2, 3, 4};
  gemm_reference<double>(false, false, 2, 2, 3, 1.0, A.data(), 3, B.data(), 2, 0.0, C.data(), 2);
  CHECK(C == std::vector<double>{58, 64, 139, 154});
  C = {1, 2, 3, 4};
  gemm_reference<double>(false, false, 2, 2, 3, 0.5, A.data(), 3, B.data(), 2, 2.0, C.data(), 2);
  CHECK(C == std::vector<double>{31, 36, 75.5, 85});
  gemm_reference<double>(false, true, 2, 2, 3, 1.0, A.data(), 3, A.data(), 3, 0.0, C.data(), 2);
  CHECK(C == std::vector<double>{14, 32, 32, 77});
  gemm_reference<double>(true, false, 2, 2, 3, 1.0, B.data(), 2, B.data(), 2, 0.0, C.data(), 2);
  CHECK(C == std::vector<double>{49 + 81 + 121, 56 + 90 + 132, 56 + 90 + 132, 64 + 100 + 144});
}

TEST_CASE("matmul: small hand-computed product") {
  const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, Shape{2, 3});
  const Tensor b = Tensor::from_vector({7, 8, 9, 10, 11, 12}, Shape{3, 2});
  CHECK(matmul(a, b).to_vector() == std::vector<float>{58, 64, 139, 154});
  CHECK(matmul(a, a, false, true).to_vector() == std::vector<float>{14, 32, 32, 77});  // A·Aᵀ
  CHECK(matmul(a, a, true, false).shape() == Shape{3, 3});                             // Aᵀ·A
}

TEST_CASE("matmul: CPU matches a naive triple loop (odd sizes, all transposes, f32 and f64)") {
  struct Size { int64_t M, N, K; };
  // 1×1×1 and 7×13×5: a single partial register tile. 65×129×33: full tiles plus edges.
  // 160×40×520: two row blocks (MC = 144 f32) and three depth blocks (KC = 256).
  // 20×4100×300: two column blocks (NC = 4096 f32) and a partial depth block.
  const std::vector<Size> sizes = {{1, 1, 1}, {7, 13, 5}, {65, 129, 33}, {160, 40, 520}, {20, 4100, 300}};
  uint64_t seed = 100;
  for (const Size& s : sizes)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        check_matmul_case(DType::f32, 1e-5, {}, {}, s.M, s.N, s.K, ta, tb, seed);
        check_matmul_case(DType::f64, 1e-12, {}, {}, s.M, s.N, s.K, ta, tb, seed);
        seed += 2;
      }
}

TEST_CASE("matmul: batched, and a 2-D side broadcast over the batch") {
  uint64_t seed = 200;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (DType dtype : {DType::f32, DType::f64}) {
        const double tol = dtype == DType::f32 ? 1e-5 : 1e-12;
        check_matmul_case(dtype, tol, {2, 3}, {2, 3}, 9, 17, 11, ta, tb, seed++);  // both batched
        check_matmul_case(dtype, tol, {2, 3}, {}, 9, 17, 11, ta, tb, seed++);      // B shared
        check_matmul_case(dtype, tol, {}, {4}, 9, 17, 11, ta, tb, seed++);         // A shared
        check_matmul_case(dtype, tol, {5}, {5}, 33, 70, 300, ta, tb, seed++);      // bigger entries
      }
  // Many small entries (run one entry per thread).
  check_matmul_case(DType::f32, 1e-5, {16}, {16}, 12, 20, 8, false, true, seed++);
  check_matmul_case(DType::f32, 1e-5, {3, 5}, {}, 50, 64, 32, true, false, seed++);
}

TEST_CASE("matmul: empty dims") {
  const Tensor a = Tensor::ones(Shape{3, 0});
  const Tensor b = Tensor::ones(Shape{0, 4});
  const Tensor c = matmul(a, b);  // K = 0: an empty sum is zero
  CHECK(c.shape() == Shape{3, 4});
  CHECK(c.to_vector() == std::vector<float>(12, 0.f));
  CHECK(matmul(Tensor::ones(Shape{0, 5}), Tensor::ones(Shape{5, 2})).shape() == Shape{0, 2});
  CHECK(matmul(Tensor::ones(Shape{0, 2, 5}), Tensor::ones(Shape{5, 2})).shape() == Shape{0, 2, 2});
}

TEST_CASE("matmul: gemm_cpu honours alpha, beta and row strides") {
  // C (5×7, inside a 5×10 buffer) = 0.5·op(A)·op(B) + beta·C with A, B inside wider buffers.
  const int64_t M = 5, N = 7, K = 9, lda = 12, ldb = 11, ldc = 10;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (double beta : {0.0, 1.0, -2.0}) {
        Rng rng(7);
        const int64_t a_rows = ta ? K : M, b_rows = tb ? N : K;
        std::vector<double> A(size_t(a_rows * lda)), B(size_t(b_rows * ldb)), C(size_t(M * ldc));
        for (auto& v : A) v = rng.uniform(-1, 1);
        for (auto& v : B) v = rng.uniform(-1, 1);
        for (auto& v : C) v = beta == 0.0 ? std::numeric_limits<double>::quiet_NaN() : rng.uniform(-1, 1);
        const std::vector<double> C0 = C;
        std::vector<double> expected = C0;
        gemm_reference<double>(ta, tb, M, N, K, 0.5, A.data(), lda, B.data(), ldb, beta,
                               expected.data(), ldc);
        gemm_cpu<double>(ta, tb, M, N, K, 0.5, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < ldc; ++j) {
            const double got = C[size_t(i * ldc + j)];
            if (j >= N) {  // outside the matrix: untouched
              CHECK((std::isnan(got) ? std::isnan(C0[size_t(i * ldc + j)]) : got == C0[size_t(i * ldc + j)]));
              continue;
            }
            const double want = expected[size_t(i * ldc + j)];
            INFO("ta=", ta, " tb=", tb, " beta=", beta, " at ", i, ",", j);
            CHECK(std::fabs(got - want) <= 1e-13);
          }
      }
}

TEST_CASE("matmul: gemm_cpu matches gemm_reference on 1, 2 and 3 threads") {
  // Edge tiles (MR = 6, NR = 16 f32 / 8 f64), two row blocks (MC = 144 f32 / 72 f64), a
  // partial depth block (KC = 256), inside wider row strides; alpha and beta ≠ 0.
  struct Size { int64_t M, N, K; };
  // 100×300×50 is enough work for 3 threads to split C (gemm_cpu uses ≤ 1 per 2¹⁷ FMAs).
  const std::vector<Size> sizes = {{1, 1, 1},    {5, 17, 3},    {13, 9, 300},
                                   {150, 33, 70}, {7, 200, 40}, {100, 300, 50}};
  const int saved = omp_get_max_threads();
  uint64_t seed = 400;
  for (const int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (const Size& sz : sizes)
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          CAPTURE(threads);
          CAPTURE(sz.M);
          CAPTURE(sz.N);
          CAPTURE(sz.K);
          CAPTURE(ta);
          CAPTURE(tb);
          const int64_t a_rows = ta ? sz.K : sz.M, a_cols = ta ? sz.M : sz.K;
          const int64_t b_rows = tb ? sz.N : sz.K, b_cols = tb ? sz.K : sz.N;
          const int64_t lda = a_cols + 3, ldb = b_cols + 1, ldc = sz.N + 2;
          Rng rng(seed++);
          std::vector<double> A(size_t(a_rows * lda)), B(size_t(b_rows * ldb)), C(size_t(sz.M * ldc));
          for (auto& v : A) v = rng.uniform(-1, 1);
          for (auto& v : B) v = rng.uniform(-1, 1);
          for (auto& v : C) v = rng.uniform(-1, 1);
          std::vector<double> want = C, got64 = C;
          gemm_reference<double>(ta, tb, sz.M, sz.N, sz.K, 0.5, A.data(), lda, B.data(), ldb, -2.0,
                                 want.data(), ldc);
          gemm_cpu<double>(ta, tb, sz.M, sz.N, sz.K, 0.5, A.data(), lda, B.data(), ldb, -2.0,
                           got64.data(), ldc);
          const std::vector<float> A32(A.begin(), A.end()), B32(B.begin(), B.end());
          std::vector<float> got32(C.begin(), C.end());
          gemm_cpu<float>(ta, tb, sz.M, sz.N, sz.K, 0.5f, A32.data(), lda, B32.data(), ldb, -2.f,
                          got32.data(), ldc);
          const Shape shape{sz.M, ldc};
          check_close(Tensor::from_vector_f64(got64, shape), Tensor::from_vector_f64(want, shape),
                      1e-12, "f64");
          check_close(Tensor::from_vector(got32, shape), Tensor::from_vector_f64(want, shape), 1e-5,
                      "f32");
        }
  }
  omp_set_num_threads(saved);
}

TEST_CASE("linear: x·Wᵀ + b over the last dim, against the naive loop") {
  for (DType dtype : {DType::f32, DType::f64}) {
    const double tol = dtype == DType::f32 ? 1e-5 : 1e-12;
    const Tensor x = random(Shape{2, 5, 37}, 1, -1, 1, false, dtype);
    const Tensor w = random(Shape{19, 37}, 2, -1, 1, false, dtype);
    const Tensor b = random(Shape{19}, 3, -1, 1, false, dtype);
    std::vector<double> ref = naive_matmul(x.to_vector_f64(), w.to_vector_f64(), 1, 10, 19, 37, false,
                                           true, false, false);
    const Tensor no_bias = Tensor::from_vector_f64(ref, Shape{2, 5, 19});
    const std::vector<double> bv = b.to_vector_f64();
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += bv[i % 19];
    const Tensor with_bias = Tensor::from_vector_f64(ref, Shape{2, 5, 19});
    check_close(linear(x, w), no_bias, tol, "linear without bias");
    check_close(linear(x, w, b), with_bias, tol, "linear with bias");
    CHECK(linear(x, w, b).dtype() == dtype);
  }
  // 1-D input, and one output feature.
  const Tensor y = linear(Tensor::from_vector({1, 2}, Shape{2}), Tensor::from_vector({3, 4}, Shape{1, 2}),
                          Tensor::from_vector({0.5f}, Shape{1}));
  CHECK(y.shape() == Shape{1});
  CHECK(y.item() == 11.5);
  // in = 0: the bias alone.
  const Tensor z = linear(Tensor::ones(Shape{3, 0}), Tensor::ones(Shape{2, 0}), Tensor::full(Shape{2}, 4.0));
  CHECK(z.to_vector() == std::vector<float>(6, 4.f));
}

TEST_CASE("matmul: gradients match finite differences (f64, every transpose, broadcast)") {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      INFO("trans_a=", ta, " trans_b=", tb);
      const auto f = [ta, tb](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); };
      const int64_t M = 4, N = 5, K = 3;
      // 2-D
      gradcheck(f, {random(operand_shape({}, M, K, ta), 1, -1, 1, true, DType::f64),
                    random(operand_shape({}, K, N, tb), 2, -1, 1, true, DType::f64)});
      // both batched
      gradcheck(f, {random(operand_shape({2, 3}, M, K, ta), 3, -1, 1, true, DType::f64),
                    random(operand_shape({2, 3}, K, N, tb), 4, -1, 1, true, DType::f64)});
      // B shared by a batch of A; A shared by a batch of B
      gradcheck(f, {random(operand_shape({3}, M, K, ta), 5, -1, 1, true, DType::f64),
                    random(operand_shape({}, K, N, tb), 6, -1, 1, true, DType::f64)});
      gradcheck(f, {random(operand_shape({}, M, K, ta), 7, -1, 1, true, DType::f64),
                    random(operand_shape({2, 2}, K, N, tb), 8, -1, 1, true, DType::f64)});
      // only one side requires grad
      gradcheck(f, {random(operand_shape({2}, M, K, ta), 9, -1, 1, true, DType::f64),
                    random(operand_shape({2}, K, N, tb), 10, -1, 1, false, DType::f64)});
      gradcheck(f, {random(operand_shape({2}, M, K, ta), 11, -1, 1, false, DType::f64),
                    random(operand_shape({}, K, N, tb), 12, -1, 1, true, DType::f64)});
    }
}

TEST_CASE("linear: gradients match finite differences (f64, with and without bias)") {
  const auto x = [](Shape s) { return random(s, 21, -1, 1, true, DType::f64); };
  const Tensor w = random(Shape{6, 4}, 22, -1, 1, true, DType::f64);
  const Tensor b = random(Shape{6}, 23, -1, 1, true, DType::f64);
  const auto with_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  const auto no_bias = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  gradcheck(with_bias, {x(Shape{2, 3, 4}), w.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()});
  gradcheck(with_bias, {x(Shape{4}), w.detach().clone().requires_grad_(), b.detach().clone().requires_grad_()});
  gradcheck(no_bias, {x(Shape{5, 4}), w.detach().clone().requires_grad_()});
  // frozen weight: only x and b get gradients
  gradcheck(with_bias, {x(Shape{3, 4}), w.detach().clone(), b.detach().clone().requires_grad_()});
}

TEST_CASE("matmul: bad shapes throw errors naming the op and the shapes") {
  const Tensor a = Tensor::zeros(Shape{7, 13});
  CHECK(error_mentions([&] { matmul(a, Tensor::zeros(Shape{12, 5})); }, {"matmul", "[7, 13]", "[12, 5]"}));
  CHECK(error_mentions([&] { matmul(a, Tensor::zeros(Shape{13, 5}), true); }, {"matmul", "trans_a=true"}));
  CHECK(error_mentions([&] { matmul(Tensor::zeros(Shape{2, 7, 13}), Tensor::zeros(Shape{3, 13, 5})); },
                       {"matmul", "batch", "[2, 7, 13]", "[3, 13, 5]"}));
  CHECK(error_mentions([&] { matmul(Tensor::zeros(Shape{2, 7, 13}), Tensor::zeros(Shape{1, 2, 13, 5})); },
                       {"matmul", "batch"}));
  CHECK(error_mentions([&] { matmul(Tensor::zeros(Shape{13}), Tensor::zeros(Shape{13, 5})); }, {"matmul", "2 dims"}));
  CHECK(error_mentions([&] { matmul(a, Tensor::zeros(Shape{13, 5}, DType::f64)); }, {"matmul"}));
  CHECK(error_mentions([&] { matmul(Tensor::zeros(Shape{2, 2}, DType::i32), Tensor::zeros(Shape{2, 2}, DType::i32)); },
                       {"matmul"}));
  CHECK(error_mentions([&] { linear(Tensor::zeros(Shape{4, 13}), Tensor::zeros(Shape{5, 12})); },
                       {"linear", "[5, 12]", "13"}));
  CHECK(error_mentions([&] { linear(Tensor::zeros(Shape{4, 13}), Tensor::zeros(Shape{5, 13}), Tensor::zeros(Shape{4})); },
                       {"linear", "bias", "[4]"}));
  CHECK(error_mentions([&] { linear(Tensor::zeros(Shape{4, 13}), Tensor::zeros(Shape{13})); }, {"linear", "weight"}));
}

TV3S_CUDA_TEST_CASE("matmul: CUDA matches CPU (f32, f16, bf16; transposes, batch broadcast)") {
  struct Case { std::vector<int64_t> a_batch, b_batch; int64_t M, N, K; };
  const std::vector<Case> cases = {{{}, {}, 1, 1, 1},          {{}, {}, 65, 33, 129},
                                   {{3}, {3}, 17, 40, 23},     {{2, 2}, {}, 31, 9, 70},
                                   {{}, {4}, 12, 64, 48}};
  uint64_t seed = 300;
  for (const Case& c : cases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        const std::vector<Tensor> in = {random(operand_shape(c.a_batch, c.M, c.K, ta), seed, -1, 1, true),
                                        random(operand_shape(c.b_batch, c.K, c.N, tb), seed + 1, -1, 1, true)};
        seed += 2;
        const auto f = [ta, tb](const std::vector<Tensor>& x) { return matmul(x[0], x[1], ta, tb); };
        for (auto [dtype, tol] : {std::pair{DType::f32, 1e-5}, {DType::f16, 5e-3}, {DType::bf16, 3e-2}}) {
          INFO("a ", in[0].desc(), " b ", in[1].desc(), " ta=", ta, " tb=", tb, " ", dtype_name(dtype));
          check_backends(f, in, tol, dtype);
        }
      }
}

TV3S_CUDA_TEST_CASE("linear: CUDA matches CPU (f32, f16, bf16; with and without bias)") {
  const std::vector<Tensor> in = {random(Shape{3, 50, 96}, 1, -1, 1, true), random(Shape{40, 96}, 2, -1, 1, true),
                                  random(Shape{40}, 3, -1, 1, true)};
  const auto with_bias = [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); };
  const auto no_bias = [](const std::vector<Tensor>& x) { return linear(x[0], x[1]); };
  for (auto [dtype, tol] : {std::pair{DType::f32, 1e-5}, {DType::f16, 5e-3}, {DType::bf16, 3e-2}}) {
    INFO(dtype_name(dtype));
    check_backends(with_bias, in, tol, dtype);
    check_backends(no_bias, {in[0], in[1]}, tol, dtype);
  }
}
