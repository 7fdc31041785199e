// Autocast: the matrix products of an f32 model in bf16/f16 (the contract is in
// tv3s/autocast.h). Each product becomes
//
//   y = widen( op( narrow(a), narrow(b) ) )
//
// narrow: round to the 16-bit type — on CUDA the operand is stored in it, on the CPU it
//         is rounded and widened back to f32 (the CPU computes in f32 only);
// widen:  the 16-bit product back to f32 — on the CPU the f32 product is first rounded
//         through the 16-bit type, as a GPU product with a 16-bit output is.
// Both are `cast`s, which are differentiable: the gradient of y is rounded to the 16-bit
// type on its way into op's backward, and the gradients op returns are rounded again on
// their way out to the f32 tensors (master weights included) — PyTorch's autocast rounds
// at the same places.
#include "src/ops/autocast.h"

#include "tv3s/error.h"
#include "tv3s/ops/cast.h"

namespace tv3s {
namespace {
thread_local DType t_autocast = DType::f32;
}  // namespace

AutocastScope::AutocastScope(DType dtype) : previous_(t_autocast) {
  TV3S_CHECK(dtype == DType::f32 || dtype == DType::bf16 || dtype == DType::f16,
             "autocast: the compute dtype must be f32 (off), bf16 or f16, got ", dtype_name(dtype));
  t_autocast = dtype;
}

AutocastScope::~AutocastScope() { t_autocast = previous_; }

DType autocast_dtype() { return t_autocast; }

namespace autocast {

bool applies(const Tensor& x) { return t_autocast != DType::f32 && x.defined() && x.dtype() == DType::f32; }

Tensor narrow(const Tensor& t, DType low) {
  if (!t.defined()) return t;
  const Tensor rounded = cast(t, low);
  return t.is_cuda() ? rounded : cast(rounded, DType::f32);
}

Tensor widen(const Tensor& y, DType low) {
  return y.is_cuda() ? cast(y, DType::f32) : cast(cast(y, low), DType::f32);
}

}  // namespace autocast
}  // namespace tv3s
