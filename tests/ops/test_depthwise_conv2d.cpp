// depthwise_conv2d: hand-computed values; CPU forward against a direct formula written
// here in double (MiT's 3×3 pad 1, odd sizes, other kernels and pads, with and without
// bias); f64 finite-difference gradients of x, weight and bias (including pads ≥ k,
// where dx runs with negative pads); CUDA against CPU; determinism; the errors.
// The depthwise family: src/ops/depthwise_conv2d.cpp, cuda/depthwise_conv2d.cu.
//
// Tolerances (rel = max|got − ref| / max|ref|, see test_util.h):
//   CPU f64 vs the direct formula: 1e-13; CPU f32: 1e-6 (≤ 28 products of values in
//   [-1, 1] per output).
//   gradcheck: eps 1e-6, |analytic − numeric| ≤ 1e-6 + 1e-5·|numeric| (linear in each input).
//   CUDA vs CPU: f32 1e-5 (dweight/dbias sum up to 2000 pixels in f32 on the GPU, in
//   double on the CPU); f16 1e-2 and bf16 4e-2 (inputs rounded to 11/8 mantissa bits,
//   f32 accumulation, output rounded once more).
#include <vector>

#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// y[n, oy, ox, c] = b[c] + Σ_{ky, kx} x[n, oy − ph + ky, ox − pw + kx, c] · w[c, 0, ky, kx],
// straight from the definition, in double.
Tensor direct_depthwise(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t ph,
                        int64_t pw) {
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  const int64_t kh = w.size(2), kw = w.size(3);
  const int64_t Ho = H + 2 * ph - kh + 1, Wo = W + 2 * pw - kw + 1;
  const std::vector<double> xv = x.to_vector_f64(), wv = w.to_vector_f64();
  const std::vector<double> bv = bias.defined() ? bias.to_vector_f64() : std::vector<double>();
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < Ho; ++oy)
      for (int64_t ox = 0; ox < Wo; ++ox)
        for (int64_t c = 0; c < C; ++c) {
          double s = bv.empty() ? 0.0 : bv[size_t(c)];
          for (int64_t ky = 0; ky < kh; ++ky)
            for (int64_t kx = 0; kx < kw; ++kx) {
              const int64_t iy = oy - ph + ky, ix = ox - pw + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              s += xv[size_t(((n * H + iy) * W + ix) * C + c)] *
                   wv[size_t((c * kh + ky) * kw + kx)];
            }
          y.push_back(s);
        }
  return Tensor::from_vector_f64(y, Shape{N, Ho, Wo, C});
}

// One configuration: x [N, H, W, C], kernel kh×kw, padding.
struct DepthwiseCase {
  const char* name;
  Shape x;
  int64_t kh, kw, pad_h, pad_w;
};

std::vector<DepthwiseCase> forward_cases() {
  return {
      {"Mix-FFN 3x3 p1", {2, 7, 9, 5}, 3, 3, 1, 1},
      {"Mix-FFN 3x3 p1, last-stage-like map", {1, 15, 27, 40}, 3, 3, 1, 1},
      {"5x3, pad (2, 0)", {1, 8, 6, 3}, 5, 3, 2, 0},
      {"3x3 p0", {1, 6, 7, 4}, 3, 3, 0, 0},
      {"1x1", {2, 3, 5, 6}, 1, 1, 0, 0},
      {"3x3 p3 (output larger than input)", {1, 4, 5, 3}, 3, 3, 3, 3},
      {"2x4 (even), pad (1, 2)", {1, 5, 7, 2}, 2, 4, 1, 2},
      {"7x7 p3", {1, 9, 10, 3}, 7, 7, 3, 3},
  };
}

Shape weight_shape(const DepthwiseCase& c) { return {c.x[3], 1, c.kh, c.kw}; }

}  // namespace

TEST_CASE("depthwise_conv2d: hand-computed values") {
  // Two channels, 3×3 map, 3×3 kernel, padding 1. Channel 0 is [[1..3], [4..6], [7..9]]
  // with a box kernel of ones: each output is the sum of its (clipped) 3×3 neighbourhood.
  // Channel 1 is all ones with the kernel [[1, 2, 3], [4, 5, 6], [7, 8, 9]] and bias −1:
  // each output is the sum of the kernel entries over the taps that land inside, minus 1.
  std::vector<float> x;
  for (int i = 1; i <= 9; ++i) x.insert(x.end(), {float(i), 1.f});
  const Tensor w = Tensor::from_vector({1, 1, 1, 1, 1, 1, 1, 1, 1,  1, 2, 3, 4, 5, 6, 7, 8, 9},
                                       {2, 1, 3, 3});
  const Tensor y = depthwise_conv2d(Tensor::from_vector(x, {1, 3, 3, 2}), w,
                                    Tensor::from_vector({0, -1}, {2}), 1, 1);
  const Tensor want = Tensor::from_vector({12, 27, 21, 38, 16, 23,
                                           27, 32, 45, 44, 33, 26,
                                           24, 15, 39, 20, 28, 11},
                                          {1, 3, 3, 2});
  check_close(y, want, 0);
}

TEST_CASE("depthwise_conv2d: against a direct formula, f64 and f32, with and without bias") {
  uint64_t seed = 100;
  for (const DepthwiseCase& c : forward_cases()) {
    CAPTURE(c.name);
    const Tensor x = random(c.x, ++seed, -1, 1, false, DType::f64);
    const Tensor w = random(weight_shape(c), ++seed, -1, 1, false, DType::f64);
    const Tensor b = random({c.x[3]}, ++seed, -1, 1, false, DType::f64);
    for (const bool with_bias : {true, false}) {
      CAPTURE(with_bias);
      const Tensor bias = with_bias ? b : Tensor();
      const Tensor want = direct_depthwise(x, w, bias, c.pad_h, c.pad_w);
      check_close(depthwise_conv2d(x, w, bias, c.pad_h, c.pad_w), want, 1e-13, "f64");
      const Tensor bias32 = with_bias ? b.to(DType::f32) : Tensor();
      check_close(depthwise_conv2d(x.to(DType::f32), w.to(DType::f32), bias32, c.pad_h, c.pad_w),
                  want, 1e-6, "f32");
    }
  }
}

TEST_CASE("depthwise_conv2d: gradcheck in f64 of x, weight and bias") {
  const std::vector<DepthwiseCase> cases = {
      {"3x3 p1", {2, 4, 5, 3}, 3, 3, 1, 1},
      {"2x4, pad (1, 2)", {1, 5, 4, 2}, 2, 4, 1, 2},
      {"3x3 p3 (dx with negative pads)", {1, 3, 4, 2}, 3, 3, 3, 3},
      {"1x3 p0", {1, 3, 5, 2}, 1, 3, 0, 0},
      {"more than one CPU channel block", {1, 3, 3, 35}, 3, 3, 1, 1},
  };
  uint64_t seed = 200;
  for (const DepthwiseCase& c : cases) {
    CAPTURE(c.name);
    const int64_t ph = c.pad_h, pw = c.pad_w;
    auto with_bias = [ph, pw](const std::vector<Tensor>& in) {
      return depthwise_conv2d(in[0], in[1], in[2], ph, pw);
    };
    gradcheck(with_bias, {random(c.x, ++seed, -1, 1, true, DType::f64),
                          random(weight_shape(c), ++seed, -1, 1, true, DType::f64),
                          random({c.x[3]}, ++seed, -1, 1, true, DType::f64)});
    // Only the bias learns (the input and weight are frozen, x is not kept).
    gradcheck(with_bias, {random(c.x, ++seed, -1, 1, false, DType::f64),
                          random(weight_shape(c), ++seed, -1, 1, false, DType::f64),
                          random({c.x[3]}, ++seed, -1, 1, true, DType::f64)});
    // No bias; only x learns.
    gradcheck(
        [ph, pw](const std::vector<Tensor>& in) {
          return depthwise_conv2d(in[0], in[1], Tensor(), ph, pw);
        },
        {random(c.x, ++seed, -1, 1, true, DType::f64),
         random(weight_shape(c), ++seed, -1, 1, false, DType::f64)});
  }
}

TEST_CASE("depthwise_conv2d: f32 gradients match f64 ones") {
  // The CPU dweight/dbias sum in double whatever the storage; dx runs the f32 forward.
  const Tensor x64 = random({2, 9, 11, 20}, 301, -1, 1, true, DType::f64);
  const Tensor w64 = random({20, 1, 3, 3}, 302, -1, 1, true, DType::f64);
  const Tensor b64 = random({20}, 303, -1, 1, true, DType::f64);
  const Tensor dy = random({2, 9, 11, 20}, 304, -1, 1, false, DType::f64);
  sum_all(mul(depthwise_conv2d(x64, w64, b64, 1, 1), dy)).backward();
  Tensor x32 = x64.detach().to(DType::f32), w32 = w64.detach().to(DType::f32),
         b32 = b64.detach().to(DType::f32);
  x32.requires_grad_();
  w32.requires_grad_();
  b32.requires_grad_();
  sum_all(mul(depthwise_conv2d(x32, w32, b32, 1, 1), dy.to(DType::f32))).backward();
  check_close(x32.grad(), x64.grad(), 1e-6, "dx");
  check_close(w32.grad(), w64.grad(), 1e-6, "dweight");
  check_close(b32.grad(), b64.grad(), 1e-6, "dbias");
}

TEST_CASE("depthwise_conv2d: bad input") {
  const Tensor x = random({1, 6, 6, 4}, 1);
  const Tensor w = random({4, 1, 3, 3}, 2);
  CHECK_NOTHROW(depthwise_conv2d(x, w, Tensor(), 1, 1));                          // valid base
  CHECK_THROWS_AS(depthwise_conv2d(random({6, 6, 4}, 1), w, Tensor(), 1, 1), tv3s::Error);  // 3-D
  CHECK_THROWS_AS(depthwise_conv2d(x, random({3, 1, 3, 3}, 2), Tensor(), 1, 1), tv3s::Error);  // C
  CHECK_THROWS_AS(depthwise_conv2d(x, random({4, 2, 3, 3}, 2), Tensor(), 1, 1),
                  tv3s::Error);                                                   // groups ≠ C
  CHECK_THROWS_AS(depthwise_conv2d(x, random({4, 3, 3}, 2), Tensor(), 1, 1), tv3s::Error);  // 3-D w
  CHECK_THROWS_AS(depthwise_conv2d(x, w, random({5}, 3), 1, 1), tv3s::Error);     // bias size
  CHECK_THROWS_AS(depthwise_conv2d(x, w, Tensor(), -1, 1), tv3s::Error);          // pad < 0
  CHECK_THROWS_AS(depthwise_conv2d(random({1, 2, 6, 4}, 1), w, Tensor(), 0, 0),
                  tv3s::Error);                                                   // output < 1
  CHECK_THROWS_AS(depthwise_conv2d(x, w.to(DType::f64), Tensor(), 1, 1), tv3s::Error);  // dtypes
}

// --- CUDA against CPU ---------------------------------------------------------------------

namespace {
void check_depthwise_backends(DType dtype, double tol) {
  std::vector<DepthwiseCase> cases = forward_cases();
  // Several pixel chunks in the dweight/dbias reduction (2000 pixels), 70 channels (three
  // channel tiles, the last one partial), and the largest kernel the CUDA forward takes.
  cases.push_back({"3x3 p1, 2000 pixels, 70 channels", {1, 40, 50, 70}, 3, 3, 1, 1});
  cases.push_back({"16x24 (384 taps)", {1, 20, 30, 5}, 16, 24, 8, 12});
  uint64_t seed = 400;
  for (const DepthwiseCase& c : cases) {
    CAPTURE(c.name);
    const int64_t ph = c.pad_h, pw = c.pad_w;
    check_backends(
        [ph, pw](const std::vector<Tensor>& in) {
          return depthwise_conv2d(in[0], in[1], in[2], ph, pw);
        },
        {random(c.x, ++seed, -1, 1, true), random(weight_shape(c), ++seed, -1, 1, true),
         random({c.x[3]}, ++seed, -1, 1, true)},
        tol, dtype);
    check_backends(
        [ph, pw](const std::vector<Tensor>& in) {
          return depthwise_conv2d(in[0], in[1], Tensor(), ph, pw);
        },
        {random(c.x, ++seed, -1, 1, true), random(weight_shape(c), ++seed, -1, 1, true)}, tol,
        dtype);
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("depthwise_conv2d: CUDA matches CPU in f32 (rel 1e-5)") {
  check_depthwise_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("depthwise_conv2d: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 4e-2)") {
  check_depthwise_backends(DType::f16, 1e-2);
  check_depthwise_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("depthwise_conv2d: CUDA only-bias gradient (x not kept)") {
  check_backends([](const std::vector<Tensor>& in) {
                   return depthwise_conv2d(in[0], in[1], in[2], 1, 1);
                 },
                 {random({1, 9, 7, 33}, 450), random({33, 1, 3, 3}, 451),
                  random({33}, 452, -1, 1, true)},
                 1e-5, DType::f32);
}

TV3S_CUDA_TEST_CASE("depthwise_conv2d: CUDA dweight/dbias are bitwise deterministic") {
  const Tensor x = random({2, 30, 40, 64}, 81, -1, 1).cuda();
  const Tensor dy_weights = random({2, 30, 40, 64}, 82, -1, 1).cuda();
  std::vector<float> first_w, first_b;
  for (int run = 0; run < 3; ++run) {
    Tensor weight = random({64, 1, 3, 3}, 83).cuda();
    Tensor bias = random({64}, 84).cuda();
    weight.requires_grad_();
    bias.requires_grad_();
    sum_all(mul(depthwise_conv2d(x, weight, bias, 1, 1), dy_weights)).backward();
    const std::vector<float> gw = weight.grad().to_vector(), gb = bias.grad().to_vector();
    if (run == 0) {
      first_w = gw;
      first_b = gb;
    } else {
      CHECK(gw == first_w);
      CHECK(gb == first_b);
    }
  }
}

TV3S_CUDA_TEST_CASE("depthwise_conv2d: CUDA rejects kernels over its shared-memory tile") {
  const Tensor x = random({1, 30, 30, 2}, 91).cuda();  // 20×20 = 400 taps > 384
  CHECK_THROWS_AS(depthwise_conv2d(x, random({2, 1, 20, 20}, 92).cuda(), Tensor(), 0, 0),
                  tv3s::Error);
}
