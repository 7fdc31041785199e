// Param-wise multipliers (training-spec.md §6). mmcv sorts custom_keys by length (longest
// first), then alphabetically, and stops at the first key found anywhere in the name:
// that is "pos_block" (9), "head" (4), "norm" (4). The order matters: a decode-head norm
// contains both "head" and "norm", and "head" wins (lr ×10, decay kept).
#include "src/train/param_groups.h"

namespace tv3s::train {

ParamRule param_rule(const std::string& full_name) {
  struct Key {
    const char* name;
    double lr_mult, decay_mult;
  };
  static const Key keys[] = {{"pos_block", 1, 0}, {"head", 10, 1}, {"norm", 1, 0}};
  for (const Key& key : keys)
    if (full_name.find(key.name) != std::string::npos) return ParamRule{key.lr_mult, key.decay_mult, key.name};
  return ParamRule{};
}

}  // namespace tv3s::train
