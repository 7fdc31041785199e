#include "src/models/segformer.h"

#include "src/models/model_file.h"

namespace tv3s {

Segformer Segformer::load(const std::string& path, Device device) {
  ModelFile file = load_model_file(path, device);
  TV3S_CHECK(file.config.kind == ModelKind::segformer || file.config.kind == ModelKind::tv3s, path,
             ": holds a '", file.config.kind, "' model (a backbone only); a segmentation model needs a head");
  return Segformer(file.config, std::move(file.weights));
}

Segformer::Segformer(const ModelConfig& config, Weights weights)
    : config_(config),
      weights_(std::move(weights)),
      backbone_(config, weights_, "backbone."),
      head_(weights_) {}

// model-spec §2–§3 (§9 for Swin): backbone → the all-MLP fuse → linear_pred, every frame on its own.
SegformerOutput Segformer::forward(const Tensor& image, const ForwardOptions& options) const {
  const nn::TrainNoise* noise = options.stochastic();
  SegformerOutput out;
  out.features = backbone_(image, noise);
  out.fused = head_.fuse(out.features, options.training);
  out.logits = head_.predict(out.fused, noise);
  return out;
}

Tensor Segformer::logits(const Tensor& image) const {
  return resize_bilinear(forward(image).logits, image.size(1), image.size(2));
}

}  // namespace tv3s
