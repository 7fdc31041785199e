// conv2d and im2col: hand-computed values; CPU forward against a direct convolution
// written here in double (every MiT configuration, odd sizes, with and without bias);
// f64 finite-difference gradients of x, weight and bias; CUDA against CPU; the errors.
// The conv2d family: src/ops/conv2d.cpp, cuda/conv2d.cu.
//
// Tolerances (rel = max|got − ref| / max|ref|, see test_util.h):
//   CPU f64 vs the direct formula: 1e-12. CPU f32: 1e-5 (patches of ≤ 147 products of
//   values in [-1, 1], f32 dot products: ≲ 2e-6 of max|ref|).
//   gradcheck: eps 1e-6, |analytic − numeric| ≤ 1e-6 + 1e-5·|numeric| (the op is linear
//   in each input, so the central difference is exact up to rounding).
//   CUDA vs CPU: f32 1e-5 (cuBLAS f32 pedantic, col2im adds ≤ 4 terms in f32); f16 1e-2
//   and bf16 4e-2 (inputs rounded to 11/8 mantissa bits, f32 accumulation, output
//   rounded once more). im2col alone moves values (exact but for the rounding of the
//   inputs to f16/bf16) and col2im sums ≤ 4 entries: f32 1e-6, f16 1e-3, bf16 8e-3.
#include <vector>

#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

// y[n, oy, ox, o] = b[o] + Σ_{c, ky, kx} x[n, oy·sh − ph + ky, ox·sw − pw + kx, c]
//                                        · w[o, c, ky, kx],
// straight from the definition, in double. x [N, H, W, Cin], w [Cout, Cin, kh, kw].
Tensor direct_conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), Cin = x.size(3);
  const int64_t Cout = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t Ho = (H + 2 * p.pad_h - kh) / p.stride_h + 1;
  const int64_t Wo = (W + 2 * p.pad_w - kw) / p.stride_w + 1;
  const std::vector<double> xv = x.to_vector_f64(), wv = w.to_vector_f64();
  const std::vector<double> bv = bias.defined() ? bias.to_vector_f64() : std::vector<double>();
  std::vector<double> y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < Ho; ++oy)
      for (int64_t ox = 0; ox < Wo; ++ox)
        for (int64_t o = 0; o < Cout; ++o) {
          double s = bv.empty() ? 0.0 : bv[size_t(o)];
          for (int64_t c = 0; c < Cin; ++c)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * p.stride_h - p.pad_h + ky;
                const int64_t ix = ox * p.stride_w - p.pad_w + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s += xv[size_t(((n * H + iy) * W + ix) * Cin + c)] *
                     wv[size_t(((o * Cin + c) * kh + ky) * kw + kx)];
              }
          y.push_back(s);
        }
  return Tensor::from_vector_f64(y, Shape{N, Ho, Wo, Cout});
}

Conv2dParams params(int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w) {
  Conv2dParams p;
  p.stride_h = stride_h, p.stride_w = stride_w, p.pad_h = pad_h, p.pad_w = pad_w;
  return p;
}

// One convolution configuration: x [N, H, W, Cin], weight [Cout, Cin, k, k'].
struct ConvCase {
  const char* name;
  Shape x, weight;
  Conv2dParams p;
};

// The convolutions of MiT, on small odd-sized maps, plus an asymmetric one.
std::vector<ConvCase> mit_cases() {
  return {
      {"patch embed 1: 7x7 s4 p3", {2, 17, 23, 3}, {8, 3, 7, 7}, params(4, 4, 3, 3)},
      {"patch embed 1 on 67x101", {1, 67, 101, 3}, {4, 3, 7, 7}, params(4, 4, 3, 3)},
      {"patch embed 2-4: 3x3 s2 p1", {1, 13, 9, 6}, {10, 6, 3, 3}, params(2, 2, 1, 1)},
      {"spatial reduction 8x8 s8", {1, 19, 21, 4}, {6, 4, 8, 8}, params(8, 8, 0, 0)},
      {"spatial reduction 4x4 s4", {1, 15, 27, 5}, {3, 5, 4, 4}, params(4, 4, 0, 0)},
      {"spatial reduction 2x2 s2", {2, 7, 13, 8}, {8, 8, 2, 2}, params(2, 2, 0, 0)},
      {"head 1x1", {2, 5, 7, 6}, {3, 6, 1, 1}, params(1, 1, 0, 0)},
      {"3x2, stride (1, 3), pad (2, 0)", {1, 6, 11, 3}, {4, 3, 3, 2}, params(1, 3, 2, 0)},
  };
}

}  // namespace

TEST_CASE("conv2d: hand-computed values") {
  // x = [[1, 2, 3], [4, 5, 6], [7, 8, 9]] (one channel).
  const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 3, 3, 1});
  // 2×2 kernel [[1, 2], [3, 4]], bias 0.5: y[0, 0] = 1·1 + 2·2 + 4·3 + 5·4 + 0.5 = 37.5, ...
  const Tensor w = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});
  check_close(conv2d(x, w, Tensor::from_vector({0.5}, {1})),
              Tensor::from_vector({37.5, 47.5, 67.5, 77.5}, {1, 2, 2, 1}), 0, "2x2 valid");
  // 3×3 box of ones, stride 2, padding 1: windows centred on the corners sum the 2×2
  // blocks there: 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
  check_close(conv2d(x, Tensor::ones({1, 1, 3, 3}), Tensor(), params(2, 2, 1, 1)),
              Tensor::from_vector({12, 16, 24, 28}, {1, 2, 2, 1}), 0, "3x3 s2 p1");
  // Two output channels of a 1×1 kernel over two input channels: a per-pixel matrix.
  const Tensor x2 = Tensor::from_vector({1, 2, 3, 4}, {1, 1, 2, 2});  // pixels (1, 2), (3, 4)
  const Tensor w2 = Tensor::from_vector({1, 1, 1, -1}, {2, 2, 1, 1});
  check_close(conv2d(x2, w2, Tensor()), Tensor::from_vector({3, -1, 7, -1}, {1, 1, 2, 2}), 0,
              "1x1");
}

TEST_CASE("im2col: hand-computed patches with padding") {
  // x = [[1, 2], [3, 4]], 2×2 patches, padding 1: a 3×3 grid of patches (ky, kx).
  const Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 2, 2, 1});
  const Tensor want = Tensor::from_vector({0, 0, 0, 1,  0, 0, 1, 2,  0, 0, 2, 0,
                                           0, 1, 0, 3,  1, 2, 3, 4,  2, 0, 4, 0,
                                           0, 3, 0, 0,  3, 4, 0, 0,  4, 0, 0, 0},
                                          {1, 3, 3, 4});
  check_close(im2col(x, 2, 2, params(1, 1, 1, 1)), want, 0, "2x2 p1");
  // Two channels, stride 2, no padding: the patch order is (ky, kx, c).
  const Tensor x2 = Tensor::from_vector({1, 10, 2, 20, 3, 30, 4, 40}, {1, 2, 2, 2});
  check_close(im2col(x2, 2, 2, params(2, 2, 0, 0)),
              Tensor::from_vector({1, 10, 2, 20, 3, 30, 4, 40}, {1, 1, 1, 8}), 0, "channels");
}

TEST_CASE("conv2d: MiT configurations against a direct convolution, f64 and f32") {
  uint64_t seed = 100;
  for (const ConvCase& c : mit_cases()) {
    CAPTURE(c.name);
    const Tensor x = random(c.x, ++seed, -1, 1, false, DType::f64);
    const Tensor w = random(c.weight, ++seed, -1, 1, false, DType::f64);
    const Tensor b = random({c.weight[0]}, ++seed, -1, 1, false, DType::f64);
    for (const bool with_bias : {true, false}) {
      CAPTURE(with_bias);
      const Tensor bias = with_bias ? b : Tensor();
      const Tensor want = direct_conv2d(x, w, bias, c.p);
      check_close(conv2d(x, w, bias, c.p), want, 1e-12, "f64");
      const Tensor bias32 = with_bias ? b.to(DType::f32) : Tensor();
      check_close(conv2d(x.to(DType::f32), w.to(DType::f32), bias32, c.p), want, 1e-5, "f32");
    }
  }
}

TEST_CASE("conv2d: gradcheck in f64 of x, weight and bias") {
  const std::vector<ConvCase> cases = {
      {"3x3 s2 p1", {1, 5, 6, 2}, {3, 2, 3, 3}, params(2, 2, 1, 1)},
      {"7x7 s4 p3", {1, 9, 11, 2}, {2, 2, 7, 7}, params(4, 4, 3, 3)},
      {"2x2 s2, odd map (a cropped edge)", {1, 5, 7, 3}, {2, 3, 2, 2}, params(2, 2, 0, 0)},
      {"1x1", {2, 3, 4, 3}, {2, 3, 1, 1}, params(1, 1, 0, 0)},
      {"3x2 s(1, 3) p(2, 0)", {1, 4, 7, 2}, {2, 2, 3, 2}, params(1, 3, 2, 0)},
  };
  uint64_t seed = 200;
  for (const ConvCase& c : cases) {
    CAPTURE(c.name);
    const Conv2dParams p = c.p;
    gradcheck([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); },
              {random(c.x, ++seed, -1, 1, true, DType::f64),
               random(c.weight, ++seed, -1, 1, true, DType::f64),
               random({c.weight[0]}, ++seed, -1, 1, true, DType::f64)});
    // Without bias, and with a frozen input (only the weight learns).
    gradcheck([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), p); },
              {random(c.x, ++seed, -1, 1, false, DType::f64),
               random(c.weight, ++seed, -1, 1, true, DType::f64)});
  }
}

TEST_CASE("im2col: gradcheck in f64 (col2im), overlapping, skipping and all-padding patches") {
  struct Case { int64_t kh, kw; Conv2dParams p; };
  // stride < kernel (overlap), stride > kernel (skipped inputs get 0), pad ≥ kernel.
  for (const Case& c : {Case{3, 3, params(1, 2, 1, 1)}, Case{2, 2, params(3, 3, 0, 0)},
                        Case{2, 3, params(1, 1, 2, 3)}}) {
    CAPTURE(c.kh);
    CAPTURE(c.kw);
    const Case k = c;
    // Every one of the 210 input elements is probed (max_elements 256).
    gradcheck([k](const std::vector<Tensor>& in) { return im2col(in[0], k.kh, k.kw, k.p); },
              {random({2, 5, 7, 3}, 300 + uint64_t(c.kh * 10 + c.kw), -1, 1, true, DType::f64)},
              1e-6, 1e-6, 1e-5, 256);
  }
}

TEST_CASE("conv2d: gradient of a parameter that needs none stays undefined") {
  const Tensor x = random({1, 6, 6, 2}, 61, -1, 1, true);
  const Tensor weight = random({3, 2, 3, 3}, 62);  // frozen
  const Tensor bias = random({3}, 63, -1, 1, true);
  sum_all(conv2d(x, weight, bias, params(2, 2, 1, 1))).backward();
  CHECK(x.grad().defined());
  CHECK(bias.grad().defined());
  CHECK_FALSE(weight.grad().defined());
}

TEST_CASE("conv2d / im2col: bad input") {
  const Tensor x = random({1, 8, 8, 3}, 1);
  const Tensor w = random({4, 3, 3, 3}, 2);
  CHECK_THROWS_AS(conv2d(random({8, 8, 3}, 1), w, Tensor()), tv3s::Error);          // x not 4-D
  CHECK_THROWS_AS(conv2d(x, random({4, 3, 3}, 2), Tensor()), tv3s::Error);          // weight 3-D
  CHECK_THROWS_AS(conv2d(x, random({4, 2, 3, 3}, 2), Tensor()), tv3s::Error);       // Cin
  CHECK_THROWS_AS(conv2d(x, w, random({3}, 3)), tv3s::Error);                       // bias size
  CHECK_THROWS_AS(conv2d(x, w, Tensor(), params(0, 1, 0, 0)), tv3s::Error);         // stride 0
  CHECK_THROWS_AS(conv2d(x, w, Tensor(), params(1, 1, -1, 0)), tv3s::Error);        // pad < 0
  CHECK_THROWS_AS(conv2d(random({1, 2, 2, 3}, 1), w, Tensor()), tv3s::Error);       // output < 1
  CHECK_THROWS_AS(conv2d(x, w.to(DType::f64), Tensor()), tv3s::Error);              // dtypes
  CHECK_NOTHROW(conv2d(x, w, Tensor()));                                            // valid base
  CHECK_THROWS_AS(im2col(x, 0, 3, {}), tv3s::Error);                                // kernel 0
  CHECK_THROWS_AS(im2col(Tensor::from_vector_i32({1, 2, 3, 4}, {1, 2, 2, 1}), 1, 1, {}),
                  tv3s::Error);                                                     // i32
}

// --- CUDA against CPU ---------------------------------------------------------------------

namespace {
void check_conv2d_backends(DType dtype, double tol) {
  uint64_t seed = 400;
  for (const ConvCase& c : mit_cases()) {
    CAPTURE(c.name);
    const Conv2dParams p = c.p;
    check_backends(
        [p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); },
        {random(c.x, ++seed, -1, 1, true), random(c.weight, ++seed, -1, 1, true),
         random({c.weight[0]}, ++seed, -1, 1, true)},
        tol, dtype);
    check_backends([p](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], Tensor(), p); },
                   {random(c.x, ++seed, -1, 1, true), random(c.weight, ++seed, -1, 1, true)}, tol,
                   dtype);
  }
}

void check_im2col_backends(DType dtype, double tol) {
  struct Case { Shape x; int64_t kh, kw; Conv2dParams p; };
  for (const Case& c : {Case{{2, 17, 23, 3}, 7, 7, params(4, 4, 3, 3)},
                        Case{{1, 13, 9, 6}, 3, 3, params(2, 2, 1, 1)},
                        Case{{1, 5, 7, 3}, 2, 3, params(1, 1, 2, 3)},
                        Case{{1, 19, 21, 4}, 8, 8, params(8, 8, 0, 0)},
                        Case{{1, 7, 9, 5}, 2, 2, params(3, 3, 0, 0)}}) {
    CAPTURE(c.x.str());
    const Case k = c;
    check_backends([k](const std::vector<Tensor>& in) { return im2col(in[0], k.kh, k.kw, k.p); },
                   {random(c.x, 500, -1, 1, true)}, tol, dtype);
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("conv2d: CUDA matches CPU in f32 (rel 1e-5)") {
  check_conv2d_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("conv2d: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 4e-2)") {
  check_conv2d_backends(DType::f16, 1e-2);
  check_conv2d_backends(DType::bf16, 4e-2);
}

TV3S_CUDA_TEST_CASE("im2col: CUDA matches CPU with col2im (f32 1e-6, f16 1e-3, bf16 8e-3)") {
  check_im2col_backends(DType::f32, 1e-6);
  check_im2col_backends(DType::f16, 1e-3);
  check_im2col_backends(DType::bf16, 8e-3);
}
