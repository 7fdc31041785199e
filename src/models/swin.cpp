#include "src/models/swin.h"

#include <cmath>

#include "tv3s/ops/window_attention.h"

namespace tv3s {
namespace {

constexpr double kNormEps = 1e-5;  // every LayerNorm of the official Swin

// Zeros appended at the bottom and right of x [N, H, W, C] up to multiples of `multiple`
// (x itself when nothing is missing).
Tensor pad_bottom_right(const Tensor& x, int64_t multiple) {
  const int64_t pad_h = (multiple - x.size(1) % multiple) % multiple;
  const int64_t pad_w = (multiple - x.size(2) % multiple) % multiple;
  if (pad_h == 0 && pad_w == 0) return x;
  return pad(x, {0, 0, 0, 0}, {0, pad_h, pad_w, 0});
}

}  // namespace

Tensor SwinBlock::operator()(const Tensor& x, double drop_rate, Rng* rng) const {
  auto branch = [&](const Tensor& t) { return rng && drop_rate > 0 ? nn::drop_path(t, drop_rate, *rng) : t; };
  const int64_t C = x.size(3);
  const double scale = 1.0 / std::sqrt(double(C / heads));
  // A padded position's qkv is the Linear of a zero token: its bias (qkv_bias=True in every
  // official Swin, and a parameter of every model file, src/models/parameters.cpp).
  Tensor h = x + branch(proj(window_attention(qkv(norm1(x)), qkv.bias, bias_table, heads, window, shift, scale)));
  return h + branch(fc2(gelu(fc1(norm2(h)))));
}

Tensor SwinMerge::operator()(const Tensor& x) const {
  const Tensor even = pad_bottom_right(x, 2);
  const int64_t N = even.size(0), h = even.size(1) / 2, w = even.size(2) / 2, C = even.size(3);
  // [N, h, 2(dy), w, 2(dx), C] → [N, h, w, dx, dy, C]: channel block dx·2 + dy, which is the
  // official order x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2].
  const Tensor blocks = permute(even.reshape(Shape{N, h, 2, w, 2, C}), {0, 1, 3, 4, 2, 5});
  return reduction(norm(blocks.reshape(Shape{N, h, w, 4 * C})));
}

Swin::Swin(const SwinConfig& config, const Weights& w, const std::string& prefix) : config_(config) {
  patch_embed_ = nn::Conv2d::from(w, prefix + "patch_embed.proj", 4, 0);
  patch_norm_ = nn::LayerNorm::from(w, prefix + "patch_embed.norm", kNormEps);
  for (int i = 0; i < 4; ++i) {
    SwinStage& stage = stages_[i];
    const std::string layer = prefix + "layers." + std::to_string(i) + ".";
    for (int64_t j = 0; j < config.depths[i]; ++j) {
      const std::string b = layer + "blocks." + std::to_string(j) + ".";
      SwinBlock block;
      block.norm1 = nn::LayerNorm::from(w, b + "norm1", kNormEps);
      block.qkv = nn::Linear::from(w, b + "attn.qkv");
      block.bias_table = w.get(b + "attn.relative_position_bias_table");
      block.proj = nn::Linear::from(w, b + "attn.proj");
      block.norm2 = nn::LayerNorm::from(w, b + "norm2", kNormEps);
      block.fc1 = nn::Linear::from(w, b + "mlp.fc1");
      block.fc2 = nn::Linear::from(w, b + "mlp.fc2");
      block.heads = config.heads[i];
      block.window = config.window;
      block.shift = j % 2 == 1 ? config.window / 2 : 0;
      stage.blocks.push_back(std::move(block));
    }
    stage.norm = nn::LayerNorm::from(w, prefix + "norm" + std::to_string(i), kNormEps);
    if (i < 3) {
      stage.merge.norm = nn::LayerNorm::from(w, layer + "downsample.norm", kNormEps);
      stage.merge.reduction = nn::Linear::from(w, layer + "downsample.reduction", false);
    }
  }
}

std::array<Tensor, 4> Swin::operator()(const Tensor& image, const nn::TrainNoise* noise) const {
  TV3S_CHECK(image.ndim() == 4 && image.size(3) == 3, "Swin: expected an image [N, H, W, 3], got ",
             image.desc());
  // The smallest size whose 1/4 map still has two rows (the TV3S grid halves it again).
  TV3S_CHECK(image.size(1) >= 8 && image.size(2) >= 8, "Swin: input ", image.size(1), "×",
             image.size(2), " is too small (needs at least 8×8)");
  const bool dropping = noise && noise->rng && noise->drop_path > 0;
  const int64_t total = config_.depths[0] + config_.depths[1] + config_.depths[2] + config_.depths[3];
  std::array<Tensor, 4> features;
  // The official PatchEmbed pads the already normalised image, so the padding is the mean
  // colour in pixel terms.
  Tensor x = patch_norm_(patch_embed_(pad_bottom_right(image, 4)));
  for (int i = 0, first = 0; i < 4; first += int(config_.depths[i]), ++i) {
    const SwinStage& stage = stages_[i];
    for (size_t j = 0; j < stage.blocks.size(); ++j) {
      // torch.linspace(0, rate, total)[block] (the official dpr list).
      const int64_t block = first + int64_t(j);
      const double rate = dropping && total > 1 ? noise->drop_path * double(block) / double(total - 1) : 0;
      x = stage.blocks[j](x, rate, dropping ? noise->rng : nullptr);
    }
    features[i] = stage.norm(x);
    if (i < 3) x = stage.merge(x);
  }
  return features;
}

}  // namespace tv3s
