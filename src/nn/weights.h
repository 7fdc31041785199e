// Named tensors of a model: the official parameter names (model-spec §2.5, §12) mapped to
// tensors on one device. Models take their parameters from here by name, so a model file
// and the model code meet only through these names.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tv3s/tensor.h"

namespace tv3s {

class Weights {
 public:
  Weights() = default;
  // Parameters in `tensors` (checked against nothing here; see load_model_file).
  explicit Weights(std::map<std::string, Tensor> tensors) : tensors_(std::move(tensors)) {}

  // The tensor called `name`; throws "missing parameter '<name>'" when absent.
  const Tensor& get(const std::string& name) const;
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const std::map<std::string, Tensor>& all() const { return tensors_; }
  // Marks the named tensors as autograd leaves. Done on the table's own handles, so every
  // module bound afterwards (and every handle taken with get) shares the gradient record.
  void requires_grad(const std::vector<std::string>& names);
  int64_t numel() const;  // parameters in total
  // Where the parameters live (CPU for an empty table).
  Device device() const { return tensors_.empty() ? Device::CPU : tensors_.begin()->second.device(); }

 private:
  std::map<std::string, Tensor> tensors_;
};

}  // namespace tv3s
