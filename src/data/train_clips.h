// Training clips: the listing of a training set (VSPW layout — also what `tv3s synth`
// writes — or Cityscapes), the official clip sampling (training-spec.md §2) and batch
// assembly through the augmentation of src/data/augment.h (§3).
//
// A batch is a pure function of (seed, iteration, clips, augment config): the item of
// clip b is position g mod N of a per-epoch permutation (seeded by (seed, epoch), epoch =
// g div N, g = iteration·clips + b) — a shuffled sampler that sees every item once per
// epoch — and every other random draw of clip b comes from a tv3s::Rng seeded by (seed,
// iteration, b). Resuming a run therefore needs no loader state, and the thread count
// does not change the result.
//
// VSPW     one item per video of <split>.txt; with p = ½ the frame list is reversed; target
//          index i ~ uniform [9, N−1]; clip = positions i−9, i−6, i−3, i (oldest first,
//          target last); every frame keeps its own mask, reduce_zero_label applied.
// Cityscapes one item per *_gtFine_labelTrainIds.png; frames n−9, n−6, n−3, n (the 6-digit
//          frame field), or n+9, n+6, n+3, n when any of the former is missing; no
//          reversal; all four frames get the target's train ids.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/data/augment.h"
#include "src/data/eval_dataset.h"
#include "tv3s/tensor.h"

namespace tv3s::data {

struct ClipBatch {
  int64_t clips = 0, frames = 4;
  Tensor images;  // f32 CPU [clips·frames, crop_h, crop_w, 3]: normalised RGB, padded with 0 bottom/right; clip b at rows b·frames … (oldest first, target last)
  Tensor labels;  // i32 CPU [clips·frames, crop_h, crop_w]: train ids, 255 = ignore (and padding)
};

// One training clip before loading: the images oldest first (target last) and their label
// files (Cityscapes: the target's, four times).
struct ClipFiles {
  std::vector<std::string> images, masks;
};

constexpr int kClipFrames = 4;
constexpr int kClipSpan = 9;  // the oldest frame is 9 frames before the target

class TrainClips {
 public:
  // Lists and checks the set (split file, ≥ 10 frames per video, every mask, a non-empty
  // set, Cityscapes neighbours); one-line errors naming the file.
  static TrainClips open(const std::string& root, DatasetKind kind, const std::string& split = "train");

  int64_t size() const;  // items: videos (VSPW) or annotated frames (Cityscapes)
  DatasetKind kind() const { return set_.kind; }
  int64_t num_classes() const { return set_.classes.size(); }
  const EvalSet& set() const { return set_; }

  // The item clip b of `iteration` uses (epoch permutation, see the top of this file).
  int64_t item_of(int64_t clips, uint64_t seed, int64_t iteration, int64_t b) const;
  // The clip of `item` with the draws of `rng` (VSPW: reversal coin, then target index).
  ClipFiles sample_clip(int64_t item, Rng& rng) const;
  // The Rng of clip b of `iteration`.
  static Rng clip_rng(uint64_t seed, int64_t iteration, int64_t b);

  ClipBatch batch(int64_t clips, uint64_t seed, int64_t iteration, const AugmentConfig& aug) const;

 private:
  EvalSet set_;
  // Cityscapes: per item, the four image paths (oldest first).
  std::vector<std::vector<std::string>> city_frames_;
  std::vector<std::string> city_masks_;
};

// A permutation of 0..n−1 from `rng` (Fisher–Yates).
std::vector<int64_t> random_permutation(int64_t n, Rng& rng);

}  // namespace tv3s::data
