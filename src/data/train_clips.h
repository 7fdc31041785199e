// Training clips (training-spec §2): which frames make a clip, their labels, and the
// augmented, normalised batch the model trains on.
//
// VSPW layout (also `tv3s synth` output): one item per video of <split>.txt; the frame list
// is reversed with p = ½, a target index i uniform in [9, N−1], the clip is list positions
// [i−9, i−6, i−3, i] (target last); every frame is supervised with its own mask
// (reduce_zero_label). Cityscapes: one item per annotated frame; the neighbours n−9, n−6,
// n−3 (found as `tv3s eval` finds them), all four with the target's labelTrainIds. The
// official code falls back to n+9/+6/+3 when a neighbour is missing; here a missing one is
// an error at open (the dataset download has them all).
//
// A batch is a pure function of (seed, iteration, clips, augmentation): item order is one
// permutation per epoch seeded by (seed, epoch), and every draw for clip b comes from an
// Rng seeded by (seed, iteration, b). So resuming needs no loader state, and the result
// does not depend on the number of threads.
#pragma once
#include <string>

#include "src/data/augment.h"
#include "src/data/eval_dataset.h"
#include "tv3s/tensor.h"

namespace tv3s::data {

struct ClipBatch {
  int64_t clips = 0, frames = 4;
  Tensor images;  // f32 CPU [clips·frames, crop_h, crop_w, 3], normalised RGB, zero-padded
  Tensor labels;  // i32 CPU [clips·frames, crop_h, crop_w], train ids, 255 ignored / padding
};

class TrainClips {
 public:
  // Lists and checks the split up front (missing files, videos under 10 frames, an empty
  // split): one-line errors naming the path.
  static TrainClips open(const std::string& root, DatasetKind kind, const std::string& split = "train");

  int64_t size() const { return int64_t(items_.size()); }  // videos (VSPW) or annotated frames
  DatasetKind kind() const { return set_.kind; }
  const ClassTable& classes() const { return set_.classes; }

  ClipBatch batch(int64_t clips, uint64_t seed, int64_t iteration, const AugmentConfig& aug) const;

  // The four frames (images and masks) of global clip g, before augmentation: the item and
  // frame choice alone (exposed for tests).
  struct ClipFrames {
    std::vector<std::string> images;  // oldest first, target last
    std::vector<const EvalFrame*> labels;  // the frame whose mask supervises each position
  };
  ClipFrames clip_frames(uint64_t seed, int64_t iteration, int64_t clip_index, int64_t clips) const;

 private:
  struct Item {
    size_t video;  // index into set_.videos
    size_t frame;  // Cityscapes: the annotated frame
  };
  EvalSet set_;
  std::vector<Item> items_;
};

}  // namespace tv3s::data
