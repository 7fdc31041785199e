#include "src/nn/weights.h"

namespace tv3s {

const Tensor& Weights::get(const std::string& name) const {
  auto it = tensors_.find(name);
  TV3S_CHECK(it != tensors_.end(), "missing parameter '", name, "'");
  return it->second;
}

int64_t Weights::numel() const {
  int64_t n = 0;
  for (auto& [name, t] : tensors_) n += t.numel();
  return n;
}

void Weights::requires_grad(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    auto it = tensors_.find(name);
    TV3S_CHECK(it != tensors_.end(), "missing parameter '", name, "'");
    it->second.requires_grad_(true);
  }
}

}  // namespace tv3s
