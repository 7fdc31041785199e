// cross_entropy: hand-computed values for every reduction, an independent long-double
// formula over [N, C, H, W], ±1000 logits, the all-ignored case, f64 gradient checks with
// ignored pixels, bad labels and shapes, CUDA against CPU.
#include <cmath>
#include <string>
#include <vector>

#include "tests/test_util.h"

using namespace tv3s;
using tv3s::test::check_backends;
using tv3s::test::check_close;
using tv3s::test::gradcheck;
using tv3s::test::random;

namespace {

constexpr Reduction kReductions[] = {Reduction::mean_valid, Reduction::mean_all, Reduction::sum,
                                     Reduction::none};

const char* name_of(Reduction r) {
  switch (r) {
    case Reduction::mean_valid: return "mean_valid";
    case Reduction::mean_all: return "mean_all";
    case Reduction::sum: return "sum";
    case Reduction::none: return "none";
  }
  return "?";
}

// Labels of `shape` in [0, classes), every `ignore_every`-th one 255.
Tensor make_labels(const Shape& shape, int classes, int ignore_every, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> values(size_t(shape.numel()));
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = i % size_t(ignore_every) == 1 ? 255 : int32_t(rng.next_u64() % uint64_t(classes));
  return Tensor::from_vector_i32(values, shape);
}

// The message of the tv3s::Error thrown by f ("" if none).
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const tv3s::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cross_entropy: hand-computed values, every reduction") {
  // Rows [1, 2, 3] have log Σ exp = 3.40760596444438; row 1 is ignored.
  const Tensor logits = Tensor::from_vector({1, 2, 3, 0, 0, 0, 1, 2, 3}, {3, 3});
  const Tensor labels = Tensor::from_vector_i32({2, 255, 0}, {3});
  const double l0 = 3.40760596444438 - 3, l2 = 3.40760596444438 - 1;
  check_close(cross_entropy(logits, labels, 255, Reduction::none),
              Tensor::from_vector_f64({l0, 0, l2}, {3}), 1e-6, "none");
  CHECK(cross_entropy(logits, labels, 255, Reduction::sum).item() == doctest::Approx(l0 + l2));
  CHECK(cross_entropy(logits, labels, 255, Reduction::mean_valid).item() ==
        doctest::Approx((l0 + l2) / 2));
  // mmseg 0.11: the ignored pixel counts in the denominator.
  CHECK(cross_entropy(logits, labels, 255, Reduction::mean_all).item() ==
        doctest::Approx((l0 + l2) / 3));
  CHECK(cross_entropy(logits, labels).shape() == Shape{});
  CHECK(cross_entropy(logits, labels).dtype() == DType::f32);
  // Another ignore index: 255 is then an error, 0 is skipped.
  const Tensor labels_minus = Tensor::from_vector_i32({2, -1, 0}, {3});
  CHECK(cross_entropy(logits, labels_minus, -1, Reduction::sum).item() == doctest::Approx(l0 + l2));
}

TEST_CASE("cross_entropy: [N, C, H, W] against a long-double formula, f32 and f64") {
  const int N = 2, C = 4, H = 3, W = 2;
  const Tensor logits = random({N, C, H, W}, 91, -3, 3, false, DType::f64);
  const Tensor labels = make_labels({N, H, W}, C, 4, 92);
  const std::vector<double> x = logits.to_vector_f64();
  const std::vector<int32_t> t = labels.to_vector_i32();
  std::vector<double> per_pixel(size_t(N * H * W), 0.0);
  long double sum = 0;
  int valid = 0;
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int w = 0; w < W; ++w) {
        const size_t pixel = size_t((n * H + h) * W + w);
        if (t[pixel] == 255) continue;
        auto logit = [&](int c) { return (long double)x[size_t(((n * C + c) * H + h) * W + w)]; };
        long double s = 0;
        for (int c = 0; c < C; ++c) s += std::exp(logit(c));  // small logits: no max needed
        per_pixel[pixel] = double(std::log(s) - logit(t[pixel]));
        sum += per_pixel[pixel];
        ++valid;
      }
  REQUIRE(valid > 0);
  REQUIRE(valid < N * H * W);
  const double want[] = {double(sum / valid), double(sum / (N * H * W)), double(sum)};
  for (const Tensor& lg : {logits, logits.to(DType::f32)}) {
    CAPTURE(lg.desc());
    const double tol = lg.dtype() == DType::f64 ? 1e-13 : 1e-6;
    for (int k = 0; k < 3; ++k) {
      CAPTURE(name_of(kReductions[k]));
      const Tensor loss = cross_entropy(lg, labels, 255, kReductions[k]);
      CHECK(loss.dtype() == lg.dtype());
      CHECK(std::fabs(loss.item() - want[k]) <= tol * std::fabs(want[k]));
    }
    check_close(cross_entropy(lg, labels, 255, Reduction::none),
                Tensor::from_vector_f64(per_pixel, labels.shape()), tol, "none");
  }
}

TEST_CASE("cross_entropy: large logits (±1000) stay finite") {
  const Tensor logits = Tensor::from_vector({1000, -1000, 0, -1000, 1000, 999}, {2, 3});
  // Row 0, label 1: 1000 − (−1000) = 2000. Row 1, label 2: log(1 + e^-1) ≈ 1.31326.
  const Tensor loss =
      cross_entropy(logits, Tensor::from_vector_i32({1, 2}, {2}), 255, Reduction::none);
  check_close(loss, Tensor::from_vector_f64({2000, 1 + std::log(1 + std::exp(-1.0))}, {2}), 1e-6,
              "per pixel");
  Tensor x = logits.clone();
  x.requires_grad_();
  cross_entropy(x, Tensor::from_vector_i32({1, 2}, {2})).backward();
  for (float g : x.grad().to_vector()) CHECK(std::isfinite(g));
}

TEST_CASE("cross_entropy: all pixels ignored gives 0 and a zero gradient, no NaN") {
  const Tensor labels = Tensor::full({2, 3}, 255, DType::i32);
  for (Reduction r : kReductions) {
    CAPTURE(name_of(r));
    Tensor logits = random({2, 4, 3}, 93, -2, 2, true);
    const Tensor loss = cross_entropy(logits, labels, 255, r);
    for (float v : loss.to_vector()) CHECK(v == 0.0f);
    sum_all(loss).backward();
    for (float g : logits.grad().to_vector()) CHECK(g == 0.0f);
  }
}

TEST_CASE("cross_entropy: gradcheck in f64, every reduction, with ignored pixels") {
  for (Reduction r : kReductions) {
    CAPTURE(name_of(r));
    auto f = [r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], 255, r); };
    gradcheck(f, {random({2, 4, 3}, 94, -2, 2, true, DType::f64), make_labels({2, 3}, 4, 3, 95)});
    gradcheck(f, {random({5, 3}, 96, -2, 2, true, DType::f64), make_labels({5}, 3, 2, 97)});
  }
}

TEST_CASE("cross_entropy: the gradient is (softmax − onehot) · scale") {
  Tensor logits = random({3, 4}, 98, -2, 2, true);
  const Tensor labels = Tensor::from_vector_i32({1, 255, 3}, {3});
  cross_entropy(logits, labels, 255, Reduction::mean_all).backward();
  const std::vector<float> p = softmax(logits.detach(), 1).to_vector();
  std::vector<float> want(12, 0.0f);
  for (int c = 0; c < 4; ++c) {
    want[size_t(c)] = (p[size_t(c)] - (c == 1)) / 3;       // mean_all: 1/3 for all 3 pixels
    want[size_t(8 + c)] = (p[size_t(8 + c)] - (c == 3)) / 3;  // row 1 is ignored: 0
  }
  check_close(logits.grad(), Tensor::from_vector(want, {3, 4}), 1e-6, "dlogits");
}

TEST_CASE("cross_entropy: bad labels and shapes") {
  const Tensor logits = random({2, 5, 3}, 99);
  // A label outside [0, C) that is not ignore_index: the error names it.
  const Tensor bad = Tensor::from_vector_i32({0, 1, 7, 255, 2, 3}, {2, 3});
  CHECK_THROWS_AS(cross_entropy(logits, bad), tv3s::Error);
  const std::string message = error_message([&] { cross_entropy(logits, bad); });
  INFO(message);
  CHECK(message.find("label 7") != std::string::npos);
  CHECK(message.find("[0, 5)") != std::string::npos);
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::from_vector_i32({0, -1, 1, 2, 3, 4}, {2, 3})),
                  tv3s::Error);
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::from_vector_i32({0, 5, 1, 2, 3, 4}, {2, 3})),
                  tv3s::Error);
  // Shapes: labels must be logits' shape without axis 1.
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::zeros({2, 4}, DType::i32)), tv3s::Error);
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::zeros({2, 5, 3}, DType::i32)), tv3s::Error);
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::zeros({3, 3}, DType::i32)), tv3s::Error);
  CHECK_THROWS_AS(cross_entropy(random({5}, 1), Tensor::zeros({5}, DType::i32)), tv3s::Error);
  // Dtypes: labels i32, logits floating.
  CHECK_THROWS_AS(cross_entropy(logits, Tensor::zeros({2, 3})), tv3s::Error);
  CHECK_THROWS_AS(cross_entropy(Tensor::zeros({2, 5, 3}, DType::i32), Tensor::zeros({2, 3}, DType::i32)),
                  tv3s::Error);
}

// --- CUDA against CPU ---------------------------------------------------------------------

namespace {
void check_cross_entropy_backends(DType dtype, double tol) {
  struct Case { Shape logits, labels; int classes; };
  for (const Case& c : {Case{{2, 5, 3, 4}, {2, 3, 4}, 5}, Case{{6, 7}, {6}, 7},
                        Case{{3, 19, 40, 30}, {3, 40, 30}, 19}}) {
    CAPTURE(c.logits.str());
    for (Reduction r : kReductions) {
      CAPTURE(name_of(r));
      check_backends([r](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], 255, r); },
                     {random(c.logits, 101, -4, 4, true), make_labels(c.labels, c.classes, 5, 102)},
                     tol, dtype);
    }
  }
}
}  // namespace

TV3S_CUDA_TEST_CASE("cross_entropy: CUDA matches CPU in f32 (rel 1e-5)") {
  check_cross_entropy_backends(DType::f32, 1e-5);
}

TV3S_CUDA_TEST_CASE("cross_entropy: CUDA matches CPU in f16 (rel 1e-2) and bf16 (rel 3e-2)") {
  check_cross_entropy_backends(DType::f16, 1e-2);
  check_cross_entropy_backends(DType::bf16, 3e-2);
}

TV3S_CUDA_TEST_CASE("cross_entropy: CUDA bad label, all ignored, and a deterministic loss") {
  const Tensor logits = random({2, 5, 3}, 103).cuda();
  const Tensor bad = Tensor::from_vector_i32({0, 1, 7, 255, 2, 3}, {2, 3}).cuda();
  const std::string message = error_message([&] { cross_entropy(logits, bad); });
  INFO(message);
  CHECK(message.find("label 7") != std::string::npos);
  // The stream is usable after the error.
  Tensor x = random({2, 5, 3}, 104, -2, 2).cuda();
  x.requires_grad_();
  const Tensor ignored = Tensor::full({2, 3}, 255, DType::i32).cuda();
  const Tensor loss = cross_entropy(x, ignored);
  CHECK(loss.item() == 0.0);
  loss.backward();
  for (float g : x.grad().to_vector()) CHECK(g == 0.0f);
  // A big image: the loss is the same bits every run.
  const Tensor big = random({2, 19, 120, 90}, 105, -4, 4).cuda();
  const Tensor labels = make_labels({2, 120, 90}, 19, 7, 106).cuda();
  const double first = cross_entropy(big, labels).item();
  for (int run = 0; run < 3; ++run) CHECK(cross_entropy(big, labels).item() == first);
}
