// The TV3S model (model-spec §1): per frame, the MiT backbone and the SegFormer fuse;
// across frames, the TV3S decoder. The per-frame SegFormer logits (linear_pred) are what
// the official evaluation answers for the first frames of a video (§5.6, §8.1).
#pragma once
#include <string>

#include "src/models/segformer.h"
#include "src/models/tv3s_head.h"

namespace tv3s {

class Tv3s {
 public:
  // From a model file of model "tv3s".
  static Tv3s load(const std::string& path, Device device = Device::CPU);
  Tv3s(const ModelConfig& config, Weights weights);

  // image [N, H, W, 3] normalised RGB → fused [N, h, w, E] and SegFormer logits
  // [N, h, w, K] at the c1 size (h, w). No temporal interaction.
  SegformerOutput frame(const Tensor& image) const { return segformer_.forward(image); }
  // The TV3S logits of each clip's last frame from the fused features of its frames
  // (Tv3sDecoder::forward: clips from zero state, or one streamed frame per video).
  Tensor decode(const Tensor& fused, int64_t T, Tv3sState* state = nullptr) const {
    return decoder_.forward(fused, T, state);
  }

  const Segformer& segformer() const { return segformer_; }  // the per-frame path
  const ModelConfig& config() const { return segformer_.config(); }
  const Weights& weights() const { return segformer_.weights(); }
  const Tv3sDecoder& decoder() const { return decoder_; }

 private:
  Segformer segformer_;  // owns the weights; the decoder holds handles into them
  Tv3sDecoder decoder_;
};

}  // namespace tv3s
