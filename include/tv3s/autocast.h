// Mixed precision the way torch.autocast does it: inside an AutocastScope(bf16 or f16)
// the matrix products — linear, matmul, conv2d — of f32 tensors compute in the 16-bit
// type and hand back f32; every other op (norms, softmax, attention, depthwise conv, the
// selective scan, the loss) keeps f32. The operands and the product are rounded to the
// 16-bit type, the sums inside the product are f32 (cuBLAS/cuDNN accumulate in f32), and
// the gradients come back through the same roundings into the f32 master weights — so a
// backward pass sees 16-bit gradients where PyTorch's would. (PyTorch's autocast also
// runs attention's two products in 16 bits; ours is one fused f32 op.)
//
// CUDA computes the products in bf16/f16. The CPU has no 16-bit arithmetic, so there the
// scope emulates them: operands rounded to the 16-bit type and widened back, an f32
// product, the result rounded. The product of two bf16 (or f16) values is exact in f32,
// so this is the GPU's arithmetic up to the order of the f32 sums: mixed-precision
// training can be checked for accuracy on a machine without a GPU (not made faster).
// Implementation: src/ops/autocast.cpp.
//
// The scope is per thread and nests (the innermost wins; AutocastScope(f32) turns it
// off). Wrap the forward pass only: the backward pass follows the dtypes the forward
// recorded.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

class AutocastScope {
 public:
  explicit AutocastScope(DType dtype);  // f32 (off), bf16 or f16
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  DType previous_;
};

// The dtype of the innermost scope on this thread; f32 outside any scope.
DType autocast_dtype();

}  // namespace tv3s
