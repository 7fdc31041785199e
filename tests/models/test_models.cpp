// Model plumbing: parameter sets against the spec's counts, configuration metadata, the
// loader's checks, output shapes at odd sizes.
#include <string>

#include "src/io/safetensors.h"
#include "src/models/model_file.h"
#include "src/models/parameters.h"
#include "src/models/random_weights.h"
#include "src/models/segformer.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {
int64_t count(const ParameterList& params) {
  int64_t n = 0;
  for (auto& [name, shape] : params) n += shape.numel();
  return n;
}
}  // namespace

TEST_CASE("models: MiT parameter counts match model-spec §2.1, heads §6") {
  CHECK(count(mit_parameters(mit_config("mit_b0"))) == 3319392);
  CHECK(count(mit_parameters(mit_config("mit_b1"))) == 13151424);
  CHECK(count(mit_parameters(mit_config("mit_b2"))) == 24196288);
  CHECK(count(mit_parameters(mit_config("mit_b3"))) == 44072128);
  CHECK(count(mit_parameters(mit_config("mit_b4"))) == 60842688);
  CHECK(count(mit_parameters(mit_config("mit_b5"))) == 81443008);
  // TV3S-B1, K = 124: 17,261,364 trainable parameters (model-spec §6), including the dead
  // conv_seg (15,996) that tv3s drops; tv3s counts the 2 × 256 BN running statistics too.
  ModelConfig tv3s_b1;
  tv3s_b1.kind = ModelKind::tv3s;
  tv3s_b1.backbone = "mit_b1";
  tv3s_b1.num_classes = 124;
  CHECK(count(model_parameters(tv3s_b1)) == 17261364 - 15996 + 512);
}

TEST_CASE("models: configuration metadata round trip and bad values") {
  ModelConfig c;
  c.backbone = "mit_b2";
  c.num_classes = 3;
  c.class_names = {"sky", "road", "car"};
  c.palette = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
  const ModelConfig back = ModelConfig::from_metadata(c.to_metadata(), "m.safetensors");
  CHECK(back.backbone == "mit_b2");
  CHECK(back.num_classes == 3);
  CHECK(back.class_names == c.class_names);
  CHECK(back.palette == c.palette);

  auto md = c.to_metadata();
  md["tv3s.backbone"] = "mit_b9";
  CHECK_THROWS_WITH(ModelConfig::from_metadata(md, "m.safetensors"),
                    doctest::Contains("m.safetensors: unknown backbone 'mit_b9'"));
  md = c.to_metadata();
  md["tv3s.num_classes"] = "3x";
  CHECK_THROWS_WITH(ModelConfig::from_metadata(md, "m.safetensors"), doctest::Contains("tv3s.num_classes"));
  md = c.to_metadata();
  md.erase("tv3s.model");
  CHECK_THROWS_WITH(ModelConfig::from_metadata(md, "m.safetensors"), doctest::Contains("not a tv3s model file"));
}

TEST_CASE("models: JSON metadata values — overflow, wrong types, nesting — are one-line errors naming them") {
  ModelConfig c;
  c.backbone = "mit_b0";
  c.num_classes = 2;
  const auto error_with = [&](const std::string& key, const std::string& value) {
    std::map<std::string, std::string> md = c.to_metadata();
    md[key] = value;
    return test::error_message([&] { ModelConfig::from_metadata(md, "m.safetensors"); });
  };
  const std::string overflow = error_with("tv3s.palette", "[[1e999, 0, 0], [0, 0, 0]]");
  CHECK(overflow.rfind("m.safetensors: metadata tv3s.palette: not valid JSON (", 0) == 0);
  CHECK(overflow.find("number overflow") != std::string::npos);
  CHECK(error_with("tv3s.palette", "[[300, 0, 0], [0, 0, 0]]") ==
        "m.safetensors: metadata tv3s.palette[0][0] must be an integer in [0, 255], got 300");
  CHECK(error_with("tv3s.palette", "[[1e300, 0, 0], [0, 0, 0]]") ==  // no float-to-int overflow
        "m.safetensors: metadata tv3s.palette[0][0] must be an integer in [0, 255], got 1e+300");
  CHECK(error_with("tv3s.palette", "[[-1, 0, 0], [0, 0, 0]]") ==
        "m.safetensors: metadata tv3s.palette[0][0] must be an integer in [0, 255], got -1");
  CHECK(error_with("tv3s.palette", R"({"a": 1})") ==
        "m.safetensors: metadata tv3s.palette must be a list of 0 to 65536 entries, got {\"a\":1}");
  CHECK(error_with("tv3s.classes", R"(["sky", 7])") ==
        "m.safetensors: metadata tv3s.classes[1] must be a string, got 7");
  CHECK(error_with("tv3s.classes", std::string(70, '[') + std::string(70, ']')) ==
        "m.safetensors: metadata tv3s.classes: JSON nested deeper than 64 levels");
  CHECK(error_with("tv3s.classes", "[\"caf\xc3\"]").rfind("m.safetensors: metadata tv3s.classes: not valid JSON (", 0) ==
        0);  // invalid UTF-8

  // tv3s.swin: integers beyond int64, floats, wrong types.
  c.backbone = "swin_t";
  c.swin = swin_configs()[0];
  const auto swin_error = [&](const std::string& json) { return error_with("tv3s.swin", json); };
  const std::string stages = R"("depths":[2,2,6,2],"heads":[3,6,12,24])";
  CHECK(swin_error(R"({"embed_dim":96,"window":7,)" + stages + "}") == "(no error)");
  CHECK(swin_error(R"({"embed_dim":9223372036854775808,"window":7,)" + stages + "}") ==
        "m.safetensors: metadata tv3s.swin 'embed_dim' must be an integer in [-9223372036854775808, "
        "9223372036854775807], got 9223372036854775808");
  CHECK(swin_error(R"({"embed_dim":1e30,"window":7,)" + stages + "}").find("'embed_dim' must be an integer") !=
        std::string::npos);
  CHECK(swin_error(R"({"embed_dim":"96","window":7,)" + stages + "}").find("'embed_dim' must be an integer") !=
        std::string::npos);
  CHECK(swin_error(R"({"embed_dim":96,"window":7,"depths":{},"heads":[3,6,12,24]})") ==
        "m.safetensors: metadata tv3s.swin 'depths' must be a list of 4 entries, got {}");
  CHECK(swin_error(R"({"window":7,)" + stages + "}") == "m.safetensors: metadata tv3s.swin has no 'embed_dim'");
  CHECK(swin_error("[96]") == "m.safetensors: metadata tv3s.swin must be a JSON object, got [96]");
  CHECK(swin_error(R"({"embed_dim":96,"window":1e999})").rfind("m.safetensors: metadata tv3s.swin: not valid JSON (",
                                                                0) == 0);
}

TEST_CASE("models: the loader names a missing, an extra and a mis-shaped parameter") {
  const tv3s::test::TempDir tmp;
  const std::string dir = tmp.path();
  ModelConfig c;
  c.backbone = "mit_b0";
  c.num_classes = 4;
  const ParameterList params = model_parameters(c);
  const Weights w = random_weights(params, 3);
  auto save = [&](std::vector<std::pair<std::string, Tensor>> tensors) {
    const std::string path = dir + "/m.safetensors";
    io::write_safetensors(path, tensors, c.to_metadata());
    return path;
  };
  std::vector<std::pair<std::string, Tensor>> good;
  for (auto& [name, shape] : params) good.emplace_back(name, w.get(name));
  CHECK(load_model_file(save(good)).weights.all().size() == params.size());

  auto missing = good;
  missing.erase(missing.begin() + 5);
  const std::string missing_text = "missing '" + good[5].first + "'";
  CHECK_THROWS_WITH(load_model_file(save(missing)), doctest::Contains(missing_text.c_str()));

  auto extra = good;
  extra.emplace_back("decode_head.bogus.weight", Tensor::zeros(Shape{2}));
  CHECK_THROWS_WITH(load_model_file(save(extra)), doctest::Contains("unexpected 'decode_head.bogus.weight'"));

  auto misshaped = good;
  misshaped[0].second = Tensor::zeros(Shape{1, 2});
  const std::string shape_text = "'" + good[0].first + "' has shape [1, 2]";
  CHECK_THROWS_WITH(load_model_file(save(misshaped)), doctest::Contains(shape_text.c_str()));
}

TEST_CASE("models: SegFormer output shapes for odd inputs, and too-small inputs are refused") {
  ModelConfig c;
  c.backbone = "mit_b0";
  c.num_classes = 5;
  const Segformer model(c, random_weights(model_parameters(c), 11));
  NoGradGuard no_grad;
  Rng rng(1);
  const Tensor image = Tensor::uniform(Shape{1, 37, 45, 3}, rng, -1, 1);
  const SegformerOutput out = model.forward(image);
  // ceil(37/4) = 10, then 5, 3, 2; ceil(45/4) = 12, then 6, 3, 2 (model-spec §2.3).
  CHECK(out.features[0].shape() == Shape{1, 10, 12, 32});
  CHECK(out.features[1].shape() == Shape{1, 5, 6, 64});
  CHECK(out.features[2].shape() == Shape{1, 3, 3, 160});
  CHECK(out.features[3].shape() == Shape{1, 2, 2, 256});
  CHECK(out.logits.shape() == Shape{1, 10, 12, 5});
  CHECK(model.logits(image).shape() == Shape{1, 37, 45, 5});
  CHECK_THROWS_WITH(model.forward(Tensor::zeros(Shape{1, 28, 64, 3})), doctest::Contains("too small"));
}

TEST_CASE("models: a TV3S model file runs its SegFormer path (--mode frame)") {
  const test::TempDir tmp;
  const std::string dir = tmp.path();
  ModelConfig c;
  c.kind = ModelKind::tv3s;
  c.backbone = "mit_b0";
  c.num_classes = 3;
  const ParameterList params = model_parameters(c);
  const Weights w = random_weights(params, 5);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, shape] : params) tensors.emplace_back(name, w.get(name));
  const std::string path = dir + "/tv3s_b0.safetensors";
  io::write_safetensors(path, tensors, c.to_metadata());

  // The same backbone and head as a plain SegFormer give the same logits.
  ModelConfig seg = c;
  seg.kind = ModelKind::segformer;
  std::map<std::string, Tensor> seg_weights;
  for (auto& [name, shape] : model_parameters(seg)) seg_weights.emplace(name, w.get(name));
  NoGradGuard no_grad;
  Rng rng(2);
  const Tensor image = Tensor::uniform(Shape{1, 40, 52, 3}, rng, -1, 1);
  const Tensor got = Segformer::load(path).logits(image);
  const Tensor want = Segformer(seg, Weights(seg_weights)).logits(image);
  CHECK(got.to_vector() == want.to_vector());

  // A backbone-only file is not a segmentation model.
  ModelConfig mit = c;
  mit.kind = ModelKind::backbone;
  mit.num_classes = 0;
  std::vector<std::pair<std::string, Tensor>> backbone;
  for (auto& [name, shape] : model_parameters(mit)) backbone.emplace_back(name, w.get("backbone." + name));
  io::write_safetensors(dir + "/mit.safetensors", backbone, mit.to_metadata());
  CHECK_THROWS_WITH(Segformer::load(dir + "/mit.safetensors"), doctest::Contains("a backbone only"));
}
