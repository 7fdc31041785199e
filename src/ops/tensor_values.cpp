// The Tensor methods that run ops (tensor.h): tensors filled with a value or with host
// values (fill_, cast and copy_ do the device work, so creation works on every device),
// random tensors from an Rng, host copies and clone. The data structure itself is
// src/core/tensor.cpp; a core file cannot call ops, so these live here, one layer up.
#include "tv3s/tensor.h"

#include <cstring>

#include "tv3s/ops/cast.h"
#include "tv3s/rng.h"

namespace tv3s {

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return full(shape, 0.0, dtype, device);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::from_vector_f64(const std::vector<double>& values, const Shape& shape, DType dtype,
                               Device device) {
  TV3S_CHECK(int64_t(values.size()) == shape.numel(), "Tensor::from_vector: ", values.size(),
             " values for shape ", shape.str());
  Tensor host = empty(shape, DType::f64, Device::CPU);
  if (!values.empty())  // an empty vector's data() may be null: memcpy must not see it
    std::memcpy(host.raw(), values.data(), values.size() * sizeof(double));
  return cast(host, dtype).to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype,
                           Device device) {
  TV3S_CHECK(int64_t(values.size()) == shape.numel(), "Tensor::from_vector: ", values.size(),
             " values for shape ", shape.str());
  Tensor host = empty(shape, DType::f32, Device::CPU);
  if (!values.empty())  // an empty vector's data() may be null: memcpy must not see it
    std::memcpy(host.raw(), values.data(), values.size() * sizeof(float));
  return cast(host, dtype).to(device);
}

Tensor Tensor::from_vector_i32(const std::vector<int32_t>& values, const Shape& shape,
                               Device device) {
  TV3S_CHECK(int64_t(values.size()) == shape.numel(), "Tensor::from_vector_i32: ", values.size(),
             " values for shape ", shape.str());
  Tensor host = empty(shape, DType::i32, Device::CPU);
  if (!values.empty())  // an empty vector's data() may be null: memcpy must not see it
    std::memcpy(host.raw(), values.data(), values.size() * sizeof(int32_t));
  return host.to(device);
}

Tensor Tensor::uniform(const Shape& shape, Rng& rng, double lo, double hi, DType dtype,
                       Device device) {
  std::vector<double> v(size_t(shape.numel()));
  for (auto& x : v) x = rng.uniform(lo, hi);
  return from_vector_f64(v, shape, dtype, device);
}

Tensor Tensor::normal(const Shape& shape, Rng& rng, double mean, double stddev, DType dtype,
                      Device device) {
  std::vector<double> v(size_t(shape.numel()));
  for (auto& x : v) x = mean + stddev * rng.normal();
  return from_vector_f64(v, shape, dtype, device);
}

std::vector<double> Tensor::to_vector_f64() const {
  const Tensor host = cast(detach().cpu(), DType::f64);
  const double* p = host.data<double>();
  return {p, p + host.numel()};
}

std::vector<float> Tensor::to_vector() const {
  const Tensor host = cast(detach().cpu(), DType::f32);
  const float* p = host.data<float>();
  return {p, p + host.numel()};
}

std::vector<int32_t> Tensor::to_vector_i32() const {
  const Tensor host = cast(detach().cpu(), DType::i32);
  const int32_t* p = host.data<int32_t>();
  return {p, p + host.numel()};
}

double Tensor::item() const {
  TV3S_CHECK(numel() == 1, "Tensor::item: tensor has ", numel(), " elements, not 1 (", desc(), ")");
  return to_vector_f64()[0];
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape_, dtype_, device_);
  copy_(out, *this);
  return out;
}

}  // namespace tv3s
