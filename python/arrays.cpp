#include "python/arrays.h"

#include <cstring>

namespace tv3s::python {

namespace {

const char* dtype_name(nb::dlpack::dtype t) {
  using nb::dlpack::dtype_code;
  const auto code = dtype_code(t.code);
  if (t.lanes != 1) return "a vector dtype";
  switch (code) {
    case dtype_code::UInt:
      return t.bits == 8 ? "uint8" : t.bits == 16 ? "uint16" : t.bits == 32 ? "uint32" : "uint64";
    case dtype_code::Int:
      return t.bits == 8 ? "int8" : t.bits == 16 ? "int16" : t.bits == 32 ? "int32" : "int64";
    case dtype_code::Float:
      return t.bits == 16 ? "float16" : t.bits == 32 ? "float32" : "float64";
    case dtype_code::Bfloat:
      return "bfloat16";
    case dtype_code::Bool:
      return "bool";
    default:
      return "an unusual dtype";
  }
}

template <class Owner>
nb::capsule owning_capsule(Owner* owner) {
  return nb::capsule(owner, [](void* p) noexcept { delete static_cast<Owner*>(p); });
}

}  // namespace

AnyArray as_array(nb::handle value, const char* what, const char* expected) {
  AnyArray array;
  // No conversion: a float array must not turn into uint8 behind the caller's back.
  if (!nb::try_cast(value, array, /*convert=*/false)) {
    const std::string type = nb::type_name(value.type()).c_str();
    throw nb::value_error((std::string(what) + " must be " + expected + ", got " + type).c_str());
  }
  return array;
}

std::string describe(const AnyArray& array) {
  std::string s = std::string(dtype_name(array.dtype())) + " [";
  for (size_t i = 0; i < array.ndim(); ++i) s += (i ? ", " : "") + std::to_string(array.shape(i));
  return s + "]";
}

AnyArray uint8_array(nb::handle value, const char* what, const char* expected, size_t ndim) {
  AnyArray array = as_array(value, what, expected);
  if (array.dtype() != nb::dtype<uint8_t>() || array.ndim() != ndim)
    throw nb::value_error((std::string(what) + " must be " + expected + ", got " + describe(array)).c_str());
  return array;
}

std::vector<uint8_t> dense_copy(const AnyArray& array) {
  const size_t ndim = array.ndim();
  std::vector<uint8_t> out(array.size());
  if (out.empty()) return out;
  const auto* base = static_cast<const uint8_t*>(array.data());
  // Strides are in elements, and an element is one byte here.
  bool c_order = true;
  int64_t expected = 1;
  for (size_t i = ndim; i-- > 0;) {
    if (array.shape(i) != 1 && array.stride(i) != expected) c_order = false;
    expected *= int64_t(array.shape(i));
  }
  if (c_order) {
    std::memcpy(out.data(), base, out.size());
    return out;
  }
  // An odometer over every index but the last; the last dimension is a strided row.
  std::vector<size_t> index(ndim, 0);
  const size_t row = array.shape(ndim - 1);
  const int64_t step = array.stride(ndim - 1);
  for (size_t o = 0; o < out.size(); o += row) {
    int64_t offset = 0;
    for (size_t i = 0; i + 1 < ndim; ++i) offset += int64_t(index[i]) * array.stride(i);
    for (size_t x = 0; x < row; ++x) out[o + x] = base[offset + int64_t(x) * step];
    for (size_t i = ndim - 1; i-- > 0;) {
      if (++index[i] < array.shape(i)) break;
      index[i] = 0;
    }
  }
  return out;
}

nb::object numpy_u8(std::vector<uint8_t>&& values, std::initializer_list<size_t> shape) {
  auto* owner = new std::vector<uint8_t>(std::move(values));
  nb::capsule keep = owning_capsule(owner);
  return nb::ndarray<nb::numpy, uint8_t>(owner->data(), shape, keep).cast();
}

nb::object numpy_from_tensor(Tensor&& tensor) {
  TV3S_CHECK(tensor.device() == Device::CPU, "numpy_from_tensor: ", tensor.desc(), " is not on the CPU");
  std::vector<size_t> shape;
  for (int i = 0; i < tensor.ndim(); ++i) shape.push_back(size_t(tensor.shape()[i]));
  auto* owner = new Tensor(std::move(tensor));
  nb::capsule keep = owning_capsule(owner);
  if (owner->dtype() == DType::u8)
    return nb::ndarray<nb::numpy, uint8_t>(owner->data<uint8_t>(), shape.size(), shape.data(), keep).cast();
  if (owner->dtype() == DType::f32)
    return nb::ndarray<nb::numpy, float>(owner->data<float>(), shape.size(), shape.data(), keep).cast();
  fail(str("numpy_from_tensor: ", owner->desc(), ": only u8 and f32 tensors become arrays here"));
}

}  // namespace tv3s::python
