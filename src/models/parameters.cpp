#include "src/models/parameters.h"

#include <map>
#include <sstream>

#include "tv3s/error.h"

namespace tv3s {

ParameterList mit_parameters(const MitConfig& mit) {
  ParameterList p;
  auto add = [&p](const std::string& name, const Shape& shape) { p.emplace_back(name, shape); };
  int64_t in_channels = 3;
  for (int k = 1; k <= 4; ++k) {
    const int64_t C = mit.channels[k - 1], sr = mit.sr_ratios[k - 1], hidden = C * mit.mlp_ratio;
    const int64_t kernel = k == 1 ? 7 : 3;
    const std::string pe = "patch_embed" + std::to_string(k);
    add(pe + ".proj.weight", Shape{C, in_channels, kernel, kernel});
    add(pe + ".proj.bias", Shape{C});
    add(pe + ".norm.weight", Shape{C});
    add(pe + ".norm.bias", Shape{C});
    for (int64_t j = 0; j < mit.depths[k - 1]; ++j) {
      const std::string b = "block" + std::to_string(k) + "." + std::to_string(j) + ".";
      add(b + "norm1.weight", Shape{C});
      add(b + "norm1.bias", Shape{C});
      add(b + "attn.q.weight", Shape{C, C});
      add(b + "attn.q.bias", Shape{C});
      add(b + "attn.kv.weight", Shape{2 * C, C});
      add(b + "attn.kv.bias", Shape{2 * C});
      add(b + "attn.proj.weight", Shape{C, C});
      add(b + "attn.proj.bias", Shape{C});
      if (sr > 1) {
        add(b + "attn.sr.weight", Shape{C, C, sr, sr});
        add(b + "attn.sr.bias", Shape{C});
        add(b + "attn.norm.weight", Shape{C});
        add(b + "attn.norm.bias", Shape{C});
      }
      add(b + "norm2.weight", Shape{C});
      add(b + "norm2.bias", Shape{C});
      add(b + "mlp.fc1.weight", Shape{hidden, C});
      add(b + "mlp.fc1.bias", Shape{hidden});
      add(b + "mlp.dwconv.dwconv.weight", Shape{hidden, 1, 3, 3});
      add(b + "mlp.dwconv.dwconv.bias", Shape{hidden});
      add(b + "mlp.fc2.weight", Shape{C, hidden});
      add(b + "mlp.fc2.bias", Shape{C});
    }
    add("norm" + std::to_string(k) + ".weight", Shape{C});
    add("norm" + std::to_string(k) + ".bias", Shape{C});
    in_channels = C;
  }
  return p;
}

ParameterList swin_parameters(const SwinConfig& swin) {
  ParameterList p;
  auto add = [&p](const std::string& name, const Shape& shape) { p.emplace_back(name, shape); };
  const std::array<int64_t, 4> channels = swin.channels();
  const int64_t table_rows = (2 * swin.window - 1) * (2 * swin.window - 1);
  add("patch_embed.proj.weight", Shape{swin.embed_dim, 3, 4, 4});
  add("patch_embed.proj.bias", Shape{swin.embed_dim});
  add("patch_embed.norm.weight", Shape{swin.embed_dim});
  add("patch_embed.norm.bias", Shape{swin.embed_dim});
  for (int i = 0; i < 4; ++i) {
    const int64_t C = channels[i], hidden = C * swin.mlp_ratio;
    for (int64_t j = 0; j < swin.depths[i]; ++j) {
      const std::string b = "layers." + std::to_string(i) + ".blocks." + std::to_string(j) + ".";
      add(b + "norm1.weight", Shape{C});
      add(b + "norm1.bias", Shape{C});
      add(b + "attn.relative_position_bias_table", Shape{table_rows, swin.heads[i]});
      add(b + "attn.qkv.weight", Shape{3 * C, C});
      add(b + "attn.qkv.bias", Shape{3 * C});
      add(b + "attn.proj.weight", Shape{C, C});
      add(b + "attn.proj.bias", Shape{C});
      add(b + "norm2.weight", Shape{C});
      add(b + "norm2.bias", Shape{C});
      add(b + "mlp.fc1.weight", Shape{hidden, C});
      add(b + "mlp.fc1.bias", Shape{hidden});
      add(b + "mlp.fc2.weight", Shape{C, hidden});
      add(b + "mlp.fc2.bias", Shape{C});
    }
    if (i < 3) {  // PatchMerging: LayerNorm(4C), Linear(4C → 2C) without bias
      const std::string d = "layers." + std::to_string(i) + ".downsample.";
      add(d + "norm.weight", Shape{4 * C});
      add(d + "norm.bias", Shape{4 * C});
      add(d + "reduction.weight", Shape{2 * C, 4 * C});
    }
  }
  for (int i = 0; i < 4; ++i) {
    add("norm" + std::to_string(i) + ".weight", Shape{channels[i]});
    add("norm" + std::to_string(i) + ".bias", Shape{channels[i]});
  }
  return p;
}

ParameterList backbone_parameters(const ModelConfig& config) {
  return config.is_swin() ? swin_parameters(config.swin) : mit_parameters(mit_config(config.backbone));
}

ParameterList model_parameters(const ModelConfig& config) {
  ParameterList p;
  const std::string prefix = config.kind == ModelKind::backbone ? "" : "backbone.";
  for (auto& [name, shape] : backbone_parameters(config)) p.emplace_back(prefix + name, shape);
  if (config.kind == ModelKind::backbone) return p;
  const std::array<int64_t, 4> channels = config.backbone_channels();

  // SegFormer all-MLP part (model-spec §3).
  const int64_t E = config.embed_dim, K = config.num_classes;
  auto add = [&p](const std::string& name, const Shape& shape) {
    p.emplace_back("decode_head." + name, shape);
  };
  for (int k = 1; k <= 4; ++k) {
    add("linear_c" + std::to_string(k) + ".proj.weight", Shape{E, channels[k - 1]});
    add("linear_c" + std::to_string(k) + ".proj.bias", Shape{E});
  }
  add("linear_fuse.conv.weight", Shape{E, 4 * E, 1, 1});
  for (const char* s : {"weight", "bias", "running_mean", "running_var"})
    add(std::string("linear_fuse.bn.") + s, Shape{E});
  add("linear_pred.weight", Shape{K, E, 1, 1});
  add("linear_pred.bias", Shape{K});
  if (config.kind == ModelKind::segformer) return p;

  // TV3S decoder (model-spec §5.5, §12): 8 Mamba layers, d_inner = 2E, d_state = 16,
  // d_conv = 4, dt_rank = ceil(E / 16).
  const int64_t inner = 2 * E, state = 16, dt_rank = (E + 15) / 16;
  add("linear_pred2.weight", Shape{K, E, 1, 1});
  add("linear_pred2.bias", Shape{K});
  for (int l = 0; l < 8; ++l) {
    const std::string m = "vs.layers." + std::to_string(l) + ".mixer.";
    add(m + "A_log", Shape{inner, state});
    add(m + "D", Shape{inner});
    add(m + "in_proj.weight", Shape{2 * inner, E});
    add(m + "conv1d.weight", Shape{inner, 1, 4});
    add(m + "conv1d.bias", Shape{inner});
    add(m + "x_proj.weight", Shape{dt_rank + 2 * state, inner});
    add(m + "dt_proj.weight", Shape{inner, dt_rank});
    add(m + "dt_proj.bias", Shape{inner});
    add(m + "out_proj.weight", Shape{E, inner});
    add("vs.layers." + std::to_string(l) + ".norm.weight", Shape{E});
  }
  add("vs.norm_f.weight", Shape{E});
  return p;
}

void check_parameter_set(const std::vector<std::pair<std::string, Shape>>& have,
                         const ParameterList& want, const std::string& what) {
  std::map<std::string, Shape> wanted(want.begin(), want.end());
  std::map<std::string, Shape> got;
  std::vector<std::string> problems;
  for (auto& [name, shape] : have) {
    if (!got.emplace(name, shape).second) problems.push_back("duplicate '" + name + "'");
    auto it = wanted.find(name);
    if (it == wanted.end()) {
      problems.push_back("unexpected '" + name + "'");
    } else if (!(it->second == shape)) {
      std::ostringstream os;
      os << "'" << name << "' has shape " << shape << ", expected " << it->second;
      problems.push_back(os.str());
    }
  }
  for (auto& [name, shape] : want)
    if (!got.count(name)) problems.push_back("missing '" + name + "'");
  if (problems.empty()) return;
  std::string msg = what + ": " + problems[0];
  const size_t shown = std::min<size_t>(problems.size(), 4);
  for (size_t i = 1; i < shown; ++i) msg += "; " + problems[i];
  if (problems.size() > shown) msg += str("; and ", problems.size() - shown, " more");
  throw Error(msg);
}

}  // namespace tv3s
