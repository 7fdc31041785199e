#include "src/train/loss.h"

#include "tv3s/ops.h"

namespace tv3s::train {

LossKind parse_loss_kind(const std::string& name) {
  if (name == "vspw") return LossKind::vspw;
  if (name == "cityscapes") return LossKind::cityscapes;
  if (name == "per_frame") return LossKind::per_frame;
  fail(str("unknown loss '", name, "' (expected vspw, cityscapes or per_frame)"));
}

const char* loss_kind_name(LossKind kind) {
  switch (kind) {
    case LossKind::vspw: return "vspw";
    case LossKind::cityscapes: return "cityscapes";
    case LossKind::per_frame: return "per_frame";
  }
  return "?";
}

namespace {

// mmseg 0.11 CrossEntropyLoss: logits [N, h, w, K] resized bilinearly (align_corners
// False) to the label size, CE per pixel, summed over valid pixels, divided by all pixels.
Tensor ce_all_pixels(const Tensor& logits, const Tensor& labels) {
  const int64_t N = labels.size(0), H = labels.size(1), W = labels.size(2), K = logits.size(3);
  const Tensor up = resize_bilinear(logits, H, W);  // [N, H, W, K]
  // Channels-last logits are rows of K: the [pixels, K] form of cross_entropy.
  return cross_entropy(up.reshape({N * H * W, K}), labels.reshape({N * H * W}), 255, Reduction::mean_all);
}

// Rows [b·T + t] for t = T − 1 of each clip: the last frame's [B, ...].
Tensor last_frames(const Tensor& x, int64_t T) {
  if (T == 1) return x;
  const int64_t B = x.size(0) / T;
  std::vector<int64_t> dims = x.shape().vec();  // [B·T, ...] → [B, T, ...]
  dims[0] = T;
  dims.insert(dims.begin(), B);
  std::vector<int64_t> out = x.shape().vec();
  out[0] = B;
  return slice(x.reshape(Shape(dims)), 1, T - 1, T).reshape(Shape(out));
}

}  // namespace

Loss compute_loss(const TrainOutputs& outputs, const Tensor& labels, int64_t T, LossKind kind) {
  TV3S_CHECK(labels.ndim() == 3 && labels.dtype() == DType::i32 &&
                 labels.size(0) == outputs.frame_logits.size(0),
             "loss: labels must be i32 [clips·frames, H, W] matching ", outputs.frame_logits.desc(),
             ", got ", labels.desc());
  TV3S_CHECK(kind == LossKind::per_frame || outputs.tv3s_logits.defined(),
             "loss: '", loss_kind_name(kind), "' needs a TV3S model (a SegFormer trains with per_frame)");
  Loss loss;
  if (kind == LossKind::per_frame) {
    loss.total = ce_all_pixels(outputs.frame_logits, labels);
    loss.aux = loss.total.detach().cpu().item();
    return loss;
  }
  const Tensor last_labels = last_frames(labels, T);
  const Tensor aux = kind == LossKind::vspw
                         ? ce_all_pixels(outputs.frame_logits, labels)
                         : ce_all_pixels(last_frames(outputs.frame_logits, T), last_labels);
  const Tensor main = ce_all_pixels(outputs.tv3s_logits, last_labels);
  loss.total = add(affine(aux, 0.5, 0.0), main);
  loss.aux = aux.detach().cpu().item();
  loss.main = main.detach().cpu().item();
  return loss;
}

}  // namespace tv3s::train
