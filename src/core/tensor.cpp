// The Tensor itself: allocation, metadata, raw access and argument checks. What needs an
// op to run lives with the ops: filled and host-initialised tensors, host copies and clone
// in src/ops/tensor_values.cpp; conversions (to/cast/copy) in src/ops/cast.cpp; views in
// src/ops/view.cpp; the autograd side in src/autograd/.
#include "tv3s/tensor.h"

#include <cstring>

#include "src/core/storage.h"

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
