#include "src/train/validate.h"

#include <chrono>
#include <memory>

#include "src/eval/evaluate.h"
#include "src/models/tv3s_model.h"
#include "tv3s/autograd.h"
#include "tv3s/segmenter.h"

namespace tv3s::train {

ValResult validate(const ModelConfig& config, const Weights& weights, const data::EvalSet& set,
                   const std::string& mode) {
  NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  // The modules bind handles into `weights`: no copy of the parameters.
  eval::Model model;
  eval::Protocol protocol;
  protocol.name = "val";
  if (config.kind == ModelKind::tv3s) {
    model.tv3s = std::make_shared<const Tv3s>(config, weights);
    protocol.mode = parse_segment_mode(mode);  // "stream" or "clip" (the config checks it)
  } else {
    model.segformer = std::make_shared<const Segformer>(config, weights);
    protocol.mode = SegmentMode::frame;
  }
  eval::LoopOptions loop;
  loop.protocols = {protocol};  // native size (no test resize): what the model trains on
  const eval::ProtocolResult result = eval::evaluate_set(set, model, loop).front();

  ValResult r;
  r.miou = result.iou.miou, r.mvc8 = result.vc.mvc8, r.mvc16 = result.vc.mvc16;
  r.frames = result.frames, r.videos = result.videos;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace tv3s::train
