// The small modules models are built from. Each holds its parameters (handles into a
// Weights table, so nothing is copied) and applies one op family to channels-last data.
// `from(weights, prefix)` binds the parameters named `<prefix>.weight`, `<prefix>.bias`, ...
#pragma once
#include <string>

#include "src/nn/weights.h"
#include "tv3s/ops.h"

namespace tv3s::nn {

// y = x·Wᵀ + b over the last dim. W [out, in] (a 1×1 conv's [out, in, 1, 1] is reshaped).
struct Linear {
  Tensor weight, bias;  // bias may be undefined
  static Linear from(const Weights& w, const std::string& prefix, bool has_bias = true);
  Tensor operator()(const Tensor& x) const { return linear(x, weight, bias); }
};

struct LayerNorm {
  Tensor weight, bias;
  double eps = 1e-5;
  static LayerNorm from(const Weights& w, const std::string& prefix, double eps);
  Tensor operator()(const Tensor& x) const { return layer_norm(x, weight, bias, eps); }
};

// x [N, H, W, Cin] → [N, Ho, Wo, Cout].
struct Conv2d {
  Tensor weight, bias;
  Conv2dParams params;
  static Conv2d from(const Weights& w, const std::string& prefix, int64_t stride, int64_t pad);
  Tensor operator()(const Tensor& x) const { return conv2d(x, weight, bias, params); }
};

// x [N, H, W, C] → [N, H, W, C] (stride 1, "same" padding for an odd kernel).
struct DepthwiseConv2d {
  Tensor weight, bias;
  int64_t pad = 0;
  static DepthwiseConv2d from(const Weights& w, const std::string& prefix);
  Tensor operator()(const Tensor& x) const { return depthwise_conv2d(x, weight, bias, pad, pad); }
};

// BatchNorm over the last dim; eval mode uses the running statistics.
struct BatchNorm {
  Tensor weight, bias, running_mean, running_var;
  double eps = 1e-5, momentum = 0.1;
  static BatchNorm from(const Weights& w, const std::string& prefix);
  Tensor operator()(const Tensor& x, bool training) const {
    return batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps);
  }
};

}  // namespace tv3s::nn
