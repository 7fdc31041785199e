// Tensor creation, metadata and host access. Conversions (to/cast/copy) live in
// src/ops/convert.cpp, views in src/ops/view.cpp, autograd in src/autograd/.
#include "tv3s/tensor.h"

#include <cstring>

#include "src/core/storage.h"
#include "tv3s/autograd.h"
#include "tv3s/ops/convert.h"
#include "tv3s/rng.h"

namespace tv3s {

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int i = 0; i < shape.ndim(); ++i)
    TV3S_CHECK(shape[i] >= 0, "Tensor::empty: invalid shape ", shape.str());
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = allocate_storage(device, size_t(shape.numel()) * dtype_size(dtype));
  return t;
}

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
  std::memcpy(host.raw(), values.data(), values.size() * sizeof(double));
  return cast(host, dtype).to(device);
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, DType dtype,
                           Device device) {
  TV3S_CHECK(int64_t(values.size()) == shape.numel(), "Tensor::from_vector: ", values.size(),
             " values for shape ", shape.str());
  Tensor host = empty(shape, DType::f32, Device::CPU);
  std::memcpy(host.raw(), values.data(), values.size() * sizeof(float));
  return cast(host, dtype).to(device);
}

Tensor Tensor::from_vector_i32(const std::vector<int32_t>& values, const Shape& shape,
                               Device device) {
  TV3S_CHECK(int64_t(values.size()) == shape.numel(), "Tensor::from_vector_i32: ", values.size(),
             " values for shape ", shape.str());
  Tensor host = empty(shape, DType::i32, Device::CPU);
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

int64_t Tensor::size(int axis) const { return shape_[shape_.axis(axis, "Tensor::size")]; }

std::string Tensor::desc() const {
  if (!defined()) return "undefined";
  return str(dtype_name(dtype_), shape_.str(), " ", device_name(device_));
}

void* Tensor::raw() const {
  TV3S_CHECK(defined(), "Tensor: access to an undefined tensor");
  return static_cast<char*>(storage_->ptr) + offset_ * int64_t(dtype_size(dtype_));
}

Tensor Tensor::alias(const Shape& shape, int64_t element_offset) const {
  TV3S_CHECK(defined(), "Tensor::alias: undefined tensor");
  const int64_t end = offset_ + element_offset + shape.numel();
  TV3S_CHECK(element_offset >= 0 && size_t(end) * dtype_size(dtype_) <= storage_->bytes,
             "Tensor::alias: view ", shape.str(), " at +", element_offset,
             " exceeds its storage");
  Tensor t = *this;
  t.meta_.reset();
  t.shape_ = shape;
  t.offset_ = offset_ + element_offset;
  return t;
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

// --- checks ------------------------------------------------------------------------

void check_defined(const char* op, const Tensor& t) {
  TV3S_CHECK(t.defined(), op, ": input tensor is undefined");
}

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  TV3S_CHECK(a.device() == b.device(), op, ": tensors on different devices: ", a.desc(), " and ",
             b.desc());
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  TV3S_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch: ", a.desc(), " and ", b.desc());
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  TV3S_CHECK(a.shape() == b.shape(), op, ": shape mismatch: ", a.desc(), " and ", b.desc());
}

void check_floating(const char* op, const Tensor& t) {
  TV3S_CHECK(is_floating(t.dtype()), op, ": needs a floating-point tensor, got ", t.desc());
}

void check_compute_dtype(const char* op, const Tensor& t) {
  check_defined(op, t);
  const DType d = t.dtype();
  if (t.device() == Device::CPU)
    TV3S_CHECK(d == DType::f32 || d == DType::f64, op,
               ": CPU arithmetic is f32 or f64 (cast f16/bf16 first), got ", t.desc());
  else
    TV3S_CHECK(d == DType::f32 || d == DType::f16 || d == DType::bf16, op,
               ": CUDA arithmetic is f32, f16 or bf16, got ", t.desc());
}

}  // namespace tv3s
