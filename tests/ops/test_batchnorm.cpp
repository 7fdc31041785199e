// batch_norm: hand-computed values (training and inference, the running-statistics
// update), PyTorch golden values (f64 and f32), normalisation properties with a large
// offset, f64 gradient checks in both modes, bad input, CUDA against CPU (outputs,
// gradients, running statistics, determinism). The batchnorm family:
// src/ops/batchnorm.cpp, cuda/batchnorm.cu.
#include <cmath>
#include <vector>

#include "tests/ops/resize_bn_golden.h"
#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

TEST_CASE("batch_norm: hand-computed values") {
  for (DType dtype : {DType::f32, DType::f64}) {
    CAPTURE(dtype_name(dtype));
    const double tol = dtype == DType::f32 ? 1e-6 : 1e-14;
    // Training, one channel x = [1, 2, 3, 4]: μ = 2.5, σ² = 1.25 (biased), eps = 0.
    // Running statistics from (0, 1), momentum 0.1: mean 0.25, var 0.9 + 0.1·(5/3).
    const Tensor x = Tensor::from_vector({1, 2, 3, 4}, {4, 1}, dtype);
    const Tensor running_mean = Tensor::zeros({1}, dtype), running_var = Tensor::ones({1}, dtype);
    check_close(batch_norm(x, Tensor(), Tensor(), running_mean, running_var, true, 0.1, 0.0),
                Tensor::from_vector_f64({-1.3416407864998738, -0.4472135954999579,
                                         0.4472135954999579, 1.3416407864998738},
                                        {4, 1}),
                tol, "training");
    check_close(running_mean, Tensor::from_vector_f64({0.25}, {1}), tol, "running mean");
    check_close(running_var, Tensor::from_vector_f64({0.9 + 0.1 * 5.0 / 3.0}, {1}), tol,
                "running var (unbiased)");
    // Inference with running (2, 4), γ = 2, β = 1, eps = 0: y = (x − 2)/2·2 + 1 = x − 1.
    // The running statistics stay as they are.
    const Tensor rm = Tensor::full({1}, 2, dtype), rv = Tensor::full({1}, 4, dtype);
    check_close(batch_norm(x, Tensor::full({1}, 2, dtype), Tensor::full({1}, 1, dtype), rm, rv,
                           false, 0.1, 0.0),
                Tensor::from_vector_f64({0, 1, 2, 3}, {4, 1}), tol, "inference");
    CHECK(rm.to_vector() == std::vector<float>{2});
    CHECK(rv.to_vector() == std::vector<float>{4});
    // Two channels, channels-last: channel 0 = [1, 2, 3] (μ 2, σ² 2/3); channel 1 is
    // constant, so x̂ = 0 and y = β (finite thanks to eps).
    const Tensor x2 = Tensor::from_vector({1, 10, 2, 10, 3, 10}, {3, 2}, dtype);
    const Tensor bias = Tensor::from_vector({0.5, -0.5}, {2}, dtype);
    const double s = 1 / std::sqrt(2.0 / 3.0 + 1e-5);
    check_close(batch_norm(x2, Tensor(), bias, Tensor(), Tensor(), true),
                Tensor::from_vector_f64({0.5 - s, -0.5, 0.5, -0.5, 0.5 + s, -0.5}, {3, 2}), tol,
                "constant channel");
  }
}

TEST_CASE("batch_norm: matches PyTorch F.batch_norm (golden; f64 1e-12, f32 1e-5)") {
  int checked = 0;
  for (const nlohmann::json& c : test::resize_bn_golden()["batch_norm"]) {
    const Shape shape(c["shape"].get<std::vector<int64_t>>());
    const bool training = c["training"], affine = c["affine"];
    const double momentum = c["momentum"], eps = c["eps"];
    INFO("batch_norm ", shape.str(), " training ", training, " affine ", affine);
    const int64_t C = shape[shape.ndim() - 1];
    for (DType dtype : {DType::f64, DType::f32}) {
      CAPTURE(dtype_name(dtype));
      const double tol = dtype == DType::f64 ? 1e-12 : 1e-5;
      Tensor x = test::pattern(shape, 2, -1, 3).to(dtype);
      Tensor weight = affine ? test::pattern({C}, 3, 0.5, 1.5).to(dtype) : Tensor();
      Tensor bias = affine ? test::pattern({C}, 4, -1, 1).to(dtype) : Tensor();
      const Tensor running_mean = test::pattern({C}, 5, -1, 1).to(dtype);
      const Tensor running_var = test::pattern({C}, 6, 0.5, 2.5).to(dtype);
      x.requires_grad_();
      if (affine) {
        weight.requires_grad_();
        bias.requires_grad_();
      }
      const Tensor y =
          batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
      test::check_stored(y, c["y"], tol, "forward");
      test::check_stored(running_mean, c["running_mean"], tol, "running_mean");
      test::check_stored(running_var, c["running_var"], tol, "running_var");
      sum_all(mul(y, test::pattern(y.shape(), 99, 0.5, 1.5).to(dtype))).backward();
      test::check_stored(x.grad(), c["dx"], tol, "dx");
      if (affine) {
        test::check_stored(weight.grad(), c["dweight"], tol, "dweight");
        test::check_stored(bias.grad(), c["dbias"], tol, "dbias");
      }
    }
    ++checked;
  }
  CHECK(checked == 4);
}

TEST_CASE("batch_norm: training output has zero mean and unit variance per channel") {
  // An offset of 1e4 on values of spread ~1: two-pass statistics keep the precision
  // that E[x²] − μ² would lose.
  const Tensor x = random({2, 5, 7, 3}, 41, -1, 1) + 1e4;
  const Tensor y =
      batch_norm(x, Tensor(), Tensor(), Tensor(), Tensor(), true, 0.1, 0.0).reshape({70, 3});
  check_close(mean(y, 0), Tensor::zeros({3}), 1e-5, "mean");
  check_close(mean(mul(y, y), 0), Tensor::ones({3}), 1e-5, "biased variance");
}

TEST_CASE("batch_norm: gradcheck in f64, training and inference") {
  auto train = [](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), true);
  };
  gradcheck(train, {random({2, 3, 4, 5}, 51, -2, 3, true, DType::f64),
                    random({5}, 52, 0.5, 1.5, true, DType::f64),
                    random({5}, 53, -1, 1, true, DType::f64)});
  gradcheck(
      [](const std::vector<Tensor>& in) {
        return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
      },
      {random({6, 2}, 54, -2, 3, true, DType::f64)});
  // Parameters only (frozen x), and weight without bias.
  gradcheck(train, {random({4, 3}, 55, -2, 3, false, DType::f64),
                    random({3}, 56, 0.5, 1.5, true, DType::f64),
                    random({3}, 57, -1, 1, true, DType::f64)});
  gradcheck(
      [](const std::vector<Tensor>& in) {
        return batch_norm(in[0], in[1], Tensor(), Tensor(), Tensor(), true);
      },
      {random({5, 4}, 58, -2, 3, true, DType::f64), random({4}, 59, 0.5, 1.5, true, DType::f64)});
  // Training with running statistics tracked (each call updates them; y does not use them).
  const Tensor rm = random({3}, 60, -1, 1, false, DType::f64);
  const Tensor rv = random({3}, 61, 0.5, 2, false, DType::f64);
  gradcheck(
      [&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, true); },
      {random({3, 2, 3}, 62, -2, 3, true, DType::f64), random({3}, 63, 0.5, 1.5, true, DType::f64),
       random({3}, 64, -1, 1, true, DType::f64)});
  // Inference.
  gradcheck(
      [&](const std::vector<Tensor>& in) { return batch_norm(in[0], in[1], in[2], rm, rv, false); },
      {random({2, 2, 3, 3}, 65, -2, 3, true, DType::f64),
       random({3}, 66, 0.5, 1.5, true, DType::f64), random({3}, 67, -1, 1, true, DType::f64)});
}

TEST_CASE("batch_norm: gradient of a parameter that needs none stays undefined") {
  const Tensor x = random({4, 3}, 71, -1, 1, true);
  const Tensor weight = random({3}, 72, 0.5, 1.5);  // frozen
  sum_all(batch_norm(x, weight, Tensor(), Tensor(), Tensor(), true)).backward();
  CHECK(x.grad().defined());
  CHECK_FALSE(weight.grad().defined());
}

TEST_CASE("batch_norm: bad input") {
  const Tensor x = random({4, 3}, 1);
  const Tensor c3 = random({3}, 2, 0.5, 1.5);
  const Tensor none;
  // γ of the wrong length, not [C], not f32 for f32 x
  CHECK_THROWS_AS(batch_norm(x, random({4}, 3), none, c3, c3, false), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(x, random({1, 3}, 3), none, c3, c3, false), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(x, c3.to(DType::f64), none, c3, c3, false), tv3s::Error);
  // one running statistic of two; inference without them; training on a single row
  CHECK_THROWS_AS(batch_norm(x, none, none, c3, none, true), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(x, none, none, none, none, false), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(random({1, 3}, 4), none, none, c3, c3, true), tv3s::Error);
  // momentum, eps, dtypes
  CHECK_THROWS_AS(batch_norm(x, none, none, c3, c3, true, 1.5), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(x, none, none, c3, c3, false, 0.1, -1.0), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(x.to(DType::f16), none, none, c3, c3, false), tv3s::Error);
  CHECK_THROWS_AS(batch_norm(Tensor::from_vector_i32({1, 2}, {1, 2}), none, none, none, none, true),
                  tv3s::Error);
  // A single row is fine for inference.
  CHECK(batch_norm(random({1, 3}, 5), none, none, c3, c3, false).shape() == Shape{1, 3});
}

// --- CUDA against CPU ---------------------------------------------------------------------
// γ, β and the running statistics are f32 on CUDA whatever x's dtype: check_backends casts
// every input to the tested dtype, so the op casts them back (a no-op in f32, a
// differentiable cast otherwise). C = 3 (idle lanes), 300 (several channel tiles), 64 with
// 1200 rows (many row chunks).

namespace {
Tensor batch_norm_f32_params(const std::vector<Tensor>& in, bool training, bool affine) {
  const Tensor weight = affine ? in[1].to(DType::f32) : Tensor();
  const Tensor bias = affine ? in[2].to(DType::f32) : Tensor();
  return batch_norm(in[0], weight, bias, in[3].to(DType::f32), in[4].to(DType::f32), training);
}

void check_batch_norm_backends(DType dtype, double tol) {
  for (const Shape& shape : {Shape{2, 5, 7, 3}, Shape{4, 300}, Shape{1, 30, 40, 64}}) {
    const int64_t C = shape[shape.ndim() - 1];
    for (bool training : {true, false}) {
      for (bool affine : {true, false}) {
        CAPTURE(shape.str());
        CAPTURE(training);
        CAPTURE(affine);
        check_backends(
            [=](const std::vector<Tensor>& in) {
              return batch_norm_f32_params(in, training, affine);
            },
            {random(shape, 81, -2, 3, true), random({C}, 82, 0.5, 1.5, affine),
             random({C}, 83, -1, 1, affine), random({C}, 84, -0.5, 1.5), random({C}, 85, 0.5, 2)},
            tol, dtype);
      }
    }
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("batch_norm: CUDA matches CPU in f32 (rel 1e-5)") {
  check_batch_norm_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("batch_norm: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 5e-2)") {
  check_batch_norm_backends(DType::f16, 1e-2);
  check_batch_norm_backends(DType::bf16, 5e-2);
}

TV3S_CUDA_TEST_CASE("batch_norm: CUDA updates the running statistics as the CPU does") {
  // f32 data at rel 1e-5; f16 data (statistics still f32) at rel 2e-3 (x rounded to 2⁻¹¹).
  for (DType dtype : {DType::f32, DType::f16}) {
    CAPTURE(dtype_name(dtype));
    const Tensor x = random({1, 30, 40, 64}, 91, -2, 3);
    const Tensor cpu_mean = random({64}, 92, -0.5, 1.5), cpu_var = random({64}, 93, 0.5, 2);
    const Tensor gpu_mean = cpu_mean.cuda(), gpu_var = cpu_var.cuda();
    batch_norm(x, Tensor(), Tensor(), cpu_mean, cpu_var, true, 0.3);
    batch_norm(x.to(dtype).cuda(), Tensor(), Tensor(), gpu_mean, gpu_var, true, 0.3);
    const double tol = dtype == DType::f32 ? 1e-5 : 2e-3;
    check_close(gpu_mean, cpu_mean, tol, "running_mean");
    check_close(gpu_var, cpu_var, tol, "running_var");
  }
}

TV3S_CUDA_TEST_CASE("batch_norm: CUDA gradients are bitwise deterministic") {
  const Tensor x = random({1, 30, 40, 64}, 95, -2, 3).cuda();
  const Tensor w = random({1, 30, 40, 64}, 96, 0.5, 1.5).cuda();
  std::vector<float> first_dx, first_dweight;
  for (int run = 0; run < 3; ++run) {
    Tensor xi = x.clone();
    Tensor weight = random({64}, 97, 0.5, 1.5).cuda();
    xi.requires_grad_();
    weight.requires_grad_();
    sum_all(mul(batch_norm(xi, weight, Tensor(), Tensor(), Tensor(), true), w)).backward();
    const std::vector<float> dx = xi.grad().to_vector(), dweight = weight.grad().to_vector();
    if (run == 0) {
      first_dx = dx;
      first_dweight = dweight;
    } else {
      CHECK(dx == first_dx);
      CHECK(dweight == first_dweight);
    }
  }
}
