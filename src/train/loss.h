// The official training loss (training-spec §5), mmseg 0.11's CrossEntropyLoss:
// cross-entropy with ignore index 255 averaged over ALL pixels (ignored ones count in the
// denominator), on logits resized bilinearly to the label size.
//   vspw        0.5 · CE(frame logits ↑, every frame's labels) + 1.0 · CE(TV3S logit ↑, last labels)
//   cityscapes  0.5 · CE(last frame's SegFormer logit ↑, last labels) + CE(TV3S logit ↑, last labels)
//   per_frame   CE(frame logits ↑, every frame's labels)        (the per-frame SegFormer baseline)
#pragma once
#include <string>

#include "src/train/train_forward.h"

namespace tv3s::train {

enum class LossKind { vspw, cityscapes, per_frame };
LossKind parse_loss_kind(const std::string& name);  // "vspw" | "cityscapes" | "per_frame"
const char* loss_kind_name(LossKind kind);

struct Loss {
  Tensor total;         // [] f32, differentiable
  double aux = 0, main = 0;  // the two terms (unweighted) for the log; main = 0 for per_frame
};

// labels i32 [B·T, Hc, Wc] (train ids, 255 ignored) on the logits' device.
Loss compute_loss(const TrainOutputs& outputs, const Tensor& labels, int64_t T, LossKind kind);

}  // namespace tv3s::train
