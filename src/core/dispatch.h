// Type dispatch for CPU kernels: calls f(T{}) with T = float or double (the CPU compute
// dtypes), after checking the tensor may be computed on.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

template <class F>
void dispatch_cpu_float(const char* op, const Tensor& t, F&& f) {
  check_compute_dtype(op, t);
  if (t.dtype() == DType::f32) f(float{});
  else f(double{});
}

// The data of an optional tensor, or nullptr when it is undefined.
template <class T>
T* data_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

}  // namespace tv3s
