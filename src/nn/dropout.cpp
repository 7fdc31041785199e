#include "src/nn/dropout.h"

#include <cmath>

#include "tv3s/ops.h"

namespace tv3s::nn {

namespace {
// A mask of `shape` on x's device and dtype from host values.
Tensor mask_like(const Tensor& x, const std::vector<float>& values, const Shape& shape) {
  return Tensor::from_vector(values, shape, DType::f32, x.device()).to(x.dtype());
}
}  // namespace

std::vector<float> drop_path_factors(int64_t n, double p, Rng& rng) {
  const double keep = 1.0 - p;
  std::vector<float> f(static_cast<size_t>(n));
  for (float& v : f) v = float(std::floor(keep + rng.uniform()) / keep);
  return f;
}

Tensor dropout2d(const Tensor& x, double p, Rng& rng) {
  TV3S_CHECK(p >= 0 && p < 1, "dropout2d: rate ", p, " is not in [0, 1)");
  if (p == 0) return x;
  const int64_t N = x.size(0), C = x.size(-1);
  std::vector<float> mask(size_t(N * C));
  const float kept = float(1.0 / (1.0 - p));
  for (float& v : mask) v = rng.uniform() < p ? 0.f : kept;  // Bernoulli(1 − p) per channel
  std::vector<int64_t> dims(size_t(x.ndim()), 1);
  dims.front() = N, dims.back() = C;
  return mul(x, mask_like(x, mask, Shape(dims)));
}

Tensor drop_path(const Tensor& x, double p, Rng& rng) {
  TV3S_CHECK(p >= 0 && p < 1, "drop_path: rate ", p, " is not in [0, 1)");
  if (p == 0) return x;
  std::vector<int64_t> dims(size_t(x.ndim()), 1);
  dims.front() = x.size(0);
  return mul(x, mask_like(x, drop_path_factors(x.size(0), p, rng), Shape(dims)));
}

}  // namespace tv3s::nn
