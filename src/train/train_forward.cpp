#include "src/train/train_forward.h"

#include "src/models/tv3s_model.h"

namespace tv3s::train {

TrainOutputs forward_train(const ModelConfig& config, const Weights& weights, const Tensor& images,
                           int64_t T, const Stochastic& stochastic, Rng& rng) {
  TV3S_CHECK(config.kind == ModelKind::segformer || config.kind == ModelKind::tv3s,
             "training needs a segmentation model (segformer or tv3s), not '", config.kind, "'");
  TV3S_CHECK(images.ndim() == 4 && images.size(3) == 3 && T >= 1 && images.size(0) % T == 0,
             "training input must be [clips·", T, ", H, W, 3], got ", images.desc());
  ForwardOptions options;
  options.training = true;
  options.noise = {&rng, stochastic.dropout, stochastic.drop_path, stochastic.decoder_drop_path};

  // The model is bound to the leaves for this call: views such as MiT's k/v halves of
  // `kv` and the 1×1 convs seen as Linear are recorded on this step's tape.
  if (config.kind == ModelKind::tv3s) {
    const Tv3sOutput out = Tv3s(config, weights).forward(images, T, nullptr, options);
    return {out.frames.logits, out.logits};
  }
  return {Segformer(config, weights).forward(images, options).logits, Tensor()};
}

std::vector<std::string> trainable_parameters(const Weights& weights) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : weights.all()) {
    const bool buffer = name.size() > 13 && (name.compare(name.size() - 13, 13, ".running_mean") == 0 ||
                                             name.compare(name.size() - 12, 12, ".running_var") == 0);
    if (!buffer) names.push_back(name);
  }
  return names;
}

}  // namespace tv3s::train
