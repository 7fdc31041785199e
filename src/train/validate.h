// Validation during training: the current weights segment every video of a held-out split
// (VSPW or Cityscapes layout) and are scored like `tv3s eval` does — mIoU (mmseg 0.11) and mVC8/16
// (VC_perclip). Clip mode is the official evaluation (model-spec §8.1; identical to the
// training-mode forward without dropout, training-spec §9); stream mode is faster on long
// videos. Frames are used at their own size (no test resize): what the model trains on.
// The loop is `tv3s eval`'s (src/eval/evaluate.h), run on the training model's weights.
#pragma once
#include <string>

#include "src/data/eval_dataset.h"
#include "src/models/config.h"
#include "src/nn/weights.h"

namespace tv3s::train {

struct ValResult {
  double miou = 0, mvc8 = 0, mvc16 = 0;  // in [0, 1]; mVC NaN when no video is long enough
  int64_t frames = 0, videos = 0;
  double seconds = 0;
};

// Runs under NoGradGuard; BatchNorm uses the running statistics (eval mode). On Cityscapes
// a TV3S needs the set listed with eval::cityscapes_context(parse_segment_mode(mode)).
ValResult validate(const ModelConfig& config, const Weights& weights, const data::EvalSet& set,
                   const std::string& mode);

}  // namespace tv3s::train
