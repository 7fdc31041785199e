// The TV3S model (model-spec §1): per frame, the MiT backbone and the SegFormer head;
// across frames, the TV3S decoder. The per-frame SegFormer logits (linear_pred) are what
// the official evaluation answers for the first frames of a video (§5.6, §8.1) and the
// auxiliary term of the training loss (training-spec §5).
//
// One forward serves every use: training and clip inference run clips of T frames from
// zero state; streaming runs one frame per video (T = 1) and carries a Tv3sState.
#pragma once
#include <string>

#include "src/models/forward_options.h"
#include "src/models/segformer.h"
#include "src/models/tv3s_head.h"

namespace tv3s {

struct Tv3sOutput {
  SegformerOutput frames;  // per frame: c1..c4, fused [B·T, h, w, E], SegFormer logits [B·T, h, w, K]
  Tensor grid;             // [B·T, h2, w2, E]: each frame's fused map on the TV3S grid
  Tensor logits;           // [B, h, w, K]: the TV3S logits of each clip's last frame
};

class Tv3s {
 public:
  // From a model file of model "tv3s".
  static Tv3s load(const std::string& path, Device device = Device::CPU);
  Tv3s(const ModelConfig& config, Weights weights);

  // images [B·T, H, W, 3] normalised RGB, the frames of clip b at rows b·T … b·T + T − 1,
  // oldest first. state null: each clip from zero state. Otherwise T must be 1 and each
  // frame continues its video's state, updated in place (an empty state starts at zero).
  // options: inference by default; training (forward_options.h) runs clips, not streams.
  Tv3sOutput forward(const Tensor& images, int64_t T, Tv3sState* state = nullptr,
                     const ForwardOptions& options = {}) const;

  // forward's two halves, for clip-mode inference, which keeps the grid features of a
  // video's last frames and decodes each official clip from them (pipeline/segmenter.cpp):
  // per frame, Tv3sOutput's `frames` and `grid` (logits undefined) …
  Tv3sOutput per_frame(const Tensor& images, const ForwardOptions& options = {}) const;
  // … and across frames, the logits [B, out_h, out_w, K] of each clip's last frame from
  // the grid features [B·T, h2, w2, E] of its frames.
  Tensor across_frames(const Tensor& grid, int64_t T, Tv3sState* state, int64_t out_h,
                       int64_t out_w, const ForwardOptions& options = {}) const;

  const Segformer& segformer() const { return segformer_; }  // the per-frame path
  const ModelConfig& config() const { return segformer_.config(); }
  const Weights& weights() const { return segformer_.weights(); }
  const Tv3sDecoder& decoder() const { return decoder_; }

 private:
  Segformer segformer_;  // owns the weights; the decoder holds handles into them
  Tv3sDecoder decoder_;
};

}  // namespace tv3s
