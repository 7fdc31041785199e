#include "src/models/tv3s.h"

#include "src/models/model_file.h"

namespace tv3s {

Tv3s Tv3s::load(const std::string& path, Device device) {
  ModelFile file = load_model_file(path, device);
  TV3S_CHECK(file.config.model == "tv3s", path, ": holds a '", file.config.model,
             "' model, not a TV3S model (it has no decode_head.vs.* decoder)");
  return Tv3s(file.config, std::move(file.weights));
}

Tv3s::Tv3s(const ModelConfig& config, Weights weights)
    : segformer_(config, std::move(weights)), decoder_(config, segformer_.weights()) {}

}  // namespace tv3s
