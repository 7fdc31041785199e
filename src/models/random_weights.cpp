// random_weights (random_weights.h): the initialisation rule of each parameter, told by
// its official name.
#include "src/models/random_weights.h"

#include <cmath>

#include "src/core/text.h"
#include "tv3s/rng.h"

namespace tv3s {

Weights random_weights(const ParameterList& params, uint64_t seed, Device device) {
  Rng rng(seed);
  std::map<std::string, Tensor> tensors;
  for (auto& [name, shape] : params) {
    Tensor t;
    if (ends_with(name, ".A_log") && shape.ndim() == 2) {
      // Mamba's S4D-real init, A = −(1, 2, …, N) per channel, jittered: so that random
      // decoders decay like trained ones do rather than blow up or forget at once.
      std::vector<float> v(size_t(shape.numel()));
      for (int64_t i = 0; i < shape.numel(); ++i)
        v[size_t(i)] = float(std::log(double(i % shape[1] + 1)) + rng.uniform(-0.1, 0.1));
      t = Tensor::from_vector(v, shape, DType::f32, device);
    } else if (ends_with(name, "dt_proj.bias")) {
      // Mamba's Δ init: softplus(bias) log-uniform in [1e-3, 1e-1].
      std::vector<float> v(size_t(shape.numel()));
      for (float& b : v) {
        const double dt = std::exp(rng.uniform(std::log(1e-3), std::log(1e-1)));
        b = float(dt + std::log(-std::expm1(-dt)));  // inverse softplus
      }
      t = Tensor::from_vector(v, shape, DType::f32, device);
    } else if (ends_with(name, ".D") && shape.ndim() == 1) {
      t = Tensor::uniform(shape, rng, 0.9, 1.1, DType::f32, device);  // Mamba: D = 1
    } else if (shape.ndim() >= 2) {  // a weight matrix or kernel: fan-in = numel / out
      const double bound = 1.0 / std::sqrt(double(shape.numel() / shape[0]));
      t = Tensor::uniform(shape, rng, -bound, bound, DType::f32, device);
    } else if (ends_with(name, "running_var")) {
      t = Tensor::uniform(shape, rng, 0.5, 1.5, DType::f32, device);
    } else if (ends_with(name, ".weight") && (name.find("norm") != std::string::npos ||
                                              name.find(".bn.") != std::string::npos)) {
      t = Tensor::uniform(shape, rng, 0.8, 1.2, DType::f32, device);
    } else {
      t = Tensor::uniform(shape, rng, -0.1, 0.1, DType::f32, device);
    }
    tensors.emplace(name, t);
  }
  return Weights(std::move(tensors));
}

}  // namespace tv3s
