// resize_bilinear: hand-computed values, properties (a constant map stays constant, the
// gradient conserves mass, same size is a copy), PyTorch golden values (f64 and f32),
// f64 gradient checks, bad input, CUDA against CPU; resize_bilinear_argmax against the
// argmax of resize_bilinear (bit for bit) and hand-made labels. The resize family:
// src/ops/resize.cpp, cuda/resize.cu.
#include <cmath>
#include <cstdint>
#include <vector>

#include "tests/ops/resize_bn_golden.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

TEST_CASE("resize_bilinear: hand-computed values") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    const double tol = dtype == DType::f32 ? 1e-6 : 1e-14;
    // Up ×2 along W: scale 0.5, src = 0.5·o − 0.25 → clamped 0, 0.25, 0.75, 1.25 (i0 = i1 = 1).
    check_close(resize_bilinear(Tensor::from_vector({0, 4}, {1, 1, 2, 1}, dtype), 1, 4),
                Tensor::from_vector_f64({0, 1, 3, 4}, {1, 1, 4, 1}), tol, "1×2 → 1×4");
    // Down ×2 along H: src = 2·o + 0.5, the mean of each pair (no antialiasing).
    check_close(resize_bilinear(Tensor::from_vector({1, 2, 3, 5}, {1, 4, 1, 1}, dtype), 2, 1),
                Tensor::from_vector_f64({1.5, 4}, {1, 2, 1, 1}), tol, "4×1 → 2×1");
    // 2×2 → 3×3: src = 0 (clamped), 0.5, 1 (edge) on both axes: corners, edge midpoints,
    // and the centre = mean of all four. Channel 1 is channel 0 negated (channels independent).
    const Tensor x = Tensor::from_vector({0, -0, 2, -2, 4, -4, 8, -8}, {1, 2, 2, 2}, dtype);
    const std::vector<double> plane = {0, 1, 2, 2, 3.5, 5, 4, 6, 8};
    std::vector<double> want;
    for (double v : plane) {
      want.push_back(v);
      want.push_back(-v);
    }
    check_close(resize_bilinear(x, 3, 3), Tensor::from_vector_f64(want, {1, 3, 3, 2}), tol,
                "2×2 → 3×3");
  }
}

TEST_CASE("resize_bilinear: hand-computed gradient") {
  // y = [x0, 0.75·x0 + 0.25·x1, 0.25·x0 + 0.75·x1, x1] (1×2 → 1×4), W = [1, 2, 3, 4]:
  // dx0 = 1 + 0.75·2 + 0.25·3 = 3.25, dx1 = 0.25·2 + 0.75·3 + 4 = 6.75.
  const Tensor x = random({1, 1, 2, 1}, 1, -1, 1, true, DType::f64);
  sum_all(mul(resize_bilinear(x, 1, 4), Tensor::from_vector_f64({1, 2, 3, 4}, {1, 1, 4, 1})))
      .backward();
  check_close(x.grad(), Tensor::from_vector_f64({3.25, 6.75}, {1, 1, 2, 1}), 1e-15);
}

TEST_CASE("resize_bilinear: a constant map stays constant; the gradient conserves mass") {
  // Per axis the weights of an output sum to 1 (a constant is reproduced), and every
  // output gives all of its gradient to its inputs: Σ dx = Σ dy.
  struct Case {
    int64_t h, w, out_h, out_w;
  };
  for (const Case& c : {Case{3, 5, 7, 4}, Case{17, 26, 67, 101}, Case{120, 214, 60, 120},
                        Case{9, 9, 2, 2}, Case{1, 1, 3, 2}, Case{5, 3, 5, 8}}) {
    CAPTURE(c.h);
    CAPTURE(c.w);
    CAPTURE(c.out_h);
    CAPTURE(c.out_w);
    Tensor x = Tensor::full({2, c.h, c.w, 3}, 0.75);
    x.requires_grad_();
    const Tensor y = resize_bilinear(x, c.out_h, c.out_w);
    check_close(y, Tensor::full({2, c.out_h, c.out_w, 3}, 0.75), 1e-6, "constant");
    sum_all(y).backward();
    check_close(sum(sum(sum(x.grad(), 0), 0), 0), Tensor::full({3}, 2.0 * c.out_h * c.out_w), 1e-6,
                "Σ dx per channel");
  }
}

TEST_CASE("resize_bilinear: the same size is a copy, and so is its gradient") {
  const Tensor x = random({2, 4, 5, 3}, 2, -1, 1, true);
  const Tensor y = resize_bilinear(x, 4, 5);
  CHECK(y.to_vector() == x.to_vector());
  CHECK_FALSE(y.shares_storage(x));
  const Tensor w = random({2, 4, 5, 3}, 3);
  sum_all(mul(y, w)).backward();
  CHECK(x.grad().to_vector() == w.to_vector());
}

TEST_CASE("resize_bilinear: matches PyTorch F.interpolate (golden; f64 1e-12, f32 1e-5 / 2.5e-7)") {
  // f64 against PyTorch f64: any difference is semantics. f32 against PyTorch f64 differs
  // by the f32 rounding of the source coordinates (up to 3e-6 here); against PyTorch's
  // own f32 output (coordinates in float, rounded as ours) only the blend's rounding may
  // differ (measured: bit-identical, GCC 12 against PyTorch 2.15).
  int checked = 0;
  for (const nlohmann::json& c : test::resize_bn_golden()["resize"]) {
    const Shape in_shape(c["in"].get<std::vector<int64_t>>());
    const int64_t out_h = c["size"][0], out_w = c["size"][1];
    INFO("resize ", in_shape.str(), " to ", out_h, "×", out_w);
    Tensor x = test::pattern(in_shape, 1, -1, 1);
    x.requires_grad_();
    const Tensor y = resize_bilinear(x, out_h, out_w);
    test::check_stored(y, c["y"], 1e-12, "f64 forward");
    const Tensor w = test::pattern(y.shape(), 99, 0.5, 1.5);
    sum_all(mul(y, w)).backward();
    test::check_stored(x.grad(), c["dx"], 1e-12, "f64 gradient");

    Tensor x32 = x.detach().to(DType::f32);
    x32.requires_grad_();
    const Tensor y32 = resize_bilinear(x32, out_h, out_w);
    test::check_stored(y32, c["y"], 1e-5, "f32 forward against PyTorch f64");
    if (c.contains("y_f32"))
      test::check_stored(y32, c["y_f32"], 2.5e-7, "f32 forward against PyTorch f32");
    sum_all(mul(y32, w.to(DType::f32))).backward();
    test::check_stored(x32.grad(), c["dx"], 1e-5, "f32 gradient");
    ++checked;
  }
  CHECK(checked == 7);
}

TEST_CASE("resize_bilinear: gradcheck in f64") {
  struct Case {
    Shape in;
    int64_t out_h, out_w;
  };
  for (const Case& c :
       {Case{{2, 3, 5, 3}, 7, 4}, Case{{1, 5, 5, 2}, 3, 3}, Case{{1, 4, 6, 2}, 4, 9},
        Case{{1, 1, 1, 3}, 2, 3}, Case{{1, 9, 9, 1}, 2, 2}, Case{{1, 6, 7, 2}, 13, 3}}) {
    CAPTURE(c.in.str());
    CAPTURE(c.out_h);
    CAPTURE(c.out_w);
    const int64_t out_h = c.out_h, out_w = c.out_w;
    gradcheck([=](const std::vector<Tensor>& in) { return resize_bilinear(in[0], out_h, out_w); },
              {random(c.in, 11, -2, 2, true, DType::f64)});
  }
}

TEST_CASE("resize_bilinear: bad input") {
  const Tensor x = random({1, 4, 4, 2}, 1);
  CHECK_THROWS_AS(resize_bilinear(random({4, 4, 2}, 1), 2, 2), tv3s::Error);  // not [N, H, W, C]
  CHECK_THROWS_AS(resize_bilinear(x, 0, 2), tv3s::Error);
  CHECK_THROWS_AS(resize_bilinear(x, 2, -1), tv3s::Error);
  CHECK_THROWS_AS(resize_bilinear(Tensor::zeros({1, 0, 4, 2}), 2, 2), tv3s::Error);  // empty H
  // no f16 arithmetic on the CPU
  CHECK_THROWS_AS(resize_bilinear(x.to(DType::f16), 2, 2), tv3s::Error);
  CHECK_THROWS_AS(resize_bilinear(Tensor::from_vector_i32({1, 2, 3, 4}, {1, 2, 2, 1}), 3, 3),
                  tv3s::Error);
  CHECK_THROWS_AS(resize_bilinear(x, int64_t(1) << 24, 2), tv3s::Error);  // side beyond 2²³
  // Empty batch or channels: an empty result, no error.
  CHECK(resize_bilinear(Tensor::zeros({0, 3, 3, 2}), 5, 4).shape() == Shape{0, 5, 4, 2});
  CHECK(resize_bilinear(Tensor::zeros({1, 3, 3, 0}), 5, 4).shape() == Shape{1, 5, 4, 0});
}

// --- resize_bilinear_argmax ----------------------------------------------------------------

TEST_CASE("resize_bilinear_argmax: hand-made labels, ties to the first, NaN never wins") {
  // 1×2 → 1×4 along W, two channels: c0 = 0, 4 → 0, 1, 3, 4; c1 = 2 everywhere. Labels
  // 1, 1, 0, 0; a tie (c0 = c1 = 2 at src 0.5) would pick channel 0.
  const Tensor x = Tensor::from_vector({0, 2, 4, 2}, {1, 1, 2, 2});
  CHECK(resize_bilinear_argmax(x, 1, 4).to_vector_i32() == std::vector<int32_t>{1, 1, 0, 0});
  CHECK(resize_bilinear_argmax(x, 1, 3).to_vector_i32() == std::vector<int32_t>{1, 0, 0});  // tie at the middle
  const Tensor nan = Tensor::from_vector({NAN, 1, NAN, 1}, {1, 1, 2, 2});
  CHECK(resize_bilinear_argmax(nan, 1, 3).to_vector_i32() == std::vector<int32_t>{0, 0, 0});  // first is NaN
  const Tensor later_nan = Tensor::from_vector({1, NAN, 1, NAN}, {1, 1, 2, 2});
  CHECK(resize_bilinear_argmax(later_nan, 1, 3).to_vector_i32() == std::vector<int32_t>{0, 0, 0});
  CHECK(resize_bilinear_argmax(x, 1, 4).shape() == Shape{1, 1, 4});
}

TEST_CASE("resize_bilinear_argmax: equals argmax(resize_bilinear) bit for bit (f32, f64)") {
  struct Case {
    Shape in;
    int64_t out_h, out_w;
  };
  for (DType dtype : {DType::f32, DType::f64})
    for (const Case& c : {Case{{2, 3, 5, 3}, 7, 4}, Case{{1, 17, 26, 19}, 67, 101},
                          Case{{1, 12, 21, 5}, 6, 20}, Case{{1, 4, 6, 8}, 4, 9},
                          Case{{1, 4, 6, 7}, 4, 6}, Case{{1, 1, 1, 4}, 3, 2},
                          Case{{1, 80, 120, 124}, 320, 480}}) {
      CAPTURE(c.in.str());
      // Values on a coarse grid (multiples of 1/4 in [−2, 2]) make exact ties common.
      std::vector<float> grid(size_t(c.in.numel()));
      uint32_t state = 41;
      for (float& v : grid) v = float(int((state = state * 1664525u + 1013904223u) >> 28) - 8) * 0.25f;
      const Tensor x = Tensor::from_vector(grid, c.in).to(dtype);
      const std::vector<int32_t> want = argmax(resize_bilinear(x, c.out_h, c.out_w), -1).to_vector_i32();
      CHECK(resize_bilinear_argmax(x, c.out_h, c.out_w).to_vector_i32() == want);
      const Tensor y = random(c.in, 42, -1, 1).to(dtype);
      CHECK(resize_bilinear_argmax(y, c.out_h, c.out_w).to_vector_i32() ==
            argmax(resize_bilinear(y, c.out_h, c.out_w), -1).to_vector_i32());
    }
}

TEST_CASE("resize_bilinear_argmax: bad input") {
  const Tensor x = random({1, 4, 4, 2}, 1);
  CHECK_THROWS_WITH(resize_bilinear_argmax(random({4, 4, 2}, 1), 2, 2),
                    doctest::Contains("resize_bilinear_argmax: needs x [N, H, W, C]"));
  CHECK_THROWS_AS(resize_bilinear_argmax(x, 0, 2), tv3s::Error);
  CHECK_THROWS_AS(resize_bilinear_argmax(x.to(DType::f16), 2, 2), tv3s::Error);  // CPU: no f16
  CHECK_THROWS_AS(resize_bilinear_argmax(Tensor::zeros({1, 3, 3, 0}), 5, 4), tv3s::Error);
  CHECK(resize_bilinear_argmax(Tensor::zeros({0, 3, 3, 2}), 5, 4).shape() == Shape{0, 5, 4});
}

TV3S_CUDA_TEST_CASE("resize_bilinear_argmax: CUDA equals the CUDA argmax of the resize (f32, f16, bf16)") {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16})
    for (const Shape& in : {Shape{2, 3, 5, 3}, Shape{1, 17, 26, 19}, Shape{1, 80, 120, 124}}) {
      CAPTURE(dtype_name(dtype));
      CAPTURE(in.str());
      const Tensor x = random(in, 43, -1, 1).to(dtype).cuda();
      const int64_t out_h = in[1] * 4 - 1, out_w = in[2] * 4 + 1;
      const std::vector<int32_t> fused = resize_bilinear_argmax(x, out_h, out_w).cpu().to_vector_i32();
      CHECK(fused == argmax(resize_bilinear(x, out_h, out_w), -1).cpu().to_vector_i32());
      if (dtype == DType::f32) {  // against the CPU: equal but for near-ties (the resize's 1e-5)
        const std::vector<int32_t> cpu = resize_bilinear_argmax(x.cpu(), out_h, out_w).to_vector_i32();
        size_t same = 0;
        for (size_t i = 0; i < cpu.size(); ++i) same += cpu[i] == fused[i];
        CHECK(double(same) >= 0.9999 * double(cpu.size()));
      }
    }
}

// --- CUDA against CPU ---------------------------------------------------------------------
// Up, down, odd and non-uniform factors, an axis of unchanged size, the same size, a
// single pixel, channel counts that do not fill a warp, and a model-sized map (the
// fused feature 120×214 → 60×120, C = 16 for speed).

namespace {
void check_resize_backends(DType dtype, double tol) {
  struct Case {
    Shape in;
    int64_t out_h, out_w;
  };
  for (const Case& c :
       {Case{{2, 3, 5, 3}, 7, 4}, Case{{1, 17, 26, 2}, 67, 101}, Case{{1, 12, 21, 5}, 6, 20},
        Case{{1, 4, 6, 8}, 4, 9}, Case{{1, 4, 6, 2}, 4, 6}, Case{{1, 1, 1, 4}, 3, 2},
        Case{{2, 9, 9, 33}, 2, 2}, Case{{1, 120, 214, 16}, 60, 120},
        Case{{1, 30, 54, 40}, 120, 214}}) {
    CAPTURE(c.in.str());
    CAPTURE(c.out_h);
    CAPTURE(c.out_w);
    const int64_t out_h = c.out_h, out_w = c.out_w;
    check_backends(
        [=](const std::vector<Tensor>& in) { return resize_bilinear(in[0], out_h, out_w); },
        {random(c.in, 21, -1, 1, true)}, tol, dtype);
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("resize_bilinear: CUDA matches CPU in f32 (rel 1e-5)") {
  check_resize_backends(DType::f32, 1e-5);
}

// Inputs in [−1, 1) and weights in [0.5, 1.5) rounded to f16 (2⁻¹¹) / bf16 (2⁻⁸), plus the
// rounding of the result: a convex blend, so ≲ 2 roundings relative to max |ref|.
TV3S_CUDA_TEST_CASE("resize_bilinear: CUDA matches CPU in f16 (rel 3e-3) and bf16 (rel 2e-2)") {
  check_resize_backends(DType::f16, 3e-3);
  check_resize_backends(DType::bf16, 2e-2);
}

TV3S_CUDA_TEST_CASE("resize_bilinear: CUDA backward is bitwise deterministic") {
  const Tensor w = random({1, 67, 101, 8}, 31, 0.5, 1.5).cuda();
  std::vector<float> first;
  for (int run = 0; run < 3; ++run) {
    Tensor x = random({1, 17, 26, 8}, 32).cuda();
    x.requires_grad_();
    sum_all(mul(resize_bilinear(x, 67, 101), w)).backward();
    const std::vector<float> g = x.grad().to_vector();
    if (run == 0)
      first = g;
    else
      CHECK(g == first);
  }
}
