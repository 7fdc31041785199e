// The MiT encoder (SegFormer's Mix Transformer, B0–B5), exactly as the official backbone
// (model-spec §2). Data is channels-last throughout: stage k maps [N, H, W, C_{k-1}] to
// [N, H_k, W_k, C_k], and inside a stage the map and its token sequence are one tensor.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "src/models/config.h"
#include "src/nn/dropout.h"
#include "src/nn/layers.h"

namespace tv3s {

// Efficient self-attention: keys and values come from the map shrunk by a k×k/stride-k
// convolution (k = sr ratio) and a LayerNorm (eps 1e-5); queries from every token.
struct MitAttention {
  nn::Linear q, k, v, proj;  // k and v are the two halves of the official `kv` Linear
  nn::Conv2d sr;             // only when sr_ratio > 1
  nn::LayerNorm sr_norm;
  int64_t heads = 1, sr_ratio = 1;
  // x [N, H·W, C] → [N, H·W, C]
  Tensor operator()(const Tensor& x, int64_t H, int64_t W) const;
};

// Pre-norm block: x + Attn(LN1(x)), then x + MixFFN(LN2(x)); MixFFN = fc1 → 3×3
// depthwise conv → GELU (exact) → fc2. Block norms use eps 1e-6 (HF uses 1e-5: not ours).
struct MitBlock {
  nn::LayerNorm norm1, norm2;
  MitAttention attn;
  nn::Linear fc1, fc2;
  nn::DepthwiseConv2d dwconv;
  // x [N, H, W, C]. Training: `drop_rate` > 0 drops each residual branch per image
  // (two independent draws from rng).
  Tensor operator()(const Tensor& x, double drop_rate = 0, Rng* rng = nullptr) const;
};

struct MitStage {
  nn::Conv2d patch_embed;  // 7×7/s4/p3 (stage 1) or 3×3/s2/p1, overlapping patches
  nn::LayerNorm patch_norm;  // eps 1e-5
  std::vector<MitBlock> blocks;
  nn::LayerNorm norm;  // eps 1e-6
  // first_block: the index of this stage's first block among all blocks (DropPath rates).
  Tensor operator()(const Tensor& x, const nn::TrainNoise* noise = nullptr, int64_t first_block = 0,
                    int64_t total_blocks = 1) const;
};

class Mit {
 public:
  // Binds the parameters "<prefix>patch_embed1.proj.weight", ... ("backbone." in a model
  // file, "" for a bare ImageNet backbone).
  Mit(const MitConfig& config, const Weights& weights, const std::string& prefix);

  // image [N, H, W, 3] (normalised RGB) → c1..c4, c_k [N, H_k, W_k, C_k] with
  // H_1 = ceil(H/4), H_{k+1} = ceil(H_k/2). Needs H, W ≥ 29 (see model-spec §2.3).
  // noise (training): DropPath with rate linspace(0, noise->drop_path, Σdepths)[block].
  std::array<Tensor, 4> operator()(const Tensor& image, const nn::TrainNoise* noise = nullptr) const;

  const MitConfig& config() const { return config_; }

 private:
  MitConfig config_;
  std::array<MitStage, 4> stages_;
};

}  // namespace tv3s
