// Opening a tv3s model file (.safetensors written by `tv3s convert`): the configuration
// from its metadata, then every tensor checked against the exact parameter set of that
// configuration — a missing, extra or mis-shaped parameter is an error naming it and the
// file — and converted to f32 on the requested device.
#pragma once
#include <string>

#include "src/models/config.h"
#include "src/nn/weights.h"

namespace tv3s {

struct ModelFile {
  ModelConfig config;
  Weights weights;
};

ModelFile load_model_file(const std::string& path, Device device = Device::CPU);

// Writes `weights` (every parameter of model_parameters(config), in that order) with the
// configuration as metadata, atomically — what training exports. `dtype` f32, or f16/bf16
// to halve the file (the loader converts back to f32).
void save_model_file(const std::string& path, const ModelConfig& config, const Weights& weights,
                     DType dtype = DType::f32);

}  // namespace tv3s
