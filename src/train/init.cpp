// Initialisation rules (training-spec §8) and the two ways of starting from stored
// weights. Each parameter name maps to one rule; the rule says which distribution and
// which scale, and the fill loop draws it. Rules are matched by the official names, so
// the table below reads like the spec's table.
#include "src/train/init.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "src/convert/checkpoint.h"
#include "src/core/text.h"
#include "src/io/safetensors.h"
#include "src/io/torch_checkpoint.h"
#include "src/models/model_file.h"
#include "src/models/parameters.h"
#include "tv3s/error.h"
#include "tv3s/rng.h"

namespace tv3s::train {
namespace {

struct Rule {
  enum Kind { constant, uniform, normal, trunc_normal, dt_bias, a_log } kind;
  double scale = 0;  // the constant, the uniform bound, or the standard deviation
};

// PyTorch's default Linear/Conv init: kaiming_uniform(a = √5) for the weight and
// U(±1/sqrt(fan_in)) for the bias — both bounds are 1/sqrt(fan_in), fan_in = the weight's
// numel / out_channels (in_channels · kernel elements / groups).
Rule pytorch_default(const Shape& weight_shape) {
  return {Rule::uniform, 1.0 / std::sqrt(double(weight_shape.numel() / weight_shape[0]))};
}

// Conv2d normal(0, sqrt(2 / fan_out)), fan_out = kh·kw·out/groups (MiT's _init_weights and
// mmcv's kaiming_init with mode fan_out agree on this formula).
Rule fan_out_normal(const Shape& w, int64_t groups) {
  return {Rule::normal, std::sqrt(2.0 / double(w[2] * w[3] * w[0] / groups))};
}

// MiT (training-spec §8), name without "backbone.": Linear (2-D weights), Conv2d (4-D), LayerNorm (1-D).
Rule backbone_rule(const std::string& name, const Shape& shape) {
  if (ends_with(name, ".bias")) return {Rule::constant, 0.0};  // Linear, Conv2d and LayerNorm
  if (shape.ndim() == 1) return {Rule::constant, 1.0};        // LayerNorm weight
  if (shape.ndim() == 2) return {Rule::trunc_normal, 0.02};   // Linear weight
  if (shape.ndim() == 4)  // the Mix-FFN depthwise conv has groups = channels
    return fan_out_normal(shape, name.find(".dwconv.") != std::string::npos ? shape[0] : 1);
  fail(str("initial_weights: no initialisation rule for backbone parameter '", name, "'"));
}

// Swin, name without "backbone.": the official D2SwinTransformer never applies its
// _init_weights (swin2.py defines it without `self` and never calls it), so every layer
// keeps PyTorch's default init; only the relative position bias tables are drawn
// trunc_normal(0.02) in WindowAttention's constructor. A bias gets its layer's fan_in from
// `weight_of_bias`.
Rule swin_rule(const std::string& name, const Shape& shape, const Shape& weight_of_bias) {
  if (ends_with(name, ".relative_position_bias_table")) return {Rule::trunc_normal, 0.02};
  const bool norm = name.find("norm") != std::string::npos;  // LayerNorms: norm1/2, norm{i}, downsample.norm
  if (norm) return {Rule::constant, ends_with(name, ".bias") ? 0.0 : 1.0};
  if (shape.ndim() >= 2) return pytorch_default(shape);                        // Linear and Conv2d weights
  if (ends_with(name, ".bias")) return pytorch_default(weight_of_bias);       // their biases
  fail(str("initial_weights: no initialisation rule for Swin parameter '", name, "'"));
}

// The weight of a bias (same name, ".weight" for ".bias"), or the bias's own shape.
Shape weight_of(const std::map<std::string, Shape>& shapes, const std::string& name, const Shape& shape) {
  if (!ends_with(name, ".bias")) return shape;
  auto it = shapes.find(name.substr(0, name.size() - 4) + "weight");
  return it != shapes.end() ? it->second : shape;
}

// The decode head, name without "decode_head."; a bias gets its layer's fan_in from `weight_of_bias`.
Rule head_rule(const std::string& name, const Shape& shape, const Shape& weight_of_bias) {
  const bool bias = ends_with(name, ".bias");
  const Shape& weight = bias ? weight_of_bias : shape;
  if (name == "linear_fuse.conv.weight") return fan_out_normal(shape, 1);
  if (name == "linear_fuse.bn.weight" || name == "linear_fuse.bn.running_var") return {Rule::constant, 1.0};
  if (name == "linear_fuse.bn.bias" || name == "linear_fuse.bn.running_mean") return {Rule::constant, 0.0};
  if (starts_with(name, "linear_c") || starts_with(name, "linear_pred.") || starts_with(name, "linear_pred2."))
    return pytorch_default(weight);
  if (name == "vs.norm_f.weight" || (starts_with(name, "vs.layers.") && ends_with(name, ".norm.weight")))
    return {Rule::constant, 1.0};  // RMSNorm
  if (ends_with(name, ".mixer.A_log")) return {Rule::a_log};
  if (ends_with(name, ".mixer.D")) return {Rule::constant, 1.0};
  if (ends_with(name, ".mixer.dt_proj.weight")) return {Rule::uniform, 1.0 / std::sqrt(double(shape[1]))};
  if (ends_with(name, ".mixer.dt_proj.bias")) return {Rule::dt_bias};
  for (const char* layer : {".mixer.in_proj.weight", ".mixer.conv1d.weight", ".mixer.conv1d.bias",
                            ".mixer.x_proj.weight", ".mixer.out_proj.weight"})
    if (ends_with(name, layer)) return pytorch_default(weight);
  fail(str("initial_weights: no initialisation rule for 'decode_head.", name, "'"));
}

// FNV-1a: a stable per-name seed component.
uint64_t name_hash(const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Standard normal values two at a time (both halves of a Box–Muller pair: half the
// logarithms of Rng::normal, which keeps one value per call).
class NormalPairs {
 public:
  explicit NormalPairs(Rng& rng) : rng_(rng) {}
  double next() {
    if (have_second_) {
      have_second_ = false;
      return second_;
    }
    const double radius = std::sqrt(-2.0 * std::log(1.0 - rng_.uniform()));  // 1 − u ∈ (0, 1]
    const double angle = 6.283185307179586 * rng_.uniform();
    second_ = radius * std::sin(angle);
    have_second_ = true;
    return radius * std::cos(angle);
  }

 private:
  Rng& rng_;
  double second_ = 0;
  bool have_second_ = false;
};

void fill(float* out, const Shape& shape, const Rule& rule, Rng& rng) {
  const int64_t n = shape.numel();
  NormalPairs normal(rng);
  for (int64_t i = 0; i < n; ++i) {
    double v = 0;
    switch (rule.kind) {
      case Rule::constant: v = rule.scale; break;
      case Rule::uniform: v = rng.uniform(-rule.scale, rule.scale); break;
      case Rule::normal: v = rule.scale * normal.next(); break;
      case Rule::trunc_normal:  // timm trunc_normal_(std) cuts at a = −2, b = 2 (absolute)
        do v = rule.scale * normal.next(); while (std::fabs(v) > 2.0);
        break;
      case Rule::dt_bias: {  // Mamba: Δ = softplus(bias) log-uniform in [dt_min, dt_max]
        const double dt_min = 1e-3, dt_max = 1e-1, floor = 1e-4;
        const double dt = std::max(floor, std::exp(rng.uniform() * (std::log(dt_max) - std::log(dt_min)) +
                                                   std::log(dt_min)));
        v = dt + std::log(-std::expm1(-dt));  // softplus⁻¹(dt) = ln(e^dt − 1)
        break;
      }
      case Rule::a_log: v = std::log(double(i % shape[1] + 1)); break;  // S4D-real: A = −(n + 1)
    }
    out[i] = float(v);
  }
}

// The tensors of an ImageNet backbone checkpoint the way mmcv's load_checkpoint sees them:
// `module.` stripped, the ImageNet classifier dropped, Swin's relative_position_index
// buffers checked against the standard index and dropped, Hugging Face names mapped to
// official ones.
convert::NamedTensors read_backbone_file(const std::string& path) {
  // Anything but safetensors goes to the torch reader, which says what it is not.
  convert::NamedTensors raw = io::looks_like_safetensors(path) ? io::read_safetensors(path).tensors
                                                      : io::read_torch_checkpoint(path).tensors;
  convert::NamedTensors kept;
  for (auto& [name, t] : raw) {
    const std::string n = starts_with(name, "module.") ? name.substr(7) : name;
    if (ends_with(n, ".relative_position_index")) convert::check_relative_position_index(n, t, path);
    else if (!convert::unused_by_model(n)) kept.emplace_back(n, t);
  }
  if (convert::is_hf_naming(kept)) kept = convert::map_hf_state_dict(kept, path);
  return kept;
}


}  // namespace

Weights initial_weights(const ModelConfig& config, uint64_t seed, Device device) {
  const ParameterList params = model_parameters(config);
  const std::map<std::string, Shape> shapes(params.begin(), params.end());
  std::vector<Rule> rules;
  for (const auto& [name, shape] : params) {
    if (starts_with(name, "decode_head.")) {
      rules.push_back(head_rule(name.substr(12), shape, weight_of(shapes, name, shape)));
    } else {
      const std::string leaf = starts_with(name, "backbone.") ? name.substr(9) : name;
      rules.push_back(config.is_swin() ? swin_rule(leaf, shape, weight_of(shapes, name, shape))
                                       : backbone_rule(leaf, shape));
    }
  }
  std::vector<Tensor> tensors;
  for (const auto& [name, shape] : params) tensors.push_back(Tensor::empty(shape, DType::f32, Device::CPU));
  // Independent generators per tensor: the fill parallelises without changing a value.
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < int64_t(params.size()); ++i) {
    Rng rng(seed * 0x9e3779b97f4a7c15ULL ^ name_hash(params[size_t(i)].first));
    fill(tensors[size_t(i)].data<float>(), params[size_t(i)].second, rules[size_t(i)], rng);
  }
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < params.size(); ++i) out.emplace(params[i].first, tensors[i].to(device));
  return Weights(std::move(out));
}

void load_backbone(Weights& weights, const ModelConfig& config, const std::string& path) {
  const convert::NamedTensors tensors = read_backbone_file(path);
  std::vector<std::pair<std::string, Shape>> shapes;
  for (const auto& [name, t] : tensors) {
    TV3S_CHECK(!starts_with(name, "decode_head."), path,
               ": holds a whole model (decode_head.* tensors), not an ImageNet backbone; "
               "fine-tune from a model file with --init instead");
    shapes.emplace_back(name, t.shape());
  }
  TV3S_CHECK(!shapes.empty(), path, ": holds no tensors, expected an ImageNet backbone");
  const ModelConfig found = convert::infer_config(shapes, convert::ConvertOptions{}, path);
  TV3S_CHECK(found.kind == ModelKind::backbone, path, ": not an ImageNet backbone (its tensors are named "
             "like a ", found.kind, " model: ", shapes.front().first, ", ...)");
  TV3S_CHECK(found.backbone == config.backbone && (!config.is_swin() || found.swin == config.swin), path,
             ": is a ", found.backbone, " backbone, but the model being trained is ", config.backbone);
  ParameterList want = backbone_parameters(config);
  if (config.is_swin()) {
    // An ImageNet Swin (swin_*_22k.pth) has no stage output norms norm0..3: the official
    // model loads it with strict=False and they keep their initial ones and zeros.
    auto absent = [&](const std::pair<std::string, Shape>& p) {
      return starts_with(p.first, "norm") &&
             std::none_of(shapes.begin(), shapes.end(), [&](const auto& s) { return s.first == p.first; });
    };
    want.erase(std::remove_if(want.begin(), want.end(), absent), want.end());
  }
  check_parameter_set(shapes, want, path);

  const std::string prefix = config.kind == ModelKind::backbone ? "" : "backbone.";
  std::map<std::string, Tensor> out = weights.all();
  for (const auto& [name, t] : tensors) {
    TV3S_CHECK(is_floating(t.dtype()), path, ": tensor '", name, "' has dtype ", dtype_name(t.dtype()),
               ", expected a floating type");
    auto it = out.find(prefix + name);
    TV3S_CHECK(it != out.end(), "load_backbone: the model has no parameter '", prefix + name, "'");
    it->second = t.to(DType::f32).to(weights.device());
  }
  weights = Weights(std::move(out));
}

std::string init_from_model(Weights& weights, const ModelConfig& config, const std::string& path) {
  ModelFile file = load_model_file(path, weights.device());
  const ModelConfig& have = file.config;
  TV3S_CHECK(have.backbone == config.backbone, path, ": its backbone is ", have.backbone,
             ", but the model being trained is ", config.backbone);
  const bool both_heads = have.kind != ModelKind::backbone && config.kind != ModelKind::backbone;
  TV3S_CHECK(!both_heads || have.embed_dim == config.embed_dim, path, ": its decoder width (embed_dim) is ",
             have.embed_dim, ", but the model being trained has ", config.embed_dim);
  const bool new_classes = both_heads && have.num_classes != config.num_classes;

  std::map<std::string, Tensor> out = weights.all();
  size_t copied = 0, unused = 0;
  for (const auto& [stored, t] : file.weights.all()) {
    // The same parameter under the model's naming: MiT files have bare backbone names.
    std::string name = stored;
    if (have.kind == ModelKind::backbone && config.kind != ModelKind::backbone) name = "backbone." + stored;
    if (have.kind != ModelKind::backbone && config.kind == ModelKind::backbone)
      name = starts_with(stored, "backbone.") ? stored.substr(9) : "";
    if (new_classes && (starts_with(name, "decode_head.linear_pred.") ||
                        starts_with(name, "decode_head.linear_pred2."))) {
      continue;  // K rows: they cannot carry over
    }
    auto it = out.find(name);
    if (it == out.end()) {  // e.g. the TV3S decoder of a tv3s file when training a SegFormer
      ++unused;
      continue;
    }
    TV3S_CHECK(it->second.shape() == t.shape(), path, ": '", stored, "' has shape ", t.shape(),
               ", the model being trained expects ", it->second.shape());
    it->second = t;
    ++copied;
  }
  const size_t total = out.size();
  weights = Weights(std::move(out));

  std::string summary = str("initialised from ", path, ": ", copied, " of ", total, " tensors");
  if (new_classes)
    summary += str("; classifiers re-initialised for ", config.num_classes, " classes (file has ",
                   have.num_classes, ")");
  if (have.kind != config.kind)
    summary += str("; the file is a ", have.kind, " model (", unused,
                   " of its tensors unused), the model being trained a ", config.kind, " model");
  return summary;
}

}  // namespace tv3s::train
