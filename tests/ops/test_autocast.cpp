// Autocast (tv3s/autocast.h): inside a bf16/f16 scope, linear, matmul and conv2d of f32
// tensors compute on 16-bit-rounded operands and return the rounded product as f32.
// The independent value: operands rounded by bit manipulation (bf16) or the compiler's
// _Float16 conversion (f16), products summed in f64, the result rounded the same way.
// Tolerance: the CPU sums in f32, so an element may land one 16-bit ulp from the f64
// reference when the f32 sum falls next to a rounding boundary; every element must be
// within 1 ulp and exactly representable in the 16-bit type.
#include <cmath>
#include <cstring>

#include "tests/test_util.h"
#include "tv3s/autocast.h"

using namespace tv3s;

namespace {

float round_bf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest, ties to even
  bits &= 0xffff0000u;
  std::memcpy(&x, &bits, 4);
  return x;
}
// The compiler's own half type, independent of the library's conversion: _Float16 (GCC
// 12 has it in C++ on x86 only), ARM's __fp16 on aarch64 (IEEE half, round to nearest).
#if defined(__aarch64__)
using CompilerHalf = __fp16;
#else
using CompilerHalf = _Float16;
#endif
float round_f16(float x) { return float(CompilerHalf(x)); }
float round_to(DType d, float x) { return d == DType::bf16 ? round_bf16(x) : round_f16(x); }

// The 16-bit type's spacing at |x| (its ulp), for the tolerance.
double ulp_of(DType d, double x) {
  const int mantissa_bits = d == DType::bf16 ? 7 : 10;
  const double m = std::max(std::fabs(x), d == DType::bf16 ? 1e-30 : std::ldexp(1.0, -14));
  return std::ldexp(1.0, std::ilogb(m) - mantissa_bits);
}

std::vector<float> rounded(const Tensor& t, DType d) {
  std::vector<float> v = t.to_vector();
  for (float& x : v) x = round_to(d, x);
  return v;
}

// got is f32, every element representable in d and within one ulp of the f64 reference.
void check_rounded_product(const Tensor& got, const std::vector<double>& ref, DType d) {
  REQUIRE(got.dtype() == DType::f32);
  const std::vector<float> g = got.to_vector();
  REQUIRE(g.size() == ref.size());
  int64_t not_representable = 0, off = 0, exact = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    if (round_to(d, g[i]) != g[i]) ++not_representable;
    const float want = round_to(d, float(ref[i]));
    if (g[i] == want) ++exact;
    else if (std::fabs(double(g[i]) - double(want)) > ulp_of(d, ref[i]) * 1.0001) ++off;
  }
  CHECK(not_representable == 0);
  CHECK(off == 0);
  CHECK(exact >= int64_t(g.size() * 9 / 10));  // one-ulp differences are the exception
}

}  // namespace

TEST_CASE("autocast: linear and matmul in a bf16/f16 scope round operands and product (CPU emulation)") {
  for (DType d : {DType::bf16, DType::f16}) {
    INFO(dtype_name(d));
    const int64_t R = 37, I = 53, O = 29;
    const Tensor x = test::random(Shape{R, I}, 1, -2, 2), w = test::random(Shape{O, I}, 2), b = test::random(Shape{O}, 3);
    const std::vector<float> xr = rounded(x, d), wr = rounded(w, d), br = rounded(b, d);
    std::vector<double> ref(size_t(R * O));
    for (int64_t r = 0; r < R; ++r)
      for (int64_t o = 0; o < O; ++o) {
        double s = br[size_t(o)];
        for (int64_t i = 0; i < I; ++i) s += double(xr[size_t(r * I + i)]) * double(wr[size_t(o * I + i)]);
        ref[size_t(r * O + o)] = s;
      }
    std::vector<double> ref_mm(size_t(R * O));  // x·wᵀ, no bias
    for (int64_t r = 0; r < R; ++r)
      for (int64_t o = 0; o < O; ++o) {
        double s = 0;
        for (int64_t i = 0; i < I; ++i) s += double(xr[size_t(r * I + i)]) * double(wr[size_t(o * I + i)]);
        ref_mm[size_t(r * O + o)] = s;
      }
    const AutocastScope scope(d);
    CHECK(autocast_dtype() == d);
    check_rounded_product(linear(x, w, b), ref, d);
    check_rounded_product(matmul(x, w, false, true), ref_mm, d);
  }
  CHECK(autocast_dtype() == DType::f32);
}

TEST_CASE("autocast: conv2d in a bf16 scope rounds operands and product") {
  const DType d = DType::bf16;
  const int64_t N = 2, H = 9, W = 7, C = 5, Co = 6, k = 3;
  const Tensor x = test::random(Shape{N, H, W, C}, 4), w = test::random(Shape{Co, C, k, k}, 5),
               b = test::random(Shape{Co}, 6);
  const std::vector<float> xr = rounded(x, d), wr = rounded(w, d), br = rounded(b, d);
  Conv2dParams p;
  p.stride_h = p.stride_w = 2, p.pad_h = p.pad_w = 1;
  const int64_t Ho = (H + 2 - k) / 2 + 1, Wo = (W + 2 - k) / 2 + 1;
  std::vector<double> ref(size_t(N * Ho * Wo * Co));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oy = 0; oy < Ho; ++oy)
      for (int64_t ox = 0; ox < Wo; ++ox)
        for (int64_t o = 0; o < Co; ++o) {
          double s = br[size_t(o)];
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              for (int64_t c = 0; c < C; ++c)
                s += double(xr[size_t(((n * H + iy) * W + ix) * C + c)]) *
                     double(wr[size_t(((o * C + c) * k + ky) * k + kx)]);
            }
          ref[size_t(((n * Ho + oy) * Wo + ox) * Co + o)] = s;
        }
  const AutocastScope scope(d);
  check_rounded_product(conv2d(x, w, b, p), ref, d);
}

TEST_CASE("autocast: scopes nest, f32 turns it off, other dtypes and ops are untouched") {
  const Tensor x = test::random(Shape{8, 16}, 7), w = test::random(Shape{4, 16}, 8);
  const std::vector<float> plain = linear(x, w).to_vector();
  {
    const AutocastScope bf16(DType::bf16);
    CHECK(linear(x, w).to_vector() != plain);
    {
      const AutocastScope off(DType::f32);
      CHECK(linear(x, w).to_vector() == plain);  // bit for bit
    }
    CHECK(autocast_dtype() == DType::bf16);
    // f64 is never autocast (gradient checks run inside scopes unchanged).
    const Tensor x64 = x.to(DType::f64), w64 = w.to(DType::f64);
    CHECK(linear(x64, w64).dtype() == DType::f64);
    CHECK(test::compare(linear(x64, w64), Tensor::from_vector(plain, Shape{8, 4})).rel < 1e-6);
    // Elementwise ops stay f32: no rounding.
    const Tensor y = x * 3.0;
    CHECK(y.to_vector()[0] == float(x.to_vector()[0] * 3.0));
  }
  CHECK(autocast_dtype() == DType::f32);
  CHECK_THROWS_WITH_AS(AutocastScope(DType::i32), doctest::Contains("bf16 or f16"), Error);
}

TEST_CASE("autocast: gradients come back rounded to the 16-bit type into f32 leaves") {
  const Tensor x = test::random(Shape{12, 24}, 9, -1, 1, true), w = test::random(Shape{10, 24}, 10, -1, 1, true),
               b = test::random(Shape{10}, 11, -1, 1, true);
  const Tensor g = test::random(Shape{12, 10}, 12);
  Tensor y;
  {
    const AutocastScope scope(DType::bf16);
    y = linear(x, w, b);
  }
  autograd::backward(sum_all(y * g));
  // f32 reference gradients of the same loss without autocast.
  const Tensor xf = x.detach().clone(), wf = w.detach().clone();
  const Tensor ref_dx = matmul(g, wf), ref_dw = matmul(g, xf, true, false);
  for (const auto& [got, ref] : {std::pair{x.grad(), ref_dx}, std::pair{w.grad(), ref_dw}}) {
    REQUIRE(got.dtype() == DType::f32);
    for (float v : got.to_vector()) CHECK(round_bf16(v) == v);
    CHECK(test::compare(got, ref).rel < 2e-2);  // bf16 keeps 8 significant bits
  }
  for (float v : b.grad().to_vector()) CHECK(round_bf16(v) == v);
}

TEST_CASE("autocast: f16 gradients underflow unless the loss is scaled (why fp16 needs a loss scale)") {
  // d loss / d w = Σ g·x over 4 rows with g = 1e-7 (1.2e-7 in f16) and x ≤ 0.02: under
  // 1e-8, less than half of f16's smallest subnormal (6e-8), so every element rounds to 0.
  // Scaled by 2^16 they are well inside f16's range.
  const Tensor x = test::random(Shape{4, 8}, 13, 0.005, 0.02);
  auto weight_grad = [&](double loss_scale) {
    const Tensor w = test::random(Shape{3, 8}, 14, -1, 1, true);
    Tensor y;
    {
      const AutocastScope scope(DType::f16);
      y = linear(x, w);
    }
    autograd::backward(sum_all(y) * (1e-7 * loss_scale));
    return w.grad().to_vector();
  };
  int64_t zero_unscaled = 0, zero_scaled = 0;
  for (float v : weight_grad(1)) zero_unscaled += v == 0;
  for (float v : weight_grad(65536)) zero_scaled += v == 0;
  CHECK(zero_unscaled == 24);
  CHECK(zero_scaled == 0);
}

TV3S_CUDA_TEST_CASE("autocast: CUDA bf16/f16 products agree with the CPU emulation") {
  for (DType d : {DType::bf16, DType::f16}) {
    INFO(dtype_name(d));
    const Tensor x = test::random(Shape{64, 96}, 15, -1, 1, true), w = test::random(Shape{48, 96}, 16, -1, 1, true),
                 b = test::random(Shape{48}, 17, -1, 1, true);
    Tensor xc = x.detach().to(Device::CUDA), wc = w.detach().to(Device::CUDA), bc = b.detach().to(Device::CUDA);
    xc.requires_grad_(), wc.requires_grad_(), bc.requires_grad_();
    Tensor y_cpu, y_cuda;
    {
      const AutocastScope scope(d);
      y_cpu = linear(x, w, b);
      y_cuda = linear(xc, wc, bc);
    }
    REQUIRE(y_cuda.dtype() == DType::f32);
    REQUIRE(y_cuda.is_cuda());
    test::check_close(y_cuda, y_cpu, 1e-2, "output");  // one 16-bit ulp where f32 sums differ
    const Tensor g = test::random(Shape{64, 48}, 18);
    autograd::backward(sum_all(y_cpu * g));
    autograd::backward(sum_all(y_cuda * g.to(Device::CUDA)));
    test::check_close(xc.grad(), x.grad(), 1e-2, "dx");
    test::check_close(wc.grad(), w.grad(), 1e-2, "dw");
    test::check_close(bc.grad(), b.grad(), 1e-2, "db");
  }
}
