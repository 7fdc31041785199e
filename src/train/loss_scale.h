// Dynamic loss scaling for f16 training (torch.cuda.amp.GradScaler's rule and defaults).
//
// f16 gradients underflow: values below 2^-24 become 0, and many of a network's are that
// small. Multiplying the loss by S before backward multiplies every gradient by S and
// lifts them into range; the optimizer divides by S again (AdamW's grad_scale) in f32.
// Too large an S overflows instead (f16 tops out at 65504), so S adapts:
//   - a step whose gradients hold an Inf/NaN is skipped (no update, no step count) and
//     S halves;
//   - after `growth_interval` good steps in a row S doubles.
// bf16 has f32's exponent range and needs none of this: its scaler is disabled (S = 1,
// nothing skipped); a non-finite gradient there is divergence, as in f32.
#pragma once
#include <cstdint>

namespace tv3s::train {

class LossScaler {
 public:
  static constexpr double kInitialScale = 65536.0;  // 2^16
  static constexpr int64_t kGrowthInterval = 2000;

  explicit LossScaler(bool enabled, double initial_scale = kInitialScale);

  bool enabled() const { return enabled_; }
  double scale() const { return scale_; }            // what the loss is multiplied by
  int64_t good_steps() const { return good_steps_; }  // good steps since the last change

  // After a backward pass: whether its gradients were all finite. Returns whether the
  // optimizer may step (always true when disabled).
  bool update(bool gradients_finite);

  // Checkpoints (TrainCheckpoint::loss_scale, loss_scale_good_steps).
  void restore(double scale, int64_t good_steps);

 private:
  bool enabled_;
  double scale_;
  int64_t good_steps_ = 0;
};

}  // namespace tv3s::train
