// Training initialisation (src/train/init.h, training-spec §8):
//   - initial_weights: exactly model_parameters' names and shapes; the constants exact
//     (A_log = ln(n+1), D = 1, norms 1/0, BN 1/0/0/1, backbone biases 0); dt_proj.bias
//     inside [softplus⁻¹(1e-3), softplus⁻¹(0.1)] with ln Δ uniform; every random tensor's
//     mean within 6 standard errors of 0 and its standard deviation within 4/√N (relative,
//     ≥ 5 standard errors) of the rule's; uniform tensors inside their bound and filling
//     it; trunc-normal cut at ±2 absolute (timm's default bounds — the official MiT calls
//     trunc_normal_(std=.02) without bounds), so values beyond 2σ = 0.04 do occur;
//     deterministic per seed and per parameter name; CUDA == CPU bit for bit.
//   - load_backbone / init_from_model: what is copied (bitwise), what stays fresh, the
//     summary line, and one test per error message.
// Model files are written into a TempDir with the safetensors writer.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "src/io/safetensors.h"
#include "src/models/parameters.h"
#include "src/models/random_weights.h"
#include "src/train/init.h"
#include "tests/io/io_test_util.h"
#include "tests/test_util.h"

using namespace tv3s;

namespace {

ModelConfig model_config(ModelKind kind, const std::string& backbone = "mit_b0", int64_t classes = 5,
                         int64_t embed_dim = 32) {
  ModelConfig c;
  c.kind = kind;
  c.backbone = backbone;
  c.num_classes = kind == ModelKind::backbone ? 0 : classes;
  c.embed_dim = embed_dim;
  c.window = 4;
  c.shift = 2;
  return c;
}

// `weights` as a model file of `config`, optionally with tensors renamed/dropped/added.
std::string write_model(const test::TempDir& dir, const std::string& file, const ModelConfig& config,
                        const Weights& weights, std::map<std::string, std::string> metadata = {},
                        const std::string& name_prefix = "") {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& [name, t] : weights.all()) tensors.emplace_back(name_prefix + name, t);
  if (metadata.empty()) metadata = config.to_metadata();
  const std::string path = dir.file(file);
  io::write_safetensors(path, tensors, metadata);
  return path;
}

bool same(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

struct Stats {
  double mean = 0, std = 0, max_abs = 0;
};
Stats stats(const Tensor& t) {
  const std::vector<double> v = t.to_vector_f64();
  Stats s;
  for (double x : v) s.mean += x, s.max_abs = std::max(s.max_abs, std::fabs(x));
  s.mean /= double(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / double(v.size()));
  return s;
}

// Mean within 6 standard errors of 0, std within 4/√N relative of `want_std`.
void check_spread(const Weights& w, const std::string& name, double want_std) {
  const Tensor& t = w.get(name);
  const Stats s = stats(t);
  const double n = double(t.numel());
  INFO(name, ": N ", t.numel(), ", mean ", s.mean, ", std ", s.std, " (want ", want_std, "), max|w| ", s.max_abs);
  CHECK(std::fabs(s.mean) <= 6 * want_std / std::sqrt(n));
  CHECK(std::fabs(s.std / want_std - 1) <= 4 / std::sqrt(n));
}

// U(±bound): inside the bound, reaching close to it, std bound/√3.
void check_uniform(const Weights& w, const std::string& name, double bound) {
  check_spread(w, name, bound / std::sqrt(3.0));
  const Stats s = stats(w.get(name));
  CHECK(s.max_abs <= bound);
  CHECK(s.max_abs >= 0.99 * bound);
}

void check_constant(const Weights& w, const std::string& name, float value) {
  INFO(name);
  for (float v : w.get(name).to_vector()) REQUIRE(v == value);
}

double softplus_inverse(double y) { return y + std::log(-std::expm1(-y)); }

}  // namespace

TEST_CASE("initial_weights: the parameter set of every model kind, f32") {
  for (const ModelKind kind : {ModelKind::backbone, ModelKind::segformer, ModelKind::tv3s}) {
    const ModelConfig c = model_config(kind);
    const Weights w = train::initial_weights(c, 1);
    std::vector<std::pair<std::string, Shape>> have;
    for (auto& [name, t] : w.all()) {
      have.emplace_back(name, t.shape());
      CHECK(t.dtype() == DType::f32);
    }
    CHECK_NOTHROW(check_parameter_set(have, model_parameters(c), model_kind_name(kind)));
  }
}

TEST_CASE("initial_weights: constants exact (A_log, D, norms, BatchNorm, backbone biases)") {
  const Weights w = train::initial_weights(model_config(ModelKind::tv3s), 3);
  for (int l = 0; l < 8; ++l) {
    const std::string m = "decode_head.vs.layers." + std::to_string(l) + ".mixer.";
    const std::vector<float> a = w.get(m + "A_log").to_vector();
    REQUIRE(a.size() == 64 * 16);
    for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == float(std::log(double(i % 16 + 1))));
    check_constant(w, m + "D", 1.0f);
    check_constant(w, "decode_head.vs.layers." + std::to_string(l) + ".norm.weight", 1.0f);
  }
  check_constant(w, "decode_head.vs.norm_f.weight", 1.0f);
  check_constant(w, "decode_head.linear_fuse.bn.weight", 1.0f);
  check_constant(w, "decode_head.linear_fuse.bn.bias", 0.0f);
  check_constant(w, "decode_head.linear_fuse.bn.running_mean", 0.0f);
  check_constant(w, "decode_head.linear_fuse.bn.running_var", 1.0f);
  int backbone_biases = 0, layer_norms = 0;
  for (auto& [name, t] : w.all()) {
    if (name.rfind("backbone.", 0) != 0) continue;
    const bool bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (bias) check_constant(w, name, 0.0f), ++backbone_biases;
    else if (t.ndim() == 1) check_constant(w, name, 1.0f), ++layer_norms;  // LayerNorm weights
  }
  // patch_embed proj + norm (8), 10 per block of stages 1-3 and 8 in stage 4, stage norms (4)
  CHECK(backbone_biases == 8 + 6 * 10 + 2 * 8 + 4);
  CHECK(layer_norms == 4 + 8 * 2 + 6 + 4);  // patch_embed, norm1/norm2, attn.norm (stages 1-3), normK
}

TEST_CASE("initial_weights: dt_proj.bias is softplus⁻¹ of a log-uniform Δ in [1e-3, 1e-1]") {
  const Weights w = train::initial_weights(model_config(ModelKind::tv3s, "mit_b0", 5, 256), 5);
  const double lo = softplus_inverse(1e-3), hi = softplus_inverse(0.1);
  std::vector<double> log_dt;
  for (int l = 0; l < 8; ++l)
    for (float b : w.get("decode_head.vs.layers." + std::to_string(l) + ".mixer.dt_proj.bias").to_vector()) {
      REQUIRE(b >= float(lo));
      REQUIRE(b <= float(hi));
      log_dt.push_back(std::log(std::log1p(std::exp(double(b)))));  // ln Δ = ln softplus(b)
    }
  // ln Δ ~ U[ln 1e-3, ln 1e-1]: mean ln 1e-2, std (ln 100)/√12; N = 4096.
  double mean = 0, var = 0;
  for (double v : log_dt) mean += v;
  mean /= double(log_dt.size());
  for (double v : log_dt) var += (v - mean) * (v - mean);
  const double std = std::sqrt(var / double(log_dt.size())), want_std = std::log(100.0) / std::sqrt(12.0);
  INFO("ln dt: mean ", mean, " std ", std);
  CHECK(std::fabs(mean - std::log(1e-2)) <= 6 * want_std / std::sqrt(double(log_dt.size())));
  CHECK(std::fabs(std / want_std - 1) <= 4 / std::sqrt(double(log_dt.size())));
}

TEST_CASE("initial_weights: distributions of the random tensors (MiT-B0, E = 256, 124 classes)") {
  const Weights w = train::initial_weights(model_config(ModelKind::tv3s, "mit_b0", 124, 256), 7);
  // MiT: Linear trunc-normal 0.02, Conv2d normal(0, sqrt(2 / fan_out)).
  check_spread(w, "backbone.block4.0.mlp.fc1.weight", 0.02);
  check_spread(w, "backbone.block3.1.attn.kv.weight", 0.02);
  check_spread(w, "backbone.block3.0.attn.sr.weight", std::sqrt(2.0 / (2 * 2 * 160)));
  check_spread(w, "backbone.patch_embed1.proj.weight", std::sqrt(2.0 / (7 * 7 * 32)));
  check_spread(w, "backbone.block4.1.mlp.dwconv.dwconv.weight", std::sqrt(2.0 / 9));  // groups = channels
  // Head: PyTorch defaults U(±1/sqrt(fan_in)), kaiming fan_out for linear_fuse, dt_proj U(±dt_rank^-1/2).
  check_uniform(w, "decode_head.linear_c4.proj.weight", 1 / std::sqrt(256.0));
  check_uniform(w, "decode_head.linear_c1.proj.bias", 1 / std::sqrt(32.0));
  check_spread(w, "decode_head.linear_fuse.conv.weight", std::sqrt(2.0 / 256));
  check_uniform(w, "decode_head.linear_pred.weight", 1 / 16.0);
  check_uniform(w, "decode_head.linear_pred2.weight", 1 / 16.0);
  check_uniform(w, "decode_head.vs.layers.0.mixer.in_proj.weight", 1 / 16.0);
  check_uniform(w, "decode_head.vs.layers.1.mixer.conv1d.weight", 0.5);
  check_uniform(w, "decode_head.vs.layers.2.mixer.conv1d.bias", 0.5);
  check_uniform(w, "decode_head.vs.layers.3.mixer.x_proj.weight", 1 / std::sqrt(512.0));
  check_uniform(w, "decode_head.vs.layers.4.mixer.dt_proj.weight", 0.25);
  check_uniform(w, "decode_head.vs.layers.7.mixer.out_proj.weight", 1 / std::sqrt(512.0));

  // Trunc-normal bounds: ±2 absolute. Over every Linear weight of the backbone ~4.6 % of
  // the values lie beyond 2σ = 0.04; none beyond 2.
  int64_t n = 0, beyond_two_sigma = 0;
  double max_abs = 0;
  for (auto& [name, t] : w.all())
    if (name.rfind("backbone.", 0) == 0 && t.ndim() == 2)
      for (float v : t.to_vector()) {
        ++n;
        beyond_two_sigma += std::fabs(v) > 0.04;
        max_abs = std::max(max_abs, double(std::fabs(v)));
      }
  INFO("Linear weights: ", n, " values, ", beyond_two_sigma, " beyond 2σ, max |w| ", max_abs);
  CHECK(std::fabs(double(beyond_two_sigma) / double(n) - 0.0455) < 0.002);
  CHECK(max_abs <= 2.0);
  CHECK(max_abs > 0.08);  // beyond 4σ: nothing is cut near the distribution
}

TEST_CASE("initial_weights: deterministic per seed, each tensor independent of the others") {
  const ModelConfig tv3s = model_config(ModelKind::tv3s), segformer = model_config(ModelKind::segformer);
  const Weights a = train::initial_weights(tv3s, 42), b = train::initial_weights(tv3s, 42);
  const Weights c = train::initial_weights(tv3s, 43), s = train::initial_weights(segformer, 42);
  int differ = 0;
  for (auto& [name, t] : a.all()) {
    CHECK(same(t, b.get(name)));
    differ += !same(t, c.get(name));
    if (s.has(name)) CHECK(same(t, s.get(name)));  // the same name draws the same values
  }
  // Every tensor but the 147 constant ones (88 backbone biases, 30 LayerNorm weights, BN 4,
  // RMSNorm 9, D 8, A_log 8) changes with the seed.
  CHECK(differ == 274 - 147);
}

TV3S_CUDA_TEST_CASE("initial_weights: CUDA equals CPU bit for bit") {
  const ModelConfig c = model_config(ModelKind::tv3s);
  const Weights cpu = train::initial_weights(c, 9), gpu = train::initial_weights(c, 9, Device::CUDA);
  for (auto& [name, t] : cpu.all()) {
    CHECK(gpu.get(name).device() == Device::CUDA);
    CHECK(same(t, gpu.get(name)));
  }
}

TEST_CASE("load_backbone: copies every backbone tensor from a converted, a raw and a prefixed MiT file") {
  test::TempDir dir;
  const ModelConfig mit = model_config(ModelKind::backbone), tv3s = model_config(ModelKind::tv3s);
  const Weights imagenet = random_weights(model_parameters(mit), 17);
  const Weights fresh = train::initial_weights(tv3s, 1);

  // Converted (`tv3s convert mit_b0.pth`: model "mit" metadata).
  const std::string converted = write_model(dir, "mit_b0.safetensors", mit, imagenet);
  Weights w = fresh;
  train::load_backbone(w, tv3s, converted);
  int copied = 0;
  for (auto& [name, t] : w.all()) {
    const bool backbone = name.rfind("backbone.", 0) == 0;
    copied += backbone;
    CHECK(same(t, backbone ? imagenet.get(name.substr(9)) : fresh.get(name)));  // the head stays fresh
  }
  CHECK(copied == int(imagenet.all().size()));

  // As in mit_bX.pth wrapped by DataParallel: "module." names, the ImageNet classifier
  // head.* (ignored), no metadata.
  std::map<std::string, Tensor> raw = imagenet.all();
  raw["head.weight"] = Tensor::zeros(Shape{1000, 256});
  raw["head.bias"] = Tensor::zeros(Shape{1000});
  const std::string prefixed =
      write_model(dir, "raw.safetensors", mit, Weights(raw), {{"format", "pt"}}, "module.");
  Weights v = fresh;
  train::load_backbone(v, tv3s, prefixed);
  for (auto& [name, t] : imagenet.all()) CHECK(same(v.get("backbone." + name), t));

  // A backbone-only model takes the names without prefix.
  Weights m = train::initial_weights(mit, 1);
  train::load_backbone(m, mit, converted);
  for (auto& [name, t] : imagenet.all()) CHECK(same(m.get(name), t));
}

TEST_CASE("load_backbone: bad files are named with what is wrong") {
  test::TempDir dir;
  const ModelConfig mit = model_config(ModelKind::backbone), tv3s = model_config(ModelKind::tv3s);
  const Weights imagenet = random_weights(model_parameters(mit), 17);
  Weights w = train::initial_weights(tv3s, 1);
  auto message = [&](const std::string& path, const ModelConfig& config = model_config(ModelKind::tv3s)) {
    return test::error_message([&] { train::load_backbone(w, config, path); });
  };

  const std::string whole = write_model(dir, "whole.safetensors", tv3s, w);
  CHECK(message(whole) == whole + ": holds a whole model (decode_head.* tensors), not an ImageNet "
                                  "backbone; fine-tune from a model file with --init instead");

  const std::string b0 = write_model(dir, "mit_b0.safetensors", mit, imagenet);
  CHECK(message(b0, model_config(ModelKind::tv3s, "mit_b1")) ==
        b0 + ": is a mit_b0 backbone, but the model being trained is mit_b1");

  std::map<std::string, Tensor> missing = imagenet.all();
  missing.erase("block2.1.mlp.fc2.bias");
  const std::string lacking = write_model(dir, "lacking.safetensors", mit, Weights(missing));
  CHECK(message(lacking) == lacking + ": missing 'block2.1.mlp.fc2.bias'");

  std::map<std::string, Tensor> reshaped = imagenet.all();
  reshaped["norm4.weight"] = Tensor::zeros(Shape{255});
  const std::string bad_shape = write_model(dir, "shape.safetensors", mit, Weights(reshaped));
  CHECK(message(bad_shape) == bad_shape + ": 'norm4.weight' has shape [255], expected [256]");

  std::map<std::string, Tensor> ints = imagenet.all();
  ints["norm4.bias"] = Tensor::zeros(Shape{256}, DType::i32);
  const std::string integer = write_model(dir, "ints.safetensors", mit, Weights(ints));
  CHECK(message(integer) == integer + ": tensor 'norm4.bias' has dtype i32, expected a floating type");

  const std::string garbage = dir.file("garbage.pth");
  test::write_bytes(garbage, "not a checkpoint at all");
  CHECK(message(garbage).rfind(garbage + ": ", 0) == 0);
  CHECK(message(dir.file("absent.pth")).rfind(dir.file("absent.pth") + ": ", 0) == 0);
  CHECK(same(w.get("backbone.norm4.bias"), train::initial_weights(tv3s, 1).get("backbone.norm4.bias")));
}

TEST_CASE("init_from_model: copies what fits, re-initialises classifiers for a new class count") {
  test::TempDir dir;
  const ModelConfig five = model_config(ModelKind::tv3s, "mit_b0", 5), three = model_config(ModelKind::tv3s, "mit_b0", 3);
  const Weights trained = random_weights(model_parameters(five), 23);
  const std::string path = write_model(dir, "trained.safetensors", five, trained);

  Weights same_classes = train::initial_weights(five, 2);
  CHECK(train::init_from_model(same_classes, five, path) ==
        "initialised from " + path + ": 274 of 274 tensors");
  for (auto& [name, t] : trained.all()) CHECK(same(same_classes.get(name), t));

  const Weights fresh = train::initial_weights(three, 2);
  Weights w = fresh;
  CHECK(train::init_from_model(w, three, path) ==
        "initialised from " + path + ": 270 of 274 tensors; classifiers re-initialised for 3 classes (file has 5)");
  for (auto& [name, t] : w.all()) {
    const bool classifier = name.rfind("decode_head.linear_pred", 0) == 0;
    INFO(name);
    CHECK(same(t, classifier ? fresh.get(name) : trained.get(name)));
  }
}

TEST_CASE("init_from_model: a SegFormer or MiT file fills its part of a TV3S model") {
  test::TempDir dir;
  const ModelConfig tv3s = model_config(ModelKind::tv3s), segformer = model_config(ModelKind::segformer), mit = model_config(ModelKind::backbone);
  const Weights seg = random_weights(model_parameters(segformer), 29);
  const Weights backbone = random_weights(model_parameters(mit), 31);
  const std::string seg_path = write_model(dir, "segformer.safetensors", segformer, seg);
  const std::string mit_path = write_model(dir, "mit.safetensors", mit, backbone);
  const Weights fresh = train::initial_weights(tv3s, 4);

  Weights w = fresh;
  CHECK(train::init_from_model(w, tv3s, seg_path) ==
        "initialised from " + seg_path + ": 191 of 274 tensors; the file is a segformer model (0 of its "
        "tensors unused), the model being trained a tv3s model");
  for (auto& [name, t] : w.all()) CHECK(same(t, seg.has(name) ? seg.get(name) : fresh.get(name)));

  Weights v = fresh;
  CHECK(train::init_from_model(v, tv3s, mit_path) ==
        "initialised from " + mit_path + ": 176 of 274 tensors; the file is a backbone model (0 of its "
        "tensors unused), the model being trained a tv3s model");
  for (auto& [name, t] : v.all())
    CHECK(same(t, name.rfind("backbone.", 0) == 0 ? backbone.get(name.substr(9)) : fresh.get(name)));

  // The other way: a TV3S file into a SegFormer leaves the decoder unused.
  const std::string tv3s_path = write_model(dir, "tv3s.safetensors", tv3s, fresh);
  Weights s = train::initial_weights(segformer, 8);
  CHECK(train::init_from_model(s, segformer, tv3s_path) ==
        "initialised from " + tv3s_path + ": 191 of 191 tensors; the file is a tv3s model (83 of its "
        "tensors unused), the model being trained a segformer model");
}

TEST_CASE("init_from_model: a different backbone or decoder width is an error naming the file") {
  test::TempDir dir;
  const ModelConfig tv3s = model_config(ModelKind::tv3s);
  const std::string path = write_model(dir, "m.safetensors", tv3s, random_weights(model_parameters(tv3s), 3));
  Weights w;
  CHECK(test::error_message([&] { train::init_from_model(w, model_config(ModelKind::tv3s, "mit_b1"), path); }) ==
        path + ": its backbone is mit_b0, but the model being trained is mit_b1");
  CHECK(test::error_message([&] { train::init_from_model(w, model_config(ModelKind::tv3s, "mit_b0", 5, 64), path); }) ==
        path + ": its decoder width (embed_dim) is 32, but the model being trained has 64");
  // Not a model file at all: the loader's message.
  const std::string bad = dir.file("bad.safetensors");
  test::write_bytes(bad, "nonsense");
  CHECK(test::error_message([&] { train::init_from_model(w, tv3s, bad); }).rfind(bad + ": ", 0) == 0);
}
