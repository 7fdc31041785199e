#include "src/models/precision.h"

#include "src/core/text.h"

namespace tv3s {

bool parameter_keeps_f32(const std::string& name) {
  return name.find(".bn.") != std::string::npos ||  // decode_head.linear_fuse.bn.*
         ends_with(name, ".A_log") || ends_with(name, ".D") || ends_with(name, ".dt_proj.bias");
}

Weights weights_in_precision(const Weights& weights, DType precision) {
  TV3S_CHECK(precision == DType::f32 || precision == DType::f16 || precision == DType::bf16,
             "model precision must be f32, f16 or bf16, got ", dtype_name(precision));
  if (precision == DType::f32) return weights;
  std::map<std::string, Tensor> converted;
  for (const auto& [name, t] : weights.all()) {
    const Tensor f32 = t.detach().to(DType::f32);
    if (parameter_keeps_f32(name)) converted.emplace(name, f32);
    else if (t.is_cuda()) converted.emplace(name, f32.to(precision));
    else converted.emplace(name, f32.to(precision).to(DType::f32));  // rounded, f32 storage
  }
  return Weights(std::move(converted));
}

}  // namespace tv3s
