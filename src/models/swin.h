// The Swin Transformer backbone exactly as the official TV3S code runs it (model-spec §9,
// utils/models/swin2.py: D2SwinTransformer, registered d2_Swint / d2_Swins). Data is
// channels-last throughout: stage k maps [N, H_k, W_k, C_k] to the same shape, and the map
// and its token sequence are one tensor.
//
//   patch embed   pad the normalised image right/bottom to multiples of 4 (zeros), 4×4/4
//                 conv, LayerNorm                                   → [N, ⌈H/4⌉, ⌈W/4⌉, C]
//   stage k       depths[k] blocks; block j shifts its windows by ⌊window/2⌋ when j is odd
//   block         x = x + DropPath(proj(W-MSA(LN1(x))))
//                 x = x + DropPath(fc2(GELU(fc1(LN2(x)))))
//   output k      norm_k(x) (the stage output before merging)
//   merging       (k < 3) pad an odd H/W by one at the bottom/right, concatenate the 2×2
//                 sub-grids (even row, even col), (odd, even), (even, odd), (odd, odd),
//                 LayerNorm(4C), Linear(4C → 2C, no bias)           → [N, ⌈H/2⌉, ⌈W/2⌉, 2C]
// All LayerNorms eps 1e-5, GELU exact, no absolute position embedding.
//
// W-MSA is the op window_attention (tv3s/ops/window_attention.h): the official block pads
// the normed map to multiples of the window *before* its qkv Linear and lets the padded
// tokens (whose qkv is the Linear's bias) take part as keys and values; the op takes the
// unpadded qkv and that bias, and does padding, roll, windows and the −100 shift mask by
// index arithmetic. Two details where the official code differs from the original Swin and
// Hugging Face (each moves the logits by O(1) if missed): the shift is applied in every odd
// block, also when a stage's map is no larger than one window, and padded tokens are not
// masked.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "src/models/config.h"
#include "src/nn/dropout.h"
#include "src/nn/layers.h"

namespace tv3s {

struct SwinBlock {
  nn::LayerNorm norm1, norm2;
  nn::Linear qkv, proj;
  Tensor bias_table;  // relative_position_bias_table [(2·window − 1)², heads]
  nn::Linear fc1, fc2;
  int64_t heads = 1, window = 7, shift = 0;
  // x [N, H, W, C]. Training: `drop_rate` > 0 drops each residual branch per image (two
  // independent draws from rng).
  Tensor operator()(const Tensor& x, double drop_rate = 0, Rng* rng = nullptr) const;
};

// The PatchMerging between stages: [N, H, W, C] → [N, ⌈H/2⌉, ⌈W/2⌉, 2C].
struct SwinMerge {
  nn::LayerNorm norm;
  nn::Linear reduction;
  Tensor operator()(const Tensor& x) const;
};

struct SwinStage {
  std::vector<SwinBlock> blocks;
  nn::LayerNorm norm;  // norm{k}: the stage's output norm
  SwinMerge merge;     // stages 0–2
};

class Swin {
 public:
  // Binds "<prefix>patch_embed.proj.weight", "<prefix>layers.0.blocks.0.norm1.weight", ...
  // ("backbone." in a model file, "" for a bare ImageNet backbone).
  Swin(const SwinConfig& config, const Weights& weights, const std::string& prefix);

  // image [N, H, W, 3] (normalised RGB) → c1..c4, c_k [N, H_k, W_k, C_k] with
  // H_1 = ⌈H/4⌉, H_{k+1} = ⌈H_k/2⌉ (as MiT), C_k = embed_dim·2^(k−1). Needs H, W ≥ 8.
  // noise (training): DropPath with rate linspace(0, noise->drop_path, Σdepths)[block].
  std::array<Tensor, 4> operator()(const Tensor& image, const nn::TrainNoise* noise = nullptr) const;

  const SwinConfig& config() const { return config_; }

 private:
  SwinConfig config_;
  nn::Conv2d patch_embed_;  // 4×4, stride 4
  nn::LayerNorm patch_norm_;
  std::array<SwinStage, 4> stages_;
};

}  // namespace tv3s
