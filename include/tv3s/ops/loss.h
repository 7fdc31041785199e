// Cross-entropy over class logits with an ignore index.
// Math and CPU reference: src/ops/cross_entropy.cpp; CUDA: cuda/cross_entropy.cu.
#pragma once
#include "tv3s/tensor.h"

namespace tv3s {

enum class Reduction {
  mean_valid,  // Σ loss / #pixels whose label ≠ ignore_index (0 when none is valid)
  mean_all,    // Σ loss / #all pixels — mmseg 0.11, what the official TV3S trains with
               // (training-spec §5: ignored pixels count in the denominator)
  sum,
  none,        // per-pixel loss, shape of `labels`, 0 at ignored pixels
};

// logits [N, C, d1, d2, ...] (classes on axis 1; also [N, C]); labels i32 [N, d1, d2, ...]
// with values in [0, C) or ignore_index. −log softmax(logits)[label] per pixel, in f32
// (f64 for f64 logits). A label outside [0, C) that is not ignore_index is an error.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, int ignore_index = 255,
                     Reduction reduction = Reduction::mean_valid);

}  // namespace tv3s
