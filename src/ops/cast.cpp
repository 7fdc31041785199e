// Conversion between dtypes, fills and copies (also across devices).
//
// Float → integer conversion truncates toward zero and saturates at the integer
// range (NaN → 0), so it is defined for every input. Between floats it rounds to
// nearest even. Autograd: cast between float dtypes and to(Device) pass the gradient
// back converted to the input's dtype/device.
#include "tv3s/ops/cast.h"

#include <cmath>
#include <cstring>

#include "src/core/parallel.h"
#include "src/core/cuda_context.h"
#include "tv3s/autograd.h"
#include "cuda/cast.h"

namespace tv3s {
namespace {

// Every dtype read as double, then written as `out` — the readable reference path.
double load(const void* p, DType d, int64_t i) {
  switch (d) {
    case DType::f32: return static_cast<const float*>(p)[i];
    case DType::f64: return static_cast<const double*>(p)[i];
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(p)[i]);
    case DType::i32: return static_cast<const int32_t*>(p)[i];
    case DType::u8: return static_cast<const uint8_t*>(p)[i];
  }
  return 0;
}

template <class I>
I saturate(double v, double lo, double hi) {
  if (std::isnan(v)) return 0;
  v = std::trunc(v);
  return I(v < lo ? lo : (v > hi ? hi : v));
}

void store(void* p, DType d, int64_t i, double v) {
  switch (d) {
    case DType::f32: static_cast<float*>(p)[i] = float(v); break;
    case DType::f64: static_cast<double*>(p)[i] = v; break;
    case DType::f16: static_cast<uint16_t*>(p)[i] = f32_to_f16(float(v)); break;
    case DType::bf16: static_cast<uint16_t*>(p)[i] = f32_to_bf16(float(v)); break;
    case DType::i32: static_cast<int32_t*>(p)[i] = saturate<int32_t>(v, -2147483648.0, 2147483647.0); break;
    case DType::u8: static_cast<uint8_t*>(p)[i] = saturate<uint8_t>(v, 0.0, 255.0); break;
  }
}

void cast_cpu(const Tensor& x, Tensor& out) {
  const void* src = x.raw();
  void* dst = out.raw();
  const int64_t n = x.numel();
  const DType from = x.dtype(), to = out.dtype();
  parallel_for(n, n > 65536, [&](int64_t i) {
    store(dst, to, i, load(src, from, i));
  });
}

}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  check_defined("cast", x);
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype, x.device());
  if (x.is_cuda()) TV3S_ON_CUDA(cuda::cast(x, out));
  else cast_cpu(x, out);
  if (is_floating(dtype) && is_floating(x.dtype()) && autograd::needs_grad(x)) {
    const DType from = x.dtype();
    autograd::record("cast", out, {x}, [from](const Tensor& g) {
      return std::vector<Tensor>{cast(g, from)};
    });
  }
  return out;
}

void fill_(Tensor& x, double value) {
  check_defined("fill_", x);
  if (x.is_cuda()) {
    TV3S_ON_CUDA(cuda::fill(x, value));
    return;
  }
  if (value == 0.0) {  // all-zero bits are 0 in every dtype
    std::memset(x.raw(), 0, x.nbytes());
    return;
  }
  void* p = x.raw();
  const int64_t n = x.numel();
  parallel_for(n, n > 65536, [&](int64_t i) {
    store(p, x.dtype(), i, value);
  });
}

void copy_(Tensor& dst, const Tensor& src) {
  check_defined("copy_", dst);
  check_defined("copy_", src);
  check_same_shape("copy_", dst, src);
  check_same_dtype("copy_", dst, src);
  if (dst.raw() == src.raw()) return;
  if (dst.device() == Device::CPU && src.device() == Device::CPU) {
    std::memcpy(dst.raw(), src.raw(), dst.nbytes());
    return;
  }
  TV3S_ON_CUDA(cuda::copy(dst, src));
}

Tensor Tensor::to(DType dtype) const { return cast(*this, dtype); }

Tensor Tensor::to(Device device) const {
  check_defined("to", *this);
  if (device == device_) return *this;
  Tensor out = empty(shape_, dtype_, device);
  copy_(out, *this);
  if (is_floating(dtype_) && autograd::needs_grad(*this)) {
    const Device from = device_;
    autograd::record("to_device", out, {*this}, [from](const Tensor& g) {
      return std::vector<Tensor>{g.to(from)};
    });
  }
  return out;
}

}  // namespace tv3s
