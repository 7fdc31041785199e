#include "src/train/validate.h"

#include <chrono>
#include <memory>

#include "src/eval/evaluate.h"
#include "src/models/tv3s_model.h"
#include "tv3s/autograd.h"

namespace tv3s::train {

SegmentMode validation_mode(const std::string& mode) {
  return mode == "stream" ? SegmentMode::stream : SegmentMode::clip;
}

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
    protocol.mode = validation_mode(mode);
  } else {
    model.segformer = std::make_shared<const Segformer>(config, weights);
    protocol.mode = SegmentMode::frame;
  }
  eval::LoopOptions loop;
  loop.protocols = {protocol};  // native size (no test resize): what the model trains on
  // Cityscapes: every annotated frame after its official neighbours (listed by the
  // trainer with these offsets), each a video of its own, as `tv3s eval` scores them.
  if (set.kind == data::DatasetKind::cityscapes && model.tv3s)
    loop.context = eval::cityscapes_context(protocol.mode);
  const eval::ProtocolResult result = eval::evaluate_set(set, model, loop).front();

  ValResult r;
  r.miou = result.iou.miou, r.mvc8 = result.vc.mvc8, r.mvc16 = result.vc.mvc16;
  r.frames = result.frames, r.videos = result.videos;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace tv3s::train
