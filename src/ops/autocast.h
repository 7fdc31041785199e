// The autocast path of the matrix-product ops (see tv3s/autocast.h). Autocast is a
// policy the ops consult, and it calls none of them: linear, matmul and conv2d ask
// applies(x) first and, inside a 16-bit scope, hand themselves to run_narrowed, which
// runs them again on rounded operands. So the ops include this header and autocast.cpp
// includes no op — the calls go one way (op → autocast → cast).
#pragma once
#include "tv3s/autocast.h"
#include "tv3s/tensor.h"

namespace tv3s::autocast {

bool applies(const Tensor& x);  // a 16-bit scope is active and x is f32

// t rounded to the 16-bit type `low` (f32 again on the CPU); undefined stays undefined.
Tensor narrow(const Tensor& t, DType low);
// A product of narrowed operands back to f32 (on the CPU rounded through `low` first).
Tensor widen(const Tensor& y, DType low);

// widen(op(narrow(operands)...)), with op run with autocast off (on the CPU its narrowed
// operands are f32 again and would otherwise come straight back here).
template <class Op, class... Operands>
Tensor run_narrowed(const Op& op, const Operands&... operands) {
  const DType low = autocast_dtype();
  const AutocastScope off(DType::f32);
  return widen(op(narrow(operands, low)...), low);
}

}  // namespace tv3s::autocast
