#include "src/nn/layers.h"

namespace tv3s::nn {

Linear Linear::from(const Weights& w, const std::string& prefix, bool has_bias) {
  Tensor weight = w.get(prefix + ".weight");
  if (weight.ndim() == 4) weight = weight.reshape(Shape{weight.size(0), weight.size(1)});  // 1×1 conv
  return {weight, has_bias ? w.get(prefix + ".bias") : Tensor()};
}

LayerNorm LayerNorm::from(const Weights& w, const std::string& prefix, double eps) {
  return {w.get(prefix + ".weight"), w.get(prefix + ".bias"), eps};
}

Conv2d Conv2d::from(const Weights& w, const std::string& prefix, int64_t stride, int64_t pad) {
  return {w.get(prefix + ".weight"), w.get(prefix + ".bias"), Conv2dParams{stride, stride, pad, pad}};
}

DepthwiseConv2d DepthwiseConv2d::from(const Weights& w, const std::string& prefix) {
  const Tensor& weight = w.get(prefix + ".weight");
  return {weight, w.get(prefix + ".bias"), weight.size(-1) / 2};
}

BatchNorm BatchNorm::from(const Weights& w, const std::string& prefix) {
  return {w.get(prefix + ".weight"), w.get(prefix + ".bias"), w.get(prefix + ".running_mean"),
          w.get(prefix + ".running_var")};
}

}  // namespace tv3s::nn
