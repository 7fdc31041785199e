// CUDA launchers of the cross_entropy family (kernels in cuda/cross_entropy.cu). logits
// are viewed as [outer = N, classes = C, inner = P]; labels i32 [N·P]; the per-pixel
// loss and log-sum-exp are f32 [N·P].
#pragma once
#include "tv3s/tensor.h"

namespace tv3s::cuda {
// Writes pixel_loss and lse, and — when `total` is defined (a one-element f32 tensor) —
// total = Σ loss / D with D = #valid pixels if divide_by_valid, else fixed_denominator
// (0 when D = 0). Returns the number of valid pixels. Synchronises the stream to read
// that count and the label check: throws a tv3s::Error naming the first label that is
// outside [0, C) and not ignore_index.
int64_t cross_entropy_forward(const Tensor& logits, const Tensor& labels, int ignore_index,
                              bool divide_by_valid, double fixed_denominator, int64_t outer,
                              int64_t classes, int64_t inner, Tensor& pixel_loss, Tensor& lse,
                              const Tensor& total);
// dlogits = (exp(logits − lse) − onehot(label)) · grad · scale, 0 at ignored pixels.
// grad is f32: one value, or one per pixel when grad_per_pixel.
void cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& lse,
                            const Tensor& grad, bool grad_per_pixel, double scale,
                            int ignore_index, int64_t outer, int64_t classes, int64_t inner,
                            Tensor& dlogits);
}  // namespace tv3s::cuda
