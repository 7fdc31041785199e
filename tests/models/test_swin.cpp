// The Swin backbone's configuration, parameter set and model plumbing (the numbers of the
// official model are checked against PyTorch in tests/models/test_swin_parity.cpp):
// parameter counts of T/S/B/L against timm's, metadata round trips, output sizes at sizes
// that are and are not multiples of the window, the PatchMerging sub-grid order, the shift
// in every odd block, and a Swin TV3S model end to end on random weights.
#include <map>

#include "src/models/parameters.h"
#include "src/models/random_weights.h"
#include "src/models/segformer.h"
#include "src/models/swin.h"
#include "src/models/tv3s_model.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using test::error_message;

namespace {

int64_t count(const ParameterList& params) {
  int64_t n = 0;
  for (const auto& [name, shape] : params) n += shape.numel();
  return n;
}

SwinConfig small_swin() {
  SwinConfig c;
  c.embed_dim = 8;
  c.depths = {2, 1, 2, 1};
  c.heads = {1, 2, 2, 4};
  c.window = 3;
  return named_swin_config(c);
}

ModelConfig swin_model(ModelKind kind, const SwinConfig& swin, int64_t classes = 3) {
  ModelConfig c;
  c.kind = kind;
  c.backbone = swin.name;
  c.swin = swin;
  c.num_classes = kind == ModelKind::backbone ? 0 : classes;
  c.embed_dim = 16;
  c.window = 4, c.shift = 2;
  return c;
}

}  // namespace

TEST_CASE("swin: parameter counts of T, S, B and L equal timm's backbones (+ norm0..3)") {
  // timm's swin_*_patch4_window7_224 state dicts without head.*, norm.*, the index and mask
  // buffers, plus the four stage output norms of the official D2SwinTransformer.
  const std::map<std::string, int64_t> want = {
      {"swin_t", 27520698}, {"swin_s", 48838602}, {"swin_b", 86745016}, {"swin_l", 194998164}};
  for (const SwinConfig& c : swin_configs()) {
    INFO(c.name);
    CHECK(count(swin_parameters(c)) == want.at(c.name));
  }
}

TEST_CASE("swin: named configurations, a configuration of its own, and bad ones") {
  ModelConfig m;
  m.set_backbone("swin_s");
  CHECK(m.is_swin());
  CHECK(m.swin.depths == std::array<int64_t, 4>{2, 2, 18, 2});
  CHECK(m.backbone_channels() == std::array<int64_t, 4>{96, 192, 384, 768});
  m.set_backbone("mit_b1");
  CHECK(!m.is_swin());
  CHECK(m.backbone_channels() == std::array<int64_t, 4>{64, 128, 320, 512});
  CHECK(error_message([&] { m.set_backbone("swin_xl"); }) ==
        "unknown backbone 'swin_xl' (known: mit_b0 … mit_b5, swin_t, swin_s, swin_b, swin_l)");

  CHECK(small_swin().name == "swin");
  ModelConfig own;
  own.backbone = "swin", own.swin = small_swin();
  CHECK(own.backbone_description() == "swin (embed 8, depths 2,1,2,1, heads 1,2,2,4, window 3)");
  own.set_backbone("swin_b");
  CHECK(own.backbone_description() == "swin_b");
  SwinConfig t = small_swin();
  t.embed_dim = 96, t.depths = {2, 2, 6, 2}, t.heads = {3, 6, 12, 24}, t.window = 7;
  CHECK(named_swin_config(t).name == "swin_t");
  t.heads[2] = 5;
  CHECK(error_message([&] { named_swin_config(t); }) ==
        "Swin backbone: stage 2's 384 channels do not split into 5 heads");
  t.heads[2] = 12, t.depths[3] = 0;
  CHECK(error_message([&] { named_swin_config(t); }) == "Swin backbone: stage 3 has 0 blocks (1 … 1024)");
  t.depths[3] = 2, t.window = 0;
  CHECK(error_message([&] { named_swin_config(t); }).find("out of range") != std::string::npos);
}

TEST_CASE("swin: model files carry the configuration and the _city head in their metadata") {
  ModelConfig c = swin_model(ModelKind::tv3s, small_swin());
  c.city_head = true;
  const std::map<std::string, std::string> md = c.to_metadata();
  CHECK(md.at("tv3s.backbone") == "swin");
  CHECK(md.at("tv3s.swin") == R"({"depths":[2,1,2,1],"embed_dim":8,"heads":[1,2,2,4],"mlp_ratio":4,"window":3})");
  CHECK(md.at("tv3s.head") == "city");
  const ModelConfig back = ModelConfig::from_metadata(md, "m.safetensors");
  CHECK(back.swin == c.swin);
  CHECK(back.backbone == "swin");
  CHECK(back.city_head);

  std::map<std::string, std::string> bad = md;
  bad["tv3s.backbone"] = "swin_t";
  CHECK(error_message([&] { ModelConfig::from_metadata(bad, "m.safetensors"); }).find(
            "m.safetensors: tv3s.backbone 'swin_t' does not match tv3s.swin") == 0);
  bad = md;
  bad["tv3s.swin"] = R"({"depths":[2,1,2],"embed_dim":8,"heads":[1,2,2,4],"window":3})";
  CHECK(error_message([&] { ModelConfig::from_metadata(bad, "m.safetensors"); }) ==
        "m.safetensors: metadata tv3s.swin 'depths' must be a list of 4 entries, got [2,1,2]");
  bad = md;
  bad.erase("tv3s.swin");
  CHECK(error_message([&] { ModelConfig::from_metadata(bad, "m.safetensors"); }).find(
            "m.safetensors: metadata has no 'tv3s.swin'") == 0);
  bad = md;
  bad["tv3s.head"] = "cityscapes";
  CHECK(error_message([&] { ModelConfig::from_metadata(bad, "m.safetensors"); }).find(
            "m.safetensors: tv3s.head 'cityscapes'") == 0);
  // tv3s 0.1 called a backbone-only file "mit".
  std::map<std::string, std::string> old = swin_model(ModelKind::backbone, small_swin()).to_metadata();
  CHECK(old.at("tv3s.model") == "backbone");
  old["tv3s.model"] = "mit";
  CHECK(ModelConfig::from_metadata(old, "old.safetensors").kind == ModelKind::backbone);
}

TEST_CASE("swin: output sizes ⌈H/4⌉, then ⌈·/2⌉, at sizes that are and are not window multiples") {
  const SwinConfig swin = small_swin();
  const Weights w = random_weights(swin_parameters(swin), 3);
  const Swin net(swin, w, "");
  NoGradGuard no_grad;
  Rng rng(4);
  for (auto [H, W] : {std::pair<int64_t, int64_t>{48, 72}, {37, 53}, {8, 8}}) {
    INFO(H, "×", W);
    const auto features = net(Tensor::uniform(Shape{2, H, W, 3}, rng, -1, 1));
    int64_t h = (H + 3) / 4, wd = (W + 3) / 4;
    for (int k = 0; k < 4; ++k) {
      CHECK(features[k].shape() == Shape{2, h, wd, swin.channels()[k]});
      h = (h + 1) / 2, wd = (wd + 1) / 2;
    }
  }
  CHECK(error_message([&] { net(Tensor::zeros(Shape{1, 7, 40, 3})); }) ==
        "Swin: input 7×40 is too small (needs at least 8×8)");
}

TEST_CASE("swin: PatchMerging concatenates (even, even), (odd, even), (even, odd), (odd, odd)") {
  // With LayerNorm's γ = 1, β = 0 removed from the picture by a reduction that picks one
  // input channel each, the merged token (i, j) must read x[2i + dy, 2j + dx] in the
  // official order; an odd map is padded with zeros at the bottom/right.
  const int64_t C = 1, H = 3, W = 5;
  SwinMerge merge;
  merge.norm = {Tensor::ones(Shape{4 * C}, DType::f64), Tensor::zeros(Shape{4 * C}, DType::f64), 1e-5};
  merge.reduction.weight = Tensor::from_vector_f64({1, 0, 0, 0, 0, 1, 0, 0}, Shape{2, 4});
  std::vector<double> v(H * W);
  for (int64_t i = 0; i < H * W; ++i) v[size_t(i)] = double(i + 1);
  const Tensor x = Tensor::from_vector_f64(v, Shape{1, H, W, C});
  // The permuted concatenation before norm/reduction, read back through a norm-free path:
  // reduction rows 0 and 1 pick blocks 0 (even, even) and 1 (odd, even) of the normed token.
  NoGradGuard no_grad;
  const Tensor y = merge(x);
  CHECK(y.shape() == Shape{1, 2, 3, 2});
  // Token (0, 0) holds [x(0,0), x(1,0), x(0,1), x(1,1)] = [1, 6, 2, 7]: normalised, blocks 0
  // and 1 are (1 − 4)/σ and (6 − 4)/σ with σ = sqrt(((−3)² + 2² + (−2)² + 3²)/4 + 1e-5).
  const double sigma = std::sqrt((9.0 + 4 + 4 + 9) / 4 + 1e-5);
  const std::vector<double> got = y.to_vector_f64();
  CHECK(got[0] == doctest::Approx(-3 / sigma).epsilon(1e-12));
  CHECK(got[1] == doctest::Approx(2 / sigma).epsilon(1e-12));
  // Token (1, 2) of the padded 4×6 map: [x(2,4), pad, pad, pad] = [15, 0, 0, 0].
  const double mean = 15.0 / 4, sd = std::sqrt((3 * mean * mean + (15 - mean) * (15 - mean)) / 4 + 1e-5);
  CHECK(got[10] == doctest::Approx((15 - mean) / sd).epsilon(1e-12));
  CHECK(got[11] == doctest::Approx(-mean / sd).epsilon(1e-12));
}

TEST_CASE("swin: a shifted block differs from an unshifted one on a map smaller than its window") {
  // The original Swin switches the shift off when a stage's map is no larger than one
  // window; the official TV3S code keeps it, and there it matters: the rolled padding
  // moves and the mask separates the real tokens. (The whole backbone against PyTorch,
  // with such stages, is in test_swin_parity.cpp.)
  const SwinConfig swin = small_swin();
  const Weights w = random_weights(swin_parameters(swin), 9);
  NoGradGuard no_grad;
  Rng rng(5);
  SwinBlock block;
  block.norm1 = nn::LayerNorm::from(w, "layers.0.blocks.1.norm1", 1e-5);
  block.norm2 = nn::LayerNorm::from(w, "layers.0.blocks.1.norm2", 1e-5);
  block.qkv = nn::Linear::from(w, "layers.0.blocks.1.attn.qkv");
  block.proj = nn::Linear::from(w, "layers.0.blocks.1.attn.proj");
  block.bias_table = w.get("layers.0.blocks.1.attn.relative_position_bias_table");
  block.fc1 = nn::Linear::from(w, "layers.0.blocks.1.mlp.fc1");
  block.fc2 = nn::Linear::from(w, "layers.0.blocks.1.mlp.fc2");
  block.heads = 1, block.window = 3;
  const Tensor x = Tensor::uniform(Shape{1, 2, 2, 8}, rng, -1, 1);
  block.shift = 0;
  const std::vector<float> plain = block(x).to_vector();
  block.shift = 1;
  const std::vector<float> shifted = block(x).to_vector();
  CHECK(plain != shifted);
}

TEST_CASE("swin: a Swin TV3S model runs every mode on random weights, and its backbone file loads") {
  const ModelConfig config = swin_model(ModelKind::tv3s, small_swin());
  Weights weights = random_weights(model_parameters(config), 7);
  const Tv3s model(config, weights);
  NoGradGuard no_grad;
  Rng rng(6);
  const Tensor clip = Tensor::uniform(Shape{2 * 4, 40, 56, 3}, rng, -1, 1);
  const Tv3sOutput out = model.forward(clip, 4);
  CHECK(out.frames.features[0].shape() == Shape{8, 10, 14, 8});
  CHECK(out.frames.features[3].shape() == Shape{8, 2, 2, 64});
  CHECK(out.logits.shape() == Shape{2, 10, 14, 3});
  Tv3sState state;
  const Tensor one = model.forward(clip.slice_outer(0, 2), 1, &state).logits;
  CHECK(one.shape() == Shape{2, 10, 14, 3});
  CHECK(state.B == 2);
}
