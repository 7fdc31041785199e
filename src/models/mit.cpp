#include "src/models/mit.h"

#include <cmath>

namespace tv3s {

Tensor MitAttention::operator()(const Tensor& x, int64_t H, int64_t W) const {
  const int64_t N = x.size(0), C = x.size(2);
  Tensor kv_in = x;
  if (sr_ratio > 1) {  // drops the last H mod sr rows / W mod sr columns, as PyTorch does
    Tensor reduced = sr(x.reshape(Shape{N, H, W, C}));
    kv_in = sr_norm(reduced.reshape(Shape{N, reduced.size(1) * reduced.size(2), C}));
  }
  const double scale = 1.0 / std::sqrt(double(C / heads));
  return proj(attention(q(x), k(kv_in), v(kv_in), heads, scale));
}

Tensor MitBlock::operator()(const Tensor& x, double drop_rate, Rng* rng) const {
  const int64_t N = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  auto branch = [&](const Tensor& t) { return rng && drop_rate > 0 ? nn::drop_path(t, drop_rate, *rng) : t; };
  Tensor tokens = x.reshape(Shape{N, H * W, C});
  tokens = tokens + branch(attn(norm1(tokens), H, W));
  Tensor hidden = fc1(norm2(tokens));
  hidden = gelu(dwconv(hidden.reshape(Shape{N, H, W, hidden.size(-1)})));
  tokens = tokens + branch(fc2(hidden.reshape(Shape{N, H * W, hidden.size(-1)})));
  return tokens.reshape(Shape{N, H, W, C});
}

Tensor MitStage::operator()(const Tensor& x, const nn::TrainNoise* noise, int64_t first_block,
                            int64_t total_blocks) const {
  Tensor h = patch_norm(patch_embed(x));
  for (size_t j = 0; j < blocks.size(); ++j) {
    if (!noise || !noise->rng || noise->drop_path == 0) {
      h = blocks[j](h);
      continue;
    }
    // torch.linspace(0, rate, total)[i] (the official dpr list).
    const int64_t i = first_block + int64_t(j);
    const double rate = total_blocks > 1 ? noise->drop_path * double(i) / double(total_blocks - 1) : 0;
    h = blocks[j](h, rate, noise->rng);
  }
  return norm(h);
}

Mit::Mit(const MitConfig& config, const Weights& w, const std::string& prefix) : config_(config) {
  for (int k = 1; k <= 4; ++k) {
    const int64_t C = config.channels[k - 1];
    const std::string pe = prefix + "patch_embed" + std::to_string(k);
    MitStage& stage = stages_[k - 1];
    stage.patch_embed = nn::Conv2d::from(w, pe + ".proj", k == 1 ? 4 : 2, k == 1 ? 3 : 1);
    stage.patch_norm = nn::LayerNorm::from(w, pe + ".norm", 1e-5);
    for (int64_t j = 0; j < config.depths[k - 1]; ++j) {
      const std::string b = prefix + "block" + std::to_string(k) + "." + std::to_string(j) + ".";
      MitBlock block;
      block.norm1 = nn::LayerNorm::from(w, b + "norm1", 1e-6);
      block.norm2 = nn::LayerNorm::from(w, b + "norm2", 1e-6);
      MitAttention& attn = block.attn;
      attn.heads = config.heads[k - 1];
      attn.sr_ratio = config.sr_ratios[k - 1];
      attn.q = nn::Linear::from(w, b + "attn.q");
      // kv rows [0, C) are K, [C, 2C) are V: outer slices are views, nothing is copied.
      const Tensor& kv_weight = w.get(b + "attn.kv.weight");
      const Tensor& kv_bias = w.get(b + "attn.kv.bias");
      attn.k = {kv_weight.slice_outer(0, C), kv_bias.slice_outer(0, C)};
      attn.v = {kv_weight.slice_outer(C, 2 * C), kv_bias.slice_outer(C, 2 * C)};
      attn.proj = nn::Linear::from(w, b + "attn.proj");
      if (attn.sr_ratio > 1) {
        attn.sr = nn::Conv2d::from(w, b + "attn.sr", attn.sr_ratio, 0);
        attn.sr_norm = nn::LayerNorm::from(w, b + "attn.norm", 1e-5);
      }
      block.fc1 = nn::Linear::from(w, b + "mlp.fc1");
      block.dwconv = nn::DepthwiseConv2d::from(w, b + "mlp.dwconv.dwconv");
      block.fc2 = nn::Linear::from(w, b + "mlp.fc2");
      stage.blocks.push_back(std::move(block));
    }
    stage.norm = nn::LayerNorm::from(w, prefix + "norm" + std::to_string(k), 1e-6);
  }
}

std::array<Tensor, 4> Mit::operator()(const Tensor& image, const nn::TrainNoise* noise) const {
  TV3S_CHECK(image.ndim() == 4 && image.size(3) == 3, "MiT: expected an image [N, H, W, 3], got ",
             image.desc());
  // Stage 1 is 1/4 resolution and its 8×8 spatial-reduction conv needs ≥ 8 rows/columns.
  TV3S_CHECK(image.size(1) >= 29 && image.size(2) >= 29, "MiT: input ", image.size(1), "×",
             image.size(2), " is too small (needs at least 29×29)");
  std::array<Tensor, 4> features;
  const int64_t total = config_.depths[0] + config_.depths[1] + config_.depths[2] + config_.depths[3];
  Tensor x = image;
  for (int k = 0, first = 0; k < 4; first += int(config_.depths[k]), ++k)
    x = features[k] = stages_[k](x, noise, first, total);
  return features;
}

}  // namespace tv3s
