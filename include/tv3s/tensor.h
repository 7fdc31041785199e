// Tensor: a contiguous, row-major block of one dtype on one device.
//
// Views are made only where they are free: reshape of a tensor (same storage, new
// shape) and a slice of the outermost dimension (same storage, an element offset).
// Everything else that changes the layout (permute, inner slices, ...) returns a new
// contiguous tensor, so every kernel in tv3s may assume dense row-major input.
//
// A Tensor is a cheap handle (shared storage + shared autograd record); copying it
// does not copy data. Use clone() for a deep copy.
#pragma once
#include <memory>
#include <vector>

#include "tv3s/dtype.h"
#include "tv3s/error.h"
#include "tv3s/shape.h"

namespace tv3s {

struct Storage;
struct AutogradMeta;
class Rng;

class Tensor {
 public:
  Tensor() = default;  // undefined tensor (defined() == false)

  // --- creation -------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::CPU);
  // Host values converted to `dtype` and placed on `device`. values.size() must equal numel.
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor from_vector_f64(const std::vector<double>& values, const Shape& shape,
                                DType dtype = DType::f64, Device device = Device::CPU);
  static Tensor from_vector_i32(const std::vector<int32_t>& values, const Shape& shape,
                                Device device = Device::CPU);
  // Uniform in [lo, hi) / normal(mean, std), drawn on the host from `rng` (so the
  // values do not depend on the device), then converted and transferred.
  static Tensor uniform(const Shape& shape, Rng& rng, double lo = -1, double hi = 1,
                        DType dtype = DType::f32, Device device = Device::CPU);
  static Tensor normal(const Shape& shape, Rng& rng, double mean = 0, double stddev = 1,
                       DType dtype = DType::f32, Device device = Device::CPU);

  // --- metadata ---------------------------------------------------------------
  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return shape_.ndim(); }
  int64_t size(int axis) const;  // negative axes count from the end
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  bool is_cuda() const { return device_ == Device::CUDA; }
  // "f32[2, 3] cpu" — used in error messages.
  std::string desc() const;

  // --- data -------------------------------------------------------------------
  void* raw() const;  // first element (storage + offset)
  template <class T>
  T* data() const;  // checked: T must match dtype()

  // Host copy of every element converted to float/double/int (any device, any dtype).
  std::vector<float> to_vector() const;
  std::vector<double> to_vector_f64() const;
  std::vector<int32_t> to_vector_i32() const;
  double item() const;  // the single element of a one-element tensor

  // --- conversion (new tensors; recorded by autograd for float dtypes) ----------
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::CPU); }
  Tensor cuda() const { return to(Device::CUDA); }
  Tensor clone() const;

  // --- views (share storage) ----------------------------------------------------
  Tensor reshape(const Shape& shape) const;            // one dim may be -1
  Tensor slice_outer(int64_t begin, int64_t end) const; // rows [begin, end) of dim 0

  // --- autograd -------------------------------------------------------------------
  Tensor& requires_grad_(bool on = true);
  bool requires_grad() const;
  Tensor grad() const;                    // undefined until a backward pass reaches it
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;                 // drops the accumulated gradient
  void backward() const;                  // from a one-element tensor
  Tensor detach() const;                  // same storage, no autograd history
  // Internal: the autograd record of this handle (null for plain tensors).
  const std::shared_ptr<AutogradMeta>& autograd_meta() const { return meta_; }
  void set_autograd_meta(std::shared_ptr<AutogradMeta> meta) { meta_ = std::move(meta); }

  // Same storage, different shape/offset (no autograd). Internal building block of views.
  Tensor alias(const Shape& shape, int64_t element_offset) const;
  bool shares_storage(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  int64_t offset_ = 0;  // in elements
  Shape shape_;
  DType dtype_ = DType::f32;
  Device device_ = Device::CPU;
  std::shared_ptr<AutogradMeta> meta_;
};

template <class T>
struct DTypeOf;
template <> struct DTypeOf<float> { static constexpr DType value = DType::f32; };
template <> struct DTypeOf<double> { static constexpr DType value = DType::f64; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i32; };
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::f16; };  // raw 16-bit

template <class T>
T* Tensor::data() const {
  constexpr DType want = DTypeOf<T>::value;
  const bool ok = dtype_ == want ||
                  (want == DType::f16 && dtype_ == DType::bf16);  // uint16_t covers both
  TV3S_CHECK(ok, "Tensor::data: asked for ", dtype_name(want), " but tensor is ", desc());
  return static_cast<T*>(raw());
}

// --- checks shared by every op ----------------------------------------------------
void check_defined(const char* op, const Tensor& t);
void check_same_device(const char* op, const Tensor& a, const Tensor& b);
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_same_shape(const char* op, const Tensor& a, const Tensor& b);
void check_floating(const char* op, const Tensor& t);
// CPU arithmetic is f32/f64; CUDA arithmetic is f32/f16/bf16. Throws otherwise.
void check_compute_dtype(const char* op, const Tensor& t);

}  // namespace tv3s
