// Segmenter: a model plus the per-video state of one inference mode. Push frames of one
// or several videos (one frame per video per call), get logits at the input size.
//
//   frame   the per-frame SegFormer path (a SegFormer or a TV3S file): no temporal context.
//   stream  TV3S, one frame at a time; every Mamba layer and window carries its conv and
//           SSM state to the next frame, so frame t sees frames 0..t of its video in memory
//           that does not grow with the video (model-spec §8.2). Frame t's output equals
//           the clip mode of a clip holding all frames 0..t.
//   clip    the official evaluation (model-spec §8.1): frame i answers with the 4-frame
//           clip [i−9, i−6, i−3, i] (special clips for i = 3…8) run from zero state;
//           frames 0–2 with the SegFormer logits. Keeps the last 10 frames' features.
// States start at zero at the first frame of every video; reset() starts a new video.
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "src/models/model_file.h"
#include "src/models/tv3s.h"

namespace tv3s {

enum class SegmentMode { frame, stream, clip };
// "frame" | "stream" | "clip"; throws for anything else.
SegmentMode parse_segment_mode(const std::string& name);
const char* segment_mode_name(SegmentMode mode);

// The frames of clip mode's clip for target frame i ≥ 3 (oldest first), model-spec §8.1.
std::vector<int64_t> official_clip(int64_t i);

class Segmenter {
 public:
  // Loads a model file; stream and clip need a TV3S model.
  static Segmenter load(const std::string& path, SegmentMode mode, Device device = Device::CPU,
                        int64_t videos = 1);
  // From a loaded file (`what` names it in errors).
  static Segmenter from_file(ModelFile file, SegmentMode mode, const std::string& what,
                             int64_t videos = 1);
  // stream for a TV3S model, frame for a SegFormer.
  static SegmentMode default_mode(const ModelConfig& config) {
    return config.model == "tv3s" ? SegmentMode::stream : SegmentMode::frame;
  }
  Segmenter(std::shared_ptr<const Tv3s> tv3s, SegmentMode mode, int64_t videos = 1);
  Segmenter(std::shared_ptr<const Segformer> segformer, int64_t videos = 1);  // frame mode

  // frames [V, H, W, 3]: the next frame of each of the V videos, normalised RGB (any
  // device). Returns logits [V, H, W, K] on the model's device, or with resize_to_input
  // false the head's logits at the c1 size [V, h, w, K] (before the official resizes).
  Tensor push(const Tensor& frames, bool resize_to_input = true);
  // Starts video v anew (every video when v < 0).
  void reset(int64_t video = -1);

  SegmentMode mode() const { return mode_; }
  int64_t videos() const { return int64_t(frame_index_.size()); }
  int64_t frame_index(int64_t video) const { return frame_index_.at(size_t(video)); }
  // What is carried between frames: the decoder state (stream) or the kept frame
  // features (clip), in bytes.
  size_t state_bytes() const;
  const ModelConfig& config() const;
  const Weights& weights() const { return segformer_->weights(); }

 private:
  Tensor push_clip(const SegformerOutput& frame);

  SegmentMode mode_;
  std::shared_ptr<const Tv3s> tv3s_;
  std::shared_ptr<const Segformer> segformer_;  // the per-frame path (also inside tv3s_)
  std::vector<int64_t> frame_index_;            // frames seen per video since its reset
  Tv3sState stream_state_;
  // Clip mode: per video, the grid features [1, h2, w2, E] of its last frames, newest last.
  std::vector<std::deque<Tensor>> history_;
};

}  // namespace tv3s
