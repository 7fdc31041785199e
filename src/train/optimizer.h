// AdamW over a model's named parameters, with the official recipe's param-wise rules
// (param_groups.h) and PyTorch's per-parameter semantics: each parameter keeps its own
// step count, and a parameter that got no gradient is skipped entirely (no decay either).
//
// Moments are allocated eagerly, as zeros on each parameter's device, when the optimizer
// is made: their memory is needed from the first step anyway, and a checkpoint then holds
// a moment for every parameter (zeros and step 0 for one never updated, e.g. the unused
// decode_head.conv_seg).
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "src/train/param_groups.h"
#include "tv3s/tensor.h"

namespace tv3s::train {

struct AdamWConfig {
  double lr = 6e-5, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};

// What a checkpoint keeps of an optimizer: by parameter name, CPU f32 copies of both
// moments and the parameter's step count.
struct AdamWState {
  std::map<std::string, Tensor> m, v;
  std::map<std::string, int64_t> steps;
};

class AdamW {
 public:
  // params: name → leaf tensor (f32, requires grad; any device). Names must be unique;
  // the multipliers come from param_rule(name).
  AdamW(std::vector<std::pair<std::string, Tensor>> params, AdamWConfig config);

  // One update of every parameter that has a gradient, with
  //   lr = (config.lr · rule.lr_mult) · lr_factor,  weight decay = config.weight_decay · rule.decay_mult
  // (decoupled: scaled by that lr, as PyTorch does). Gradients are multiplied by grad_scale
  // first. A parameter without a gradient is skipped: no decay, no step count.
  void step(double lr_factor, double grad_scale = 1.0);
  // Drops every parameter's gradient (the next backward starts from none).
  void zero_grad();
  // How many times step() ran (after load_state: the largest restored step count).
  int64_t steps() const { return steps_; }
  const AdamWConfig& config() const { return config_; }

  struct Param {
    std::string name;
    Tensor tensor;   // the model's leaf, updated in place
    ParamRule rule;
    Tensor m, v;     // f32, the parameter's shape and device
    int64_t step = 0;
  };
  const std::vector<Param>& params() const { return params_; }

  // Checkpoints. save_state copies to the CPU. load_state needs exactly this optimizer's
  // parameter names with matching shapes (throws naming the first problem, prefixed by
  // `what`, e.g. the checkpoint's path) and copies the moments to the parameters' devices.
  AdamWState save_state() const;
  void load_state(const AdamWState& state, const std::string& what);

 private:
  std::vector<Param> params_;
  AdamWConfig config_;
  int64_t steps_ = 0;
};

}  // namespace tv3s::train
