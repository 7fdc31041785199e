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

}  // namespace tv3s
