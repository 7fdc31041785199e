// The training forward of a SegFormer or TV3S model (training-spec §5): the model's own
// forward (Segformer::forward, Tv3s::forward) with the training switches on
// (src/models/forward_options.h: BatchNorm on batch statistics over all B·T frames, MiT
// and Mamba DropPath, Dropout2d). It returns the per-frame SegFormer logits for every
// frame of every clip, plus — for TV3S — the TV3S logit of each clip's last frame. What
// lives here is training's glue around the model: the recipe's rates, the outputs the
// loss reads, and which parameters the optimizer updates.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "src/models/config.h"
#include "src/nn/weights.h"
#include "tv3s/rng.h"

namespace tv3s::train {

struct Stochastic {
  double dropout = 0.1;            // Dropout2d before linear_pred / linear_pred2
  double drop_path = 0.1;          // MiT stochastic depth, the last block's rate
  double decoder_drop_path = 0.1;  // TV3S: DropPath_f's rate; layer rates [0] + linspace(0, r, 8)
  static Stochastic off() { return {0, 0, 0}; }
};

struct TrainOutputs {
  Tensor frame_logits;  // [B·T, h, w, K] per-frame SegFormer logits at the c1 size
  Tensor tv3s_logits;   // [B, h, w, K] TV3S logits of each clip's last frame; undefined for SegFormer
};

// images [B·T, H, W, 3] normalised RGB on the weights' device, clip b at rows b·T … b·T+T−1
// (oldest first). `weights` holds leaves that require grad (see trainable_parameters);
// the model is bound to them for this call only, so every call records a fresh graph.
// BatchNorm running statistics in `weights` are updated in place. Every mask is drawn
// from `rng`, so a run is reproducible from its seed.
TrainOutputs forward_train(const ModelConfig& config, const Weights& weights, const Tensor& images,
                           int64_t T, const Stochastic& stochastic, Rng& rng);

// The names of the tensors the optimizer updates: everything but BatchNorm running
// statistics (buffers), in the Weights table's (sorted) order.
std::vector<std::string> trainable_parameters(const Weights& weights);

}  // namespace tv3s::train
