#include "src/train/validate.h"

#include <chrono>
#include <memory>

#include "src/eval/metrics.h"
#include "src/models/tv3s.h"
#include "src/pipeline/segmenter.h"
#include "tv3s/autograd.h"

namespace tv3s::train {

ValResult validate(const ModelConfig& config, const Weights& weights, const data::EvalSet& set,
                   const std::string& mode) {
  NoGradGuard no_grad;
  const auto start = std::chrono::steady_clock::now();
  // The modules bind handles into `weights`: no copy of the parameters.
  std::unique_ptr<Segmenter> segmenter;
  if (config.model == "tv3s")
    segmenter = std::make_unique<Segmenter>(std::make_shared<const Tv3s>(config, weights),
                                            mode == "stream" ? SegmentMode::stream : SegmentMode::clip);
  else
    segmenter = std::make_unique<Segmenter>(std::make_shared<const Segformer>(config, weights));

  eval::IouAccumulator iou(set.classes.size());
  eval::VcAccumulator vc;
  ValResult r;
  for (const data::EvalVideo& video : set.videos) {
    segmenter->reset();
    vc.begin_video(int64_t(video.frames.size()));
    for (const data::EvalFrame& frame : video.frames) {
      const io::Image image = io::read_image(frame.image);
      const io::LabelMap gt = data::read_ground_truth(set, frame);
      TV3S_CHECK(gt.width == image.width && gt.height == image.height, frame.mask, ": mask is ",
                 gt.width, "×", gt.height, ", its frame ", image.width, "×", image.height);
      const Segmentation out = segmenter->segment({{image.rgb.data(), image.width, image.height, 0}});
      const uint8_t* pred = out.labels.data<uint8_t>();
      iou.add(gt.values.data(), pred, gt.values.size());
      vc.add(gt.values.data(), pred, gt.values.size());
      ++r.frames;
    }
    ++r.videos;
  }
  const eval::IouResult ir = iou.result();
  const eval::VcResult vr = vc.result();
  r.miou = ir.miou, r.mvc8 = vr.mvc8, r.mvc16 = vr.mvc16;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace tv3s::train
