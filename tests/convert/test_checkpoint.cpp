// Checkpoint conversion: the Hugging Face name table, the mapping of the full parameter
// lists that transformers' Segformer models have (tests/data/io/hf_segformer_names.json,
// written by tools/gen_checkpoint_fixtures.py), configuration inference for every
// variant, and `tv3s convert` end to end on checkpoints assembled here.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "src/convert/checkpoint.h"
#include "src/io/safetensors.h"
#include "src/models/parameters.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

namespace {

using namespace tv3s;
using convert::ConvertOptions;
using convert::HfName;
using convert::NamedTensors;
using test::error_message;
using test::run_tv3s;

std::string fixture(const std::string& name) {
  return std::string(TV3S_SOURCE_DIR) + "/tests/data/io/" + name;
}

const nlohmann::json& hf_models() {
  static const nlohmann::json models = [] {
    std::ifstream in(fixture("hf_segformer_names.json"));
    return nlohmann::json::parse(in);
  }();
  return models;
}

// A transformers model's state dict, tensor i filled with the value i (`fill`) or left
// uninitialised (large models whose values the test does not look at).
NamedTensors hf_state_dict(const std::string& model, bool fill) {
  NamedTensors tensors;
  for (const auto& entry : hf_models().at(model)) {
    const Shape shape(entry[1].get<std::vector<int64_t>>());
    const float value = float(tensors.size());
    tensors.emplace_back(entry[0].get<std::string>(),
                         fill ? Tensor::full(shape, value) : Tensor::empty(shape));
  }
  return tensors;
}

std::vector<std::pair<std::string, Shape>> shapes_of(const NamedTensors& tensors) {
  std::vector<std::pair<std::string, Shape>> shapes;
  for (const auto& [name, t] : tensors) shapes.emplace_back(name, t.shape());
  return shapes;
}

// Official names and shapes of a configuration, as infer_config sees them.
std::vector<std::pair<std::string, Shape>> official(const ModelConfig& config) {
  return model_parameters(config);
}

ModelConfig config_of(ModelKind kind, const std::string& backbone, int64_t classes,
                      int64_t embed_dim = 256) {
  ModelConfig c;
  c.kind = kind;
  c.backbone = backbone;
  c.num_classes = classes;
  c.embed_dim = embed_dim;
  return c;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("convert: Hugging Face names follow the table of model-spec §2.6") {
  struct Case {
    const char* hf;
    const char* official;
    HfName::Part part;
  };
  for (const Case& c : {
           Case{"segformer.encoder.patch_embeddings.0.proj.weight", "patch_embed1.proj.weight", HfName::whole},
           Case{"segformer.encoder.patch_embeddings.3.layer_norm.bias", "patch_embed4.norm.bias", HfName::whole},
           Case{"segformer.encoder.block.0.1.layer_norm_1.weight", "block1.1.norm1.weight", HfName::whole},
           Case{"segformer.encoder.block.2.17.layer_norm_2.bias", "block3.17.norm2.bias", HfName::whole},
           Case{"segformer.encoder.block.1.0.attention.self.query.weight", "block2.0.attn.q.weight", HfName::whole},
           Case{"segformer.encoder.block.1.0.attention.self.key.weight", "block2.0.attn.kv.weight", HfName::kv_key},
           Case{"segformer.encoder.block.1.0.attention.self.value.bias", "block2.0.attn.kv.bias", HfName::kv_value},
           Case{"segformer.encoder.block.0.0.attention.self.sr.weight", "block1.0.attn.sr.weight", HfName::whole},
           Case{"segformer.encoder.block.0.0.attention.self.layer_norm.weight", "block1.0.attn.norm.weight", HfName::whole},
           Case{"segformer.encoder.block.3.2.attention.output.dense.bias", "block4.2.attn.proj.bias", HfName::whole},
           Case{"segformer.encoder.block.3.2.mlp.dense1.weight", "block4.2.mlp.fc1.weight", HfName::whole},
           Case{"segformer.encoder.block.3.2.mlp.dwconv.dwconv.weight", "block4.2.mlp.dwconv.dwconv.weight", HfName::whole},
           Case{"segformer.encoder.block.3.2.mlp.dense2.bias", "block4.2.mlp.fc2.bias", HfName::whole},
           Case{"segformer.encoder.layer_norm.2.weight", "norm3.weight", HfName::whole},
           Case{"encoder.layer_norm.0.bias", "norm1.bias", HfName::whole},  // SegformerModel
           Case{"decode_head.linear_c.3.proj.weight", "decode_head.linear_c4.proj.weight", HfName::whole},
           Case{"decode_head.linear_fuse.weight", "decode_head.linear_fuse.conv.weight", HfName::whole},
           Case{"decode_head.batch_norm.running_var", "decode_head.linear_fuse.bn.running_var", HfName::whole},
           Case{"decode_head.classifier.bias", "decode_head.linear_pred.bias", HfName::whole},
           // Outside the table: not mapped.
           Case{"segformer.encoder.block.4.0.layer_norm_1.weight", "", HfName::whole},
           Case{"segformer.encoder.block.0.x.layer_norm_1.weight", "", HfName::whole},
           Case{"segformer.encoder.block.0.0.attention.self.query", "", HfName::whole},
           Case{"segformer.encoder.patch_embeddings.0.conv.weight", "", HfName::whole},
           Case{"decode_head.linear_fuse.bias", "", HfName::whole},
           Case{"classifier.weight", "", HfName::whole},
           Case{"backbone.block1.0.norm1.weight", "", HfName::whole},
       }) {
    const HfName got = convert::map_hf_name(c.hf);
    INFO(c.hf, " → ", got.official);
    CHECK(got.official == c.official);
    CHECK(got.part == c.part);
  }
}

TEST_CASE("convert: names the model does not use are dropped") {
  for (const char* name : {"decode_head.conv_seg.weight", "decode_head.conv_seg.bias",
                           "decode_head.linear_fuse.bn.num_batches_tracked",
                           "decode_head.batch_norm.num_batches_tracked", "head.weight",
                           "head.bias", "classifier.weight"})
    CHECK_MESSAGE(convert::unused_by_model(name), name);
  for (const char* name : {"decode_head.linear_pred.weight", "backbone.norm4.weight",
                           "decode_head.classifier.weight", "decode_head.head.weight"})
    CHECK_MESSAGE(!convert::unused_by_model(name), name);
}

TEST_CASE("convert: transformers' Segformer parameter lists map onto the official parameter sets") {
  struct Case {
    const char* model;
    ModelConfig want;
    bool fill;
  };
  for (const Case& c : {Case{"segformer-b0", config_of(ModelKind::segformer, "mit_b0", 150), true},
                        Case{"mit-b0", config_of(ModelKind::backbone, "mit_b0", 0), true},
                        Case{"segformer-b2", config_of(ModelKind::segformer, "mit_b2", 150, 768), false}}) {
    INFO(c.model);
    const NamedTensors hf = hf_state_dict(c.model, c.fill);
    NamedTensors kept;
    for (const auto& [name, t] : hf)
      if (!convert::unused_by_model(name)) kept.emplace_back(name, t);
    REQUIRE(convert::is_hf_naming(kept));
    const NamedTensors mapped = convert::map_hf_state_dict(kept, c.model);
    const ModelConfig got = convert::infer_config(shapes_of(mapped), {}, c.model);
    CHECK(got.kind == c.want.kind);
    CHECK(got.backbone == c.want.backbone);
    CHECK(got.num_classes == c.want.num_classes);
    CHECK(got.embed_dim == c.want.embed_dim);
    CHECK_NOTHROW(check_parameter_set(shapes_of(mapped), model_parameters(c.want), c.model));
    if (!c.fill) continue;
    // kv = [key; value]: the rows of the key tensor's value, then the value tensor's.
    const std::string prefix = c.want.kind == ModelKind::backbone ? "" : "backbone.";
    std::map<std::string, Tensor> by_name(mapped.begin(), mapped.end());
    std::map<std::string, float> index;  // each HF tensor holds one value, its index
    for (const auto& [name, t] : hf) index[name] = t.to_vector()[0];
    const std::vector<float> kv = by_name.at(prefix + "block2.1.attn.kv.weight").to_vector();
    REQUIRE(kv.size() == 2 * 64 * 64);
    CHECK(kv.front() == index.at("segformer.encoder.block.1.1.attention.self.key.weight"));
    CHECK(kv.back() == index.at("segformer.encoder.block.1.1.attention.self.value.weight"));
    CHECK(kv[64 * 64 - 1] == kv.front());
    CHECK(kv[64 * 64] == kv.back());
  }
}

TEST_CASE("convert: a key without its value is an error naming it") {
  NamedTensors tensors = {
      {"segformer.encoder.block.0.0.attention.self.key.weight", Tensor::zeros({4, 4})}};
  CHECK(error_message([&] { convert::map_hf_state_dict(tensors, "x.bin"); }) ==
        "x.bin: 'segformer.encoder.block.0.0.attention.self.key.weight' has no value to go with "
        "it (block1.0.attn.kv.weight = key, value)");
  tensors.emplace_back("segformer.encoder.block.0.0.attention.self.value.weight",
                       Tensor::zeros({4, 3}));
  CHECK(contains(error_message([&] { convert::map_hf_state_dict(tensors, "x.bin"); }),
                 "has shape [4, 4] but"));
}

TEST_CASE("convert: infer_config reads every model and backbone from official shapes") {
  for (const MitConfig& mit : mit_configs()) {
    for (const ModelConfig& want : {config_of(ModelKind::backbone, mit.name, 0),
                                    config_of(ModelKind::segformer, mit.name, 19),
                                    config_of(ModelKind::segformer, mit.name, 150, 768),
                                    config_of(ModelKind::tv3s, mit.name, 124)}) {
      INFO(want.kind, " ", want.backbone, " ", want.num_classes, " classes, E ", want.embed_dim);
      const ModelConfig got = convert::infer_config(official(want), {}, "ckpt");
      CHECK(got.kind == want.kind);
      CHECK(got.backbone == want.backbone);
      CHECK(got.num_classes == want.num_classes);
      CHECK(got.embed_dim == want.embed_dim);
    }
  }
}

TEST_CASE("convert: --arch and --num-classes must agree with the tensors, and fill in the rest") {
  const auto b1 = official(config_of(ModelKind::segformer, "mit_b1", 124));
  ConvertOptions options;
  options.arch = "mit_b2";
  CHECK(error_message([&] { convert::infer_config(b1, options, "ckpt"); }) ==
        "ckpt: --arch mit_b2 does not match the checkpoint, whose backbone.patch_embed channels "
        "[64, 128, 320, 512] and blocks per stage [2, 2, 2, 2] are mit_b1");
  options = {};
  options.num_classes = 150;
  CHECK(error_message([&] { convert::infer_config(b1, options, "ckpt"); }) ==
        "ckpt: --num-classes 150 does not match the checkpoint, whose "
        "decode_head.linear_pred.weight has 124 rows");
  CHECK(contains(error_message([&] {
                   convert::infer_config(official(config_of(ModelKind::backbone, "mit_b0", 0)), options, "ckpt");
                 }),
                 "--num-classes 150 given, but the checkpoint is a backbone without a decode head"));

  // Without stage 2's patch embedding and with a block missing from stage 3, the variant
  // cannot be told; --arch names it, and the parameter check then names what is missing.
  std::vector<std::pair<std::string, Shape>> partial;
  for (const auto& p : b1)
    if (p.first.find("patch_embed2.proj.weight") == std::string::npos &&
        p.first.find("block3.1.") == std::string::npos)
      partial.push_back(p);
  CHECK(error_message([&] { convert::infer_config(partial, {}, "ckpt"); }) ==
        "ckpt: cannot tell the backbone: backbone.patch_embed channels [64, ?, 320, 512] and "
        "blocks per stage [2, 2, 1, 2] match no MiT variant (mit_b0 … mit_b5); --arch checks "
        "the tensors against one");
  options = {};
  options.arch = "mit_b1";
  CHECK(convert::infer_config(partial, options, "ckpt").backbone == "mit_b1");

  std::vector<std::pair<std::string, Shape>> headless;
  for (const auto& p : b1)
    if (p.first.find("linear_pred") == std::string::npos) headless.push_back(p);
  CHECK(contains(error_message([&] { convert::infer_config(headless, {}, "ckpt"); }),
                 "cannot tell the number of classes: there is no decode_head.linear_pred.weight"));
  options = {};
  options.num_classes = 7;
  CHECK(convert::infer_config(headless, options, "ckpt").num_classes == 7);
}

TEST_CASE("convert: usage errors exit 2 with one line") {
  for (const char* args : {"convert", "convert a b c", "convert a b --arch",
                           "convert a b --arch mit_b9", "convert a b --num-classes 0",
                           "convert a b --frobnicate"}) {
    const auto r = run_tv3s(args);
    INFO("tv3s ", args, " → ", r.output);
    CHECK(r.exit_code == 2);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(r.output.rfind("tv3s convert: ", 0) == 0);
  }
  const auto help = run_tv3s("convert --help");
  CHECK(help.exit_code == 0);
  CHECK(contains(help.output, "usage: tv3s convert IN OUT.safetensors"));
  CHECK(contains(run_tv3s("--help").output, "convert"));
}

TEST_CASE("convert: bad inputs exit 1 with the path and the problem, and write nothing") {
  test::TempDir dir;
  const std::string out = dir.file("out.safetensors");
  struct Case {
    std::string in, problem;
  };
  for (const Case& c : {
           Case{fixture("ckpt_state_dict.json"), "not a PyTorch checkpoint"},
           Case{dir.file("absent.pth"), "cannot open"},
           Case{fixture("evil_reduce.pth"), "forbidden global 'posix.system'"},
           Case{fixture("bad_crc.pth"), "is corrupt (CRC-32"},
           Case{fixture("ckpt_mmseg.pth"),
                "cannot tell the backbone: backbone.patch_embed channels [2, ?, ?, ?]"},
       }) {
    std::filesystem::remove("/tmp/tv3s_pickle_marker_must_not_exist");
    const auto r = run_tv3s("convert '" + c.in + "' '" + out + "'");
    INFO(r.output);
    CHECK(r.exit_code == 1);
    CHECK(r.output.rfind("tv3s convert: " + c.in + ": ", 0) == 0);
    CHECK(contains(r.output, c.problem));
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') == 1);
    CHECK(dir.entries().empty());
    CHECK(!std::filesystem::exists("/tmp/tv3s_pickle_marker_must_not_exist"));
  }
}

TEST_CASE("convert: an ImageNet MiT checkpoint converts; one with a missing tensor is named") {
  test::TempDir dir;
  const ModelConfig want = config_of(ModelKind::backbone, "mit_b0", 0);
  NamedTensors tensors;
  for (const auto& [name, shape] : model_parameters(want))
    tensors.emplace_back(name, Tensor::full(shape, double(tensors.size())));
  tensors.emplace_back("head.weight", Tensor::zeros({1000, 256}));
  tensors.emplace_back("head.bias", Tensor::zeros({1000}));

  NamedTensors missing = tensors;
  missing.erase(missing.begin() + 5);  // block1.0.norm1.bias
  io::write_safetensors(dir.file("missing.safetensors"), missing);
  const auto bad = run_tv3s("convert " + dir.file("missing.safetensors") + " " + dir.file("x.st"));
  CHECK(bad.exit_code == 1);
  CHECK(contains(bad.output, "tv3s convert: dropped (unused by the model): head.weight, head.bias\n"));
  CHECK(contains(bad.output, "tv3s convert: " + dir.file("missing.safetensors") +
                                 ": missing 'block1.0.norm1.bias'"));

  io::write_safetensors(dir.file("mit_b0.safetensors"), tensors);
  const std::string out = dir.file("model.safetensors");
  const auto r = run_tv3s("convert " + dir.file("mit_b0.safetensors") + " " + out + " --arch mit_b0");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "wrote " + out + ": backbone mit_b0, embed_dim 256, backbone only, 176 tensors"));
  const io::SafetensorsFile file = io::read_safetensors(out);
  const ModelConfig got = ModelConfig::from_metadata(file.metadata, out);
  CHECK(got.kind == ModelKind::backbone);
  CHECK(got.source == "backbone checkpoint mit_b0.safetensors");
  REQUIRE(file.tensors.size() == 176);
  for (size_t i = 0; i < file.tensors.size(); ++i) {
    CHECK(file.tensors[i].first == tensors[i].first);
    CHECK(file.tensors[i].second.to_vector() == tensors[i].second.to_vector());
  }
}

TEST_CASE("convert: a Hugging Face SegFormer safetensors file with its config.json") {
  test::TempDir dir;
  const NamedTensors hf = hf_state_dict("segformer-b0", true);
  io::write_safetensors(dir.file("model.safetensors"), hf, {{"format", "pt"}});
  nlohmann::json config;
  for (int k = 0; k < 150; ++k) config["id2label"][std::to_string(k)] = "class" + std::to_string(k);
  std::ofstream(dir.file("config.json")) << config.dump();

  const std::string out = dir.file("out.safetensors");
  const auto r = run_tv3s("convert " + dir.file("model.safetensors") + " " + out);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(contains(r.output, "tv3s convert: dropped (unused by the model): "
                           "decode_head.batch_norm.num_batches_tracked\n"));
  CHECK(contains(r.output, ": segformer mit_b0, embed_dim 256, 150 classes (named), "));
  const io::SafetensorsFile file = io::read_safetensors(out);
  const ModelConfig got = ModelConfig::from_metadata(file.metadata, out);
  CHECK(got.source == "hf model.safetensors");
  REQUIRE(got.class_names.size() == 150);
  CHECK(got.class_names[149] == "class149");

  std::map<std::string, float> value;  // each HF tensor holds one value, its index
  for (const auto& [name, t] : hf) value[name] = t.to_vector()[0];
  const std::vector<float> kv = file.find("backbone.block4.1.attn.kv.bias").to_vector();
  REQUIRE(kv.size() == 512);
  CHECK(kv[0] == value.at("segformer.encoder.block.3.1.attention.self.key.bias"));
  CHECK(kv[511] == value.at("segformer.encoder.block.3.1.attention.self.value.bias"));
  CHECK(file.find("decode_head.linear_fuse.bn.running_var").to_vector()[0] ==
        value.at("decode_head.batch_norm.running_var"));
  CHECK(file.find("backbone.norm2.weight").to_vector()[0] ==
        value.at("segformer.encoder.layer_norm.1.weight"));
}

TEST_CASE("convert: a bad config.json beside an HF checkpoint is ignored with a one-line note naming it") {
  test::TempDir dir;
  io::write_safetensors(dir.file("model.safetensors"), hf_state_dict("segformer-b0", true), {{"format", "pt"}});
  const std::string config = dir.file("config.json");
  const auto notes_for = [&](const std::string& text) {
    std::ofstream(config, std::ios::trunc) << text;
    std::vector<std::string> notes;
    const convert::ConvertResult r = convert::convert_checkpoint(
        dir.file("model.safetensors"), dir.file("out.safetensors"), {},
        [&](const std::string& note) { notes.push_back(note); });
    CHECK(r.config.class_names.empty());
    std::string about_config;
    for (const std::string& n : notes)
      if (n.find("config.json") != std::string::npos) about_config += n;
    return about_config;
  };
  const std::string overflow = notes_for(R"({"id2label": {"0": "sky"}, "x": 1e999})");
  CHECK(overflow.rfind("ignoring " + config + ": not valid JSON (", 0) == 0);
  CHECK(overflow.find("number overflow") != std::string::npos);
  CHECK(notes_for(R"({"id2label": {"0": 5}})") == "ignoring " + config + ": id2label \"0\" must be a string, got 5");
  CHECK(notes_for(R"({"id2label": ["sky"]})") == "ignoring " + config + ": id2label must be a JSON object, got [\"sky\"]");
  CHECK(notes_for(R"({"id2label": {"99999999999999999999": "sky"}})") ==
        "ignoring " + config + ": id2label has 1 labels for 150 classes");
  CHECK(notes_for(R"({"a": )" + std::string(100, '[') + std::string(100, ']') + "}") ==
        "ignoring " + config + ": JSON nested deeper than 64 levels");
}
