// softmax / log_softmax: hand-computed values, an independent long-double formula over
// every axis, stability with ±1000 logits, f64 gradient checks, CUDA against CPU.
#include <cmath>
#include <vector>

#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// Softmax of x [A, B, C] over `axis`, written out with explicit indices and long double,
// independently of the library's [outer, n, inner] view.
std::vector<double> softmax_3d_reference(const std::vector<double>& x, int A, int B, int C, int axis,
                                         bool log) {
  auto at = [&](int a, int b, int c) { return size_t((a * B + b) * C + c); };
  const int dims[3] = {A, B, C};
  std::vector<double> y(x.size());
  for (int a = 0; a < A; ++a)
    for (int b = 0; b < B; ++b)
      for (int c = 0; c < C; ++c) {
        int idx[3] = {a, b, c};
        long double m = -INFINITY;
        for (int k = 0; k < dims[axis]; ++k) {
          idx[axis] = k;
          m = std::max(m, (long double)x[at(idx[0], idx[1], idx[2])]);
        }
        long double s = 0;
        for (int k = 0; k < dims[axis]; ++k) {
          idx[axis] = k;
          s += std::exp((long double)x[at(idx[0], idx[1], idx[2])] - m);
        }
        const long double xi = x[at(a, b, c)];
        y[at(a, b, c)] = double(log ? xi - m - std::log(s) : std::exp(xi - m) / s);
      }
  return y;
}

}  // namespace

TEST_CASE("softmax: hand-computed values") {
  const Tensor x = Tensor::from_vector({1, 2, 3, 0, 0, 0}, {2, 3});
  // e^k / (e + e² + e³) for k = 1, 2, 3; a constant row gives 1/3 each.
  const Tensor want = Tensor::from_vector_f64(
      {0.0900305731703804562, 0.2447284710547976, 0.6652409557748219, 1.0 / 3, 1.0 / 3, 1.0 / 3},
      {2, 3});
  check_close(softmax(x), want, 1e-6, "softmax rows");
  // log_softmax = x − log(e + e² + e³) = x − 3.40760596444438.
  const Tensor want_log = Tensor::from_vector_f64(
      {-2.40760596444438, -1.40760596444438, -0.40760596444438, -std::log(3.0), -std::log(3.0),
       -std::log(3.0)},
      {2, 3});
  check_close(log_softmax(x), want_log, 1e-6, "log_softmax rows");
  // Over axis 0 of the same tensor: columns (1, 0), (2, 0), (3, 0).
  const double s1 = 1 / (1 + std::exp(-1.0)), s2 = 1 / (1 + std::exp(-2.0)),
               s3 = 1 / (1 + std::exp(-3.0));
  const Tensor want_axis0 =
      Tensor::from_vector_f64({s1, s2, s3, 1 - s1, 1 - s2, 1 - s3}, {2, 3});
  check_close(softmax(x, 0), want_axis0, 1e-6, "softmax axis 0");
}

TEST_CASE("softmax: every axis against a long-double formula, f32 and f64") {
  const int A = 2, B = 3, C = 4;
  const Tensor x64 = random({A, B, C}, 7, -3, 3, false, DType::f64);
  const std::vector<double> xv = x64.to_vector_f64();
  for (int axis = 0; axis < 3; ++axis) {
    for (bool log : {false, true}) {
      CAPTURE(axis);
      CAPTURE(log);
      const Tensor want = Tensor::from_vector_f64(softmax_3d_reference(xv, A, B, C, axis, log), {A, B, C});
      const Tensor got64 = log ? log_softmax(x64, axis) : softmax(x64, axis);
      check_close(got64, want, 1e-13, "f64");
      const Tensor x32 = x64.to(DType::f32);
      const Tensor got32 = log ? log_softmax(x32, axis) : softmax(x32, axis);
      CHECK(got32.dtype() == DType::f32);
      check_close(got32, want, 1e-6, "f32");
      // A negative axis names the same dimension.
      check_close(log ? log_softmax(x64, axis - 3) : softmax(x64, axis - 3), got64, 0, "axis - 3");
    }
  }
}

TEST_CASE("softmax: rows sum to one, and exp(log_softmax) = softmax") {
  const Tensor x = random({3, 5, 7}, 11, -4, 4);
  const std::vector<float> y = softmax(x, 1).to_vector();
  for (int a = 0; a < 3; ++a)
    for (int c = 0; c < 7; ++c) {
      double s = 0;
      for (int b = 0; b < 5; ++b) s += y[size_t((a * 5 + b) * 7 + c)];
      CHECK(s == doctest::Approx(1.0).epsilon(1e-6));
    }
  const std::vector<float> log_y = log_softmax(x, 1).to_vector();
  for (size_t i = 0; i < y.size(); ++i) CHECK(std::exp(log_y[i]) == doctest::Approx(y[i]).epsilon(1e-5));
}

TEST_CASE("softmax: large logits (±1000) stay finite and exact") {
  const Tensor x = Tensor::from_vector({1000, -1000, 999, -1000, -999, -3000}, {2, 3});
  const double p = 1 / (1 + std::exp(-1.0));  // e^0 / (e^0 + e^-1)
  check_close(softmax(x), Tensor::from_vector_f64({p, 0, 1 - p, 1 - p, p, 0}, {2, 3}), 1e-6,
              "softmax");
  // log_softmax: x − max − log(1 + e^-1 + e^-2000…) with the tiny term lost.
  const double l = std::log(1 + std::exp(-1.0));
  check_close(log_softmax(x),
              Tensor::from_vector_f64({-l, -2000 - l, -1 - l, -1 - l, -l, -2001 - l}, {2, 3}),
              1e-6, "log_softmax");
  for (float v : log_softmax(x, 0).to_vector()) CHECK(std::isfinite(v));
}

TEST_CASE("softmax: gradcheck in f64 over every axis") {
  for (int axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    gradcheck([axis](const std::vector<Tensor>& in) { return softmax(in[0], axis); },
              {random({2, 3, 4}, 21, -2, 2, true, DType::f64)});
    gradcheck([axis](const std::vector<Tensor>& in) { return log_softmax(in[0], axis); },
              {random({2, 3, 4}, 22, -2, 2, true, DType::f64)});
  }
}

TEST_CASE("softmax: bad input") {
  CHECK_THROWS_AS(softmax(random({2, 3}, 1), 2), tv3s::Error);
  CHECK_THROWS_AS(log_softmax(random({2, 3}, 1), -3), tv3s::Error);
  CHECK_THROWS_AS(softmax(Tensor::from_vector_i32({1, 2}, {2})), tv3s::Error);
  CHECK_THROWS_AS(softmax(Tensor()), tv3s::Error);
}

// --- CUDA against CPU ---------------------------------------------------------------------
// Both layouts: the last axis (contiguous rows, a block per row; 300 > 256 threads makes
// the threads loop) and an inner axis (strided rows, a thread per row).

namespace {
void check_softmax_backends(DType dtype, double tol) {
  struct Case { Shape shape; int axis; };
  for (const Case& c : {Case{{4, 300}, -1}, Case{{3, 5, 17}, -1}, Case{{2, 19, 6, 5}, 1},
                        Case{{7, 3, 2}, 0}}) {
    CAPTURE(c.shape.str());
    CAPTURE(c.axis);
    const int axis = c.axis;
    check_backends([axis](const std::vector<Tensor>& in) { return softmax(in[0], axis); },
                   {random(c.shape, 31, -4, 4, true)}, tol, dtype);
    check_backends([axis](const std::vector<Tensor>& in) { return log_softmax(in[0], axis); },
                   {random(c.shape, 32, -4, 4, true)}, tol, dtype);
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("softmax: CUDA matches CPU in f32 (rel 1e-5)") {
  check_softmax_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("softmax: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 4e-2)") {
  check_softmax_backends(DType::f16, 1e-2);
  check_softmax_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("softmax: CUDA large logits stay finite") {
  const Tensor x = Tensor::from_vector({1000, -1000, 999, -1000, -999, -3000}, {2, 3});
  check_close(softmax(x.cuda()), softmax(x), 1e-6, "softmax rows");
  check_close(log_softmax(x.cuda(), 0), log_softmax(x, 0), 1e-6, "log_softmax strided");
  check_close(softmax(x.to(DType::f16).cuda()), softmax(x), 1e-3, "softmax f16");
}
