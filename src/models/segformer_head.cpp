#include "src/models/segformer_head.h"

#include <string>

namespace tv3s {

SegformerHead::SegformerHead(const Weights& w) {
  for (int k = 0; k < 4; ++k)
    linear_c_[k] = nn::Linear::from(w, "decode_head.linear_c" + std::to_string(k + 1) + ".proj");
  linear_fuse_ = nn::Linear::from(w, "decode_head.linear_fuse.conv", /*has_bias=*/false);
  bn_ = nn::BatchNorm::from(w, "decode_head.linear_fuse.bn");
  linear_pred_ = nn::Linear::from(w, "decode_head.linear_pred");
}

Tensor SegformerHead::fuse(const std::array<Tensor, 4>& c, bool training) const {
  const int64_t h = c[0].size(1), w = c[0].size(2);
  std::array<Tensor, 4> e;
  for (int k = 0; k < 4; ++k) {
    e[k] = linear_c_[k](c[k]);
    if (k > 0) e[k] = resize_bilinear(e[k], h, w);  // to the c1 size; c1 itself is not resized
  }
  // Channel order of linear_fuse's input is [c4, c3, c2, c1] (model-spec §3, checklist 3).
  Tensor cat = concat({e[3], e[2], e[1], e[0]}, -1);
  return relu(bn_(linear_fuse_(cat), training));
}

}  // namespace tv3s
