// Which learning-rate and weight-decay multipliers a parameter gets, by its full name —
// the official recipe's param-wise rules (training-spec.md §6: mmcv 1.3.0
// DefaultOptimizerConstructor with custom_keys {pos_block: decay 0, norm: decay 0,
// head: lr ×10}).
#pragma once
#include <string>

namespace tv3s::train {

struct ParamRule {
  double lr_mult = 1, decay_mult = 1;
  const char* matched = "";  // the key that matched ("pos_block", "head", "norm"), or ""
};

// The keys are tried in mmcv's order — pos_block, head, norm (by length, then name) — and
// the first that is a substring of `full_name` decides. So every decode_head.* parameter,
// its norms included, gets lr ×10 and keeps its decay.
ParamRule param_rule(const std::string& full_name);

}  // namespace tv3s::train
