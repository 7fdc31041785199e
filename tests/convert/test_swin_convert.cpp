// Converting Swin checkpoints: the configuration read from the shapes (the four official
// variants and configurations of their own), --arch against the tensors, the check of the
// relative_position_index buffers, and the Swin names that are dropped. The official
// checkpoints themselves (an mmseg TV3S-Swin .pth, an ImageNet-22K-style backbone) are
// converted end to end in tests/models/test_swin_parity.cpp.
#include <vector>

#include "src/convert/checkpoint.h"
#include "src/models/parameters.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;
using test::error_message;

namespace {

ModelConfig swin_model(ModelKind kind, const SwinConfig& swin, int64_t classes) {
  ModelConfig c;
  c.kind = kind;
  c.backbone = swin.name;
  c.swin = swin;
  c.num_classes = classes;
  return c;
}

SwinConfig custom_swin() {
  SwinConfig c;
  c.embed_dim = 24, c.depths = {2, 2, 2, 2}, c.heads = {1, 2, 3, 4}, c.window = 4;
  return named_swin_config(c);
}

// The standard index of a window, as the official WindowAttention builds it.
Tensor standard_index(int64_t w) {
  const int64_t L = w * w;
  std::vector<int32_t> v(size_t(L * L));
  for (int64_t t = 0; t < L; ++t)
    for (int64_t u = 0; u < L; ++u)
      v[size_t(t * L + u)] = int32_t((t / w - u / w + w - 1) * (2 * w - 1) + (t % w - u % w + w - 1));
  return Tensor::from_vector_i32(v, Shape{L, L});
}

}  // namespace

TEST_CASE("convert: infer_config reads every Swin variant and a configuration of its own") {
  std::vector<SwinConfig> swins = swin_configs();
  swins.push_back(custom_swin());
  for (const SwinConfig& swin : swins)
    for (const ModelKind kind : {ModelKind::backbone, ModelKind::segformer, ModelKind::tv3s}) {
      const ModelConfig want = swin_model(kind, swin, kind == ModelKind::backbone ? 0 : 124);
      INFO(swin.name, " ", want.kind);
      const ModelConfig got = convert::infer_config(model_parameters(want), {}, "ckpt");
      CHECK(got.kind == kind);
      CHECK(got.backbone == swin.name);
      CHECK(got.swin == swin);
      CHECK(got.num_classes == want.num_classes);
    }
  CHECK(custom_swin().name == "swin");
}

TEST_CASE("convert: a Swin with another MLP ratio converts and its model file loads") {
  SwinConfig swin = custom_swin();
  swin.mlp_ratio = 2;
  swin = named_swin_config(swin);
  const ModelConfig want = swin_model(ModelKind::segformer, swin, 3);
  const ModelConfig got = convert::infer_config(model_parameters(want), {}, "ckpt");
  CHECK(got.swin.mlp_ratio == 2);
  CHECK(ModelConfig::from_metadata(got.to_metadata(), "m").swin == swin);
}

TEST_CASE("convert: --arch checks a Swin checkpoint, and a MiT name cannot pass for it") {
  const auto t = model_parameters(swin_model(ModelKind::tv3s, swin_configs()[0], 124));
  convert::ConvertOptions options;
  options.arch = "swin_t";
  CHECK(convert::infer_config(t, options, "ckpt").backbone == "swin_t");
  options.arch = "swin_s";
  CHECK(error_message([&] { convert::infer_config(t, options, "ckpt"); }) ==
        "ckpt: --arch swin_s does not match the checkpoint, whose Swin is swin_t (embed 96, depths "
        "[2, 2, 6, 2], heads [3, 6, 12, 24], window 7)");
  options.arch = "mit_b1";
  CHECK(error_message([&] { convert::infer_config(t, options, "ckpt"); }) ==
        "ckpt: --arch mit_b1 is a MiT, but the checkpoint holds a Swin (backbone.layers.*)");

  // A table that is not (2w − 1)² rows, and stages with different windows.
  auto with = [&](const std::string& name, const Shape& shape) {
    auto p = t;
    for (auto& [n, s] : p)
      if (n == name) s = shape;
    return p;
  };
  CHECK(error_message([&] {
          convert::infer_config(with("backbone.layers.1.blocks.0.attn.relative_position_bias_table", Shape{168, 6}), {}, "ckpt");
        }) == "ckpt: cannot tell the Swin window: backbone.layers.1.blocks.0.attn.relative_position_bias_table "
              "has 168 rows, not (2·window − 1)²");
  CHECK(error_message([&] {
          convert::infer_config(with("backbone.layers.3.blocks.0.attn.relative_position_bias_table", Shape{81, 24}), {}, "ckpt");
        }) == "ckpt: the Swin stages have different windows [7, 7, 7, 5] (tv3s runs one window size)");
  // Heads that do not divide the channels.
  CHECK(error_message([&] {
          convert::infer_config(with("backbone.layers.0.blocks.0.attn.relative_position_bias_table", Shape{169, 5}), {}, "ckpt");
        }) == "ckpt: the checkpoint's Swin is not one tv3s can run: Swin backbone: stage 0's 96 channels "
              "do not split into 5 heads");
}

TEST_CASE("convert: relative_position_index must be the standard index") {
  for (int64_t w : {1, 4, 7, 12}) {
    INFO("window ", w);
    CHECK_NOTHROW(convert::check_relative_position_index("i", standard_index(w), "ckpt"));
  }
  std::vector<int32_t> v = standard_index(7).to_vector_i32();
  v[49 * 3 + 5] += 1;
  CHECK(error_message([&] {
          convert::check_relative_position_index("layers.0.blocks.1.attn.relative_position_index",
                                                 Tensor::from_vector_i32(v, Shape{49, 49}), "ckpt");
        }) == "ckpt: layers.0.blocks.1.attn.relative_position_index[3, 5] = 83 is not the standard Swin "
              "relative position index (82); tv3s computes that index and cannot run another");
  CHECK(error_message([&] {
          convert::check_relative_position_index("x", Tensor::from_vector_i32(std::vector<int32_t>(12), Shape{3, 4}), "ckpt");
        }) == "ckpt: x has shape [3, 4], not [window², window²]");
}

TEST_CASE("convert: the original Swin's classifier norm and shift masks are dropped, norm0..3 kept") {
  CHECK(convert::unused_by_model("norm.weight"));
  CHECK(convert::unused_by_model("norm.bias"));
  CHECK(convert::unused_by_model("layers.0.blocks.1.attn_mask"));
  CHECK(convert::unused_by_model("head.weight"));
  CHECK_FALSE(convert::unused_by_model("norm0.weight"));
  CHECK_FALSE(convert::unused_by_model("backbone.norm3.bias"));
  CHECK_FALSE(convert::unused_by_model("layers.0.blocks.1.attn.qkv.weight"));
}

TEST_CASE("convert: Hugging Face Swin names (SwinBackbone, SwinModel) map onto the official ones") {
  using convert::HfName;
  struct Case {
    const char* hf;
    const char* official;
    HfName::Part part;
  };
  for (const Case& c :
       {Case{"embeddings.patch_embeddings.projection.weight", "patch_embed.proj.weight", HfName::whole},
        Case{"swin.embeddings.norm.bias", "patch_embed.norm.bias", HfName::whole},
        Case{"encoder.layers.2.blocks.17.layernorm_before.weight", "layers.2.blocks.17.norm1.weight", HfName::whole},
        Case{"encoder.layers.0.blocks.1.layernorm_after.bias", "layers.0.blocks.1.norm2.bias", HfName::whole},
        Case{"encoder.layers.1.blocks.0.attention.self.query.weight", "layers.1.blocks.0.attn.qkv.weight", HfName::qkv_query},
        Case{"encoder.layers.1.blocks.0.attention.self.key.bias", "layers.1.blocks.0.attn.qkv.bias", HfName::qkv_key},
        Case{"swin.encoder.layers.1.blocks.0.attention.self.value.weight", "layers.1.blocks.0.attn.qkv.weight", HfName::qkv_value},
        Case{"encoder.layers.3.blocks.1.attention.self.relative_position_bias_table",
             "layers.3.blocks.1.attn.relative_position_bias_table", HfName::whole},
        Case{"encoder.layers.3.blocks.1.attention.output.dense.weight", "layers.3.blocks.1.attn.proj.weight", HfName::whole},
        Case{"encoder.layers.3.blocks.1.intermediate.dense.bias", "layers.3.blocks.1.mlp.fc1.bias", HfName::whole},
        Case{"encoder.layers.3.blocks.1.output.dense.weight", "layers.3.blocks.1.mlp.fc2.weight", HfName::whole},
        Case{"encoder.layers.0.downsample.reduction.weight", "layers.0.downsample.reduction.weight", HfName::whole},
        Case{"hidden_states_norms.stage1.weight", "norm0.weight", HfName::whole},
        Case{"hidden_states_norms.stage4.bias", "norm3.bias", HfName::whole},
        Case{"hidden_states_norms.stage5.bias", "", HfName::whole},
        Case{"encoder.layers.0.blocks.x.layernorm_before.weight", "", HfName::whole},
        Case{"encoder.layers.0.blocks.0.attention.self.relative_position_bias_table.extra", "", HfName::whole}}) {
    INFO(c.hf);
    const HfName got = convert::map_hf_name(c.hf);
    CHECK(got.official == c.official);
    if (*c.official) CHECK(got.part == c.part);
  }
  CHECK(convert::unused_by_model("swin.layernorm.weight"));  // SwinModel's classifier norm
  // A query without its key and value is named.
  convert::NamedTensors t = {{"encoder.layers.0.blocks.0.attention.self.query.bias", Tensor::zeros(Shape{4})}};
  CHECK(error_message([&] { convert::map_hf_state_dict(t, "x.bin"); }) ==
        "x.bin: 'encoder.layers.0.blocks.0.attention.self.query.bias' has no key to go with it "
        "(layers.0.blocks.0.attn.qkv.bias = query, key, value)");
}
