#include "src/models/model_file.h"

#include "src/io/safetensors.h"
#include "src/models/parameters.h"

namespace tv3s {

ModelFile load_model_file(const std::string& path, Device device) {
  io::SafetensorsFile file = io::read_safetensors(path);
  ModelFile model;
  model.config = ModelConfig::from_metadata(file.metadata, path);
  std::vector<std::pair<std::string, Shape>> have;
  for (auto& [name, t] : file.tensors) have.emplace_back(name, t.shape());
  check_parameter_set(have, model_parameters(model.config), path);
  std::map<std::string, Tensor> tensors;
  for (auto& [name, t] : file.tensors) {
    TV3S_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f16 || t.dtype() == DType::bf16 ||
                   t.dtype() == DType::f64,
               path, ": parameter '", name, "' has dtype ", dtype_name(t.dtype()),
               ", expected a floating type");
    tensors.emplace(name, t.to(DType::f32).to(device));
  }
  model.weights = Weights(std::move(tensors));
  return model;
}

void save_model_file(const std::string& path, const ModelConfig& config, const Weights& weights,
                     DType dtype) {
  std::vector<std::pair<std::string, Tensor>> ordered;
  for (const auto& [name, shape] : model_parameters(config)) {
    const Tensor& t = weights.get(name);
    TV3S_CHECK(t.shape() == shape, path, ": parameter '", name, "' is ", t.shape().str(),
               ", the model needs ", shape.str());
    ordered.emplace_back(name, t.detach().to(dtype));
  }
  io::write_safetensors(path, ordered, config.to_metadata());
}

}  // namespace tv3s
