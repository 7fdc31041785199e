#include "src/models/backbone.h"

namespace tv3s {
namespace {

std::variant<Mit, Swin> make(const ModelConfig& config, const Weights& weights, const std::string& prefix) {
  if (config.is_swin()) return Swin(config.swin, weights, prefix);
  return Mit(mit_config(config.backbone), weights, prefix);
}

}  // namespace

Backbone::Backbone(const ModelConfig& config, const Weights& weights, const std::string& prefix)
    : net_(make(config, weights, prefix)) {}

std::array<Tensor, 4> Backbone::operator()(const Tensor& image, const nn::TrainNoise* noise) const {
  return std::visit([&](const auto& net) { return net(image, noise); }, net_);
}

}  // namespace tv3s
