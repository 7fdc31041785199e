// Random parameters for a model's parameter list: a model to time (`tv3s bench`) or to
// test plumbing with, before any checkpoint exists. Weights get uniform ±1/sqrt(fan-in),
// norm scales γ ≈ 1, biases small, running variances positive; the Mamba parameters get
// the initialisations of Mamba's own code (A_log, dt_proj.bias, D) so that a random
// decoder's scan neither explodes nor forgets at once.
#pragma once
#include <cstdint>

#include "src/models/parameters.h"
#include "src/nn/weights.h"

namespace tv3s {

Weights random_weights(const ParameterList& params, uint64_t seed, Device device = Device::CPU);

}  // namespace tv3s
