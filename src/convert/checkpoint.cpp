// `tv3s convert` as a library function: read (torch zip or safetensors), drop, rename,
// infer the configuration, check the parameter set, write. The rules are in checkpoint.h.
#include "src/convert/checkpoint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "src/core/text.h"
#include "src/io/json_text.h"
#include "src/io/safetensors.h"
#include "src/io/torch_checkpoint.h"
#include "src/models/parameters.h"

namespace tv3s::convert {
namespace {

using Note = std::function<void(const std::string&)>;

// "[32, 64, ?, 256]": what was found per stage, "?" where nothing was.
std::string stages(const std::array<int64_t, 4>& v) {
  std::string s = "[";
  for (int k = 0; k < 4; ++k) s += (k ? ", " : "") + (v[k] > 0 ? std::to_string(v[k]) : "?");
  return s + "]";
}

struct Input {
  NamedTensors tensors;
  nlohmann::json meta;  // mmseg meta, or null
};

Input read_input(const std::string& path) {
  if (io::looks_like_safetensors(path)) return {io::read_safetensors(path).tensors, nullptr};
  // Anything else goes to the torch reader, which names what it is not (or a legacy file).
  io::TorchCheckpoint ckpt = io::read_torch_checkpoint(path);
  return {std::move(ckpt.tensors), std::move(ckpt.meta)};
}

// CLASSES / PALETTE of an mmseg meta, when they fit the class count.
void classes_from_meta(ModelConfig& config, const nlohmann::json& meta, const Note& note) {
  const size_t K = size_t(config.num_classes);
  if (auto it = meta.find("CLASSES"); it != meta.end()) {
    std::vector<std::string> names;
    for (const auto& c : *it)
      if (c.is_string()) names.push_back(c.get<std::string>());
    if (it->is_array() && names.size() == K && it->size() == K)
      config.class_names = names;
    else
      note(str("ignoring meta CLASSES (", it->is_array() ? it->size() : 0, " names for ", K,
               " classes)"));
  }
  if (auto it = meta.find("PALETTE"); it != meta.end()) {
    std::vector<std::array<uint8_t, 3>> palette;
    for (const auto& rgb : *it) {
      bool ok = rgb.is_array() && rgb.size() == 3;
      for (size_t c = 0; ok && c < 3; ++c)
        ok = rgb[c].is_number_integer() && rgb[c].get<int64_t>() >= 0 &&
             rgb[c].get<int64_t>() <= 255;
      if (!ok) break;
      palette.push_back({rgb[0].get<uint8_t>(), rgb[1].get<uint8_t>(), rgb[2].get<uint8_t>()});
    }
    if (it->is_array() && palette.size() == it->size() && palette.size() >= K)
      config.palette.assign(palette.begin(), palette.begin() + std::ptrdiff_t(K));
    else
      note(str("ignoring meta PALETTE (not ", K, " or more [r, g, b] colours)"));
  }
}

// The integer after `key=` in an mmseg config text (e.g. "window_w=20"), or -1.
int64_t config_value(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("\\b" + key + "\\s*=\\s*(\\d{1,6})\\b"))) return -1;
  return std::stoll(m[1].str());
}

// The TV3S window and shift: options first, then the decoder_params of the config text
// that mmseg stores in meta["config"], then the official defaults (20, 10).
void windows_from_meta(ModelConfig& config, const nlohmann::json& meta,
                       const ConvertOptions& options, const std::string& what, const Note& note) {
  std::string text;
  if (meta.is_object())
    if (auto it = meta.find("config"); it != meta.end() && it->is_string()) text = *it;
  const int64_t window_w = config_value(text, "window_w"), window_h = config_value(text, "window_h");
  const int64_t shift = config_value(text, "shift_size");
  TV3S_CHECK(window_w == window_h, what, ": the checkpoint's config has window_w=", window_w,
             " and window_h=", window_h, "; tv3s supports square windows only");
  const bool from_text = window_w > 0 && shift > 0;
  config.window = options.window > 0 ? options.window : from_text ? window_w : 20;
  config.shift = options.shift > 0 ? options.shift : from_text ? shift : 10;
  TV3S_CHECK(config.window >= 2 && config.shift > 0 && config.shift < config.window, what,
             ": window ", config.window, " and shift ", config.shift,
             " do not make a real-shift partition (need 0 < shift < window)");
  note(str("TV3S windows ", config.window, "×", config.window, ", shift ", config.shift,
           options.window > 0 || options.shift > 0 ? " (options)"
           : from_text                             ? " (from the checkpoint's config)"
                                                   : " (official defaults; the checkpoint has no config text)"));
}

// Whether the checkpoint's config text names the Cityscapes head variant: the released
// configs call it VSFMHead_shift_city, the code TV3SHead_shift_city (model-spec §7.4, §9).
bool config_names_city_head(const nlohmann::json& meta) {
  if (!meta.is_object()) return false;
  auto it = meta.find("config");
  return it != meta.end() && it->is_string() &&
         std::regex_search(it->get<std::string>(), std::regex("Head_shift_city\\b"));
}

// id2label of a Hugging Face config.json beside the checkpoint, when it names every class.
void classes_from_hf_config(ModelConfig& config, const std::string& in, const Note& note) {
  const std::string path = (std::filesystem::path(in).parent_path() / "config.json").string();
  if (!std::filesystem::is_regular_file(path)) return;
  std::vector<std::string> names(size_t(config.num_classes));
  try {
    const nlohmann::json root = io::parse_json(io::read_json_file(path), path);
    io::json_object(root, path);
    TV3S_CHECK(root.contains("id2label"), path, ": no id2label");
    const nlohmann::json& labels = root["id2label"];
    io::json_object(labels, path + ": id2label");
    size_t found = 0;
    for (const auto& [id, label] : labels.items()) {
      // Decimal class ids below the class count; others leave a class unnamed.
      const bool digits = !id.empty() && id.size() <= 6 && id.find_first_not_of("0123456789") == std::string::npos;
      const size_t k = digits ? size_t(std::stoul(id)) : names.size();
      if (k < names.size() && names[k].empty()) {
        names[k] = io::json_string(label, str(path, ": id2label \"", id, "\""));
        ++found;
      }
    }
    if (found != names.size() || labels.size() != names.size()) {
      note(str("ignoring ", path, ": id2label has ", labels.size(), " labels for ", names.size(),
               " classes"));
      return;
    }
  } catch (const Error& e) {  // optional, so say why it is not used
    note(str("ignoring ", e.what()));  // the message names the file
    return;
  }
  config.class_names = names;
}


using Shapes = std::map<std::string, Shape>;

// The largest block index + 1 under "<stage>blocks.N." / "<stage>N." names (`stage` ends
// with '.'), 0 when there is none.
int64_t count_blocks(const Shapes& shapes, const std::string& stage) {
  int64_t blocks = 0;
  for (auto it = shapes.lower_bound(stage); it != shapes.end() && starts_with(it->first, stage); ++it) {
    const size_t end = it->first.find('.', stage.size());
    const std::string j = it->first.substr(stage.size(), end - stage.size());
    if (!j.empty() && j.size() < 4 && j.find_first_not_of("0123456789") == std::string::npos)
      blocks = std::max<int64_t>(blocks, std::stoll(j) + 1);
  }
  return blocks;
}

// Dim `dim` of a tensor of `ndim` dimensions, or 0 when absent or of another rank.
int64_t dim_of(const Shapes& shapes, const std::string& name, int ndim, int dim = 0) {
  auto it = shapes.find(name);
  return it != shapes.end() && it->second.ndim() == ndim ? it->second[dim] : 0;
}

// MiT (model-spec §2): the variant whose patch_embed{k} channels and blocks per stage match.
void infer_mit(ModelConfig& config, const Shapes& shapes, const std::string& prefix,
               const ConvertOptions& options, const std::string& what) {
  std::array<int64_t, 4> channels{}, depths{};
  for (int k = 1; k <= 4; ++k) {
    channels[k - 1] = dim_of(shapes, prefix + "patch_embed" + std::to_string(k) + ".proj.weight", 4);
    depths[k - 1] = count_blocks(shapes, prefix + "block" + std::to_string(k) + ".");
  }
  const MitConfig* found = find_mit_config(channels, depths);
  const std::string seen = str(prefix, "patch_embed channels ", stages(channels),
                               " and blocks per stage ", stages(depths));
  if (!options.arch.empty()) {
    TV3S_CHECK(!is_swin_backbone(options.arch), what, ": --arch ", options.arch,
               " is a Swin, but the checkpoint holds a MiT (", prefix, "patch_embed1…4)");
    const MitConfig& want = mit_config(options.arch);
    TV3S_CHECK(!found || found->name == want.name, what, ": --arch ", options.arch,
               " does not match the checkpoint, whose ", seen, " are ", found ? found->name : "");
    config.backbone = want.name;
  } else {
    TV3S_CHECK(found, what, ": cannot tell the backbone: ", seen,
               " match no MiT variant (mit_b0 … mit_b5); --arch checks the tensors against one");
    config.backbone = found->name;
  }
}

// Swin (model-spec §9): every number from the shapes — embed from patch_embed.proj, blocks
// per stage from layers.{i}.blocks.{j}, heads and window from each stage's first
// relative_position_bias_table [(2w − 1)², heads], the MLP ratio from fc1. Any
// configuration converts (T, S, B, L or one of its own); the parameter-set check then holds
// every other tensor to it.
void infer_swin(ModelConfig& config, const Shapes& shapes, const std::string& prefix,
                const ConvertOptions& options, const std::string& what) {
  SwinConfig swin;
  swin.embed_dim = dim_of(shapes, prefix + "patch_embed.proj.weight", 4);
  std::array<int64_t, 4> windows{};
  for (int i = 0; i < 4; ++i) {
    const std::string layer = prefix + "layers." + std::to_string(i) + ".blocks.";
    swin.depths[i] = count_blocks(shapes, layer);
    const std::string table = layer + "0.attn.relative_position_bias_table";
    const int64_t rows = dim_of(shapes, table, 2);
    swin.heads[i] = dim_of(shapes, table, 2, 1);
    const int64_t side = int64_t(std::llround(std::sqrt(double(rows))));  // 2w − 1
    TV3S_CHECK(rows > 0 && side * side == rows && side % 2 == 1, what, ": cannot tell the Swin window: ",
               table, rows > 0 ? str(" has ", rows, " rows, not (2·window − 1)²") : std::string(" is missing"));
    windows[i] = (side + 1) / 2;
  }
  TV3S_CHECK(windows[0] == windows[1] && windows[0] == windows[2] && windows[0] == windows[3], what,
             ": the Swin stages have different windows ", stages(windows), " (tv3s runs one window size)");
  swin.window = windows[0];
  const int64_t hidden = dim_of(shapes, prefix + "layers.0.blocks.0.mlp.fc1.weight", 2);
  swin.mlp_ratio = swin.embed_dim > 0 && hidden % swin.embed_dim == 0 ? hidden / swin.embed_dim : 0;
  try {
    swin = named_swin_config(swin);
  } catch (const Error& e) {
    throw Error(str(what, ": the checkpoint's Swin is not one tv3s can run: ", e.what()));
  }
  if (!options.arch.empty()) {
    TV3S_CHECK(is_swin_backbone(options.arch), what, ": --arch ", options.arch,
               " is a MiT, but the checkpoint holds a Swin (", prefix, "layers.*)");
    TV3S_CHECK(options.arch == swin.name, what, ": --arch ", options.arch,
               " does not match the checkpoint, whose Swin is ", swin.name, " (embed ", swin.embed_dim,
               ", depths ", stages(swin.depths), ", heads ", stages(swin.heads), ", window ", swin.window, ")");
  }
  config.backbone = swin.name;
  config.swin = swin;
}
// An ImageNet Swin (swin_*_22k.pth) has no norm0..3: the official D2SwinTransformer loads
// it with strict=False and keeps those LayerNorms at their initial ones and zeros, which
// is what they get here.
void add_swin_output_norms(NamedTensors& kept, std::vector<std::pair<std::string, Shape>>& shapes,
                           const ModelConfig& config, const Note& note) {
  std::vector<std::string> added;
  for (int i = 0; i < 4; ++i) {
    const std::string name = "norm" + std::to_string(i);
    const bool present = std::any_of(kept.begin(), kept.end(), [&](const auto& t) {
      return t.first == name + ".weight" || t.first == name + ".bias";
    });
    if (present) continue;
    const Shape shape{config.swin.channels()[i]};
    kept.emplace_back(name + ".weight", Tensor::full(shape, 1.0, DType::f32));
    kept.emplace_back(name + ".bias", Tensor::zeros(shape, DType::f32));
    shapes.emplace_back(name + ".weight", shape);
    shapes.emplace_back(name + ".bias", shape);
    added.push_back(name);
  }
  if (!added.empty())
    note(str("the checkpoint has no ", added.front(), added.size() > 1 ? " … " + added.back() : "",
             " (stage output norms): LayerNorm's initial ones and zeros, as the official model keeps them"));
}

}  // namespace

bool unused_by_model(const std::string& name) {
  return starts_with(name, "decode_head.conv_seg.") || ends_with(name, ".num_batches_tracked") ||
         starts_with(name, "head.") || starts_with(name, "classifier.") ||
         // the original Swin's classifier norm (the backbone's outputs use norm0..3) and the
         // shift masks it stores per block (tv3s computes them, at any size)
         name == "norm.weight" || name == "norm.bias" || ends_with(name, ".attn_mask") ||
         // and Hugging Face SwinModel's (SwinBackbone has the stage norms instead)
         starts_with(name, "swin.layernorm.") || starts_with(name, "layernorm.");
}

void check_relative_position_index(const std::string& name, const Tensor& index, const std::string& what) {
  const int64_t L = index.ndim() == 2 ? index.size(0) : 0;
  const int64_t window = int64_t(std::llround(std::sqrt(double(L))));
  TV3S_CHECK(L > 0 && index.size(1) == L && window * window == L, what, ": ", name, " has shape ",
             index.shape(), ", not [window², window²]");
  const Tensor values = index.to(DType::i32);
  const int32_t* v = values.data<int32_t>();
  for (int64_t t = 0; t < L; ++t)
    for (int64_t u = 0; u < L; ++u) {
      // model-spec §9: (ti − ui + w − 1)·(2w − 1) + (tj − uj + w − 1)
      const int64_t want = (t / window - u / window + window - 1) * (2 * window - 1) +
                           (t % window - u % window + window - 1);
      TV3S_CHECK(v[t * L + u] == want, what, ": ", name, "[", t, ", ", u, "] = ", v[t * L + u],
                 " is not the standard Swin relative position index (", want,
                 "); tv3s computes that index and cannot run another");
    }
}

ModelConfig infer_config(const std::vector<std::pair<std::string, Shape>>& parameters,
                         const ConvertOptions& options, const std::string& what) {
  const Shapes shapes(parameters.begin(), parameters.end());
  auto any_with_prefix = [&](const std::string& prefix) {
    auto it = shapes.lower_bound(prefix);
    return it != shapes.end() && starts_with(it->first, prefix);
  };

  ModelConfig config;
  config.kind = any_with_prefix("decode_head.vs.") ? ModelKind::tv3s
                : any_with_prefix("decode_head.") || any_with_prefix("backbone.") ? ModelKind::segformer
                                                                                  : ModelKind::backbone;
  const std::string prefix = config.kind == ModelKind::backbone ? "" : "backbone.";

  if (shapes.count(prefix + "patch_embed.proj.weight")) infer_swin(config, shapes, prefix, options, what);
  else infer_mit(config, shapes, prefix, options, what);

  if (config.kind == ModelKind::backbone) {
    TV3S_CHECK(options.num_classes < 0, what, ": --num-classes ", options.num_classes,
               " given, but the checkpoint is a backbone without a decode head");
    config.num_classes = 0;
    return config;
  }
  const int64_t classes = dim_of(shapes, "decode_head.linear_pred.weight", 4);
  TV3S_CHECK(classes > 0 || options.num_classes > 0, what,
             ": cannot tell the number of classes: there is no decode_head.linear_pred.weight "
             "(--num-classes sets it)");
  TV3S_CHECK(classes == 0 || options.num_classes < 0 || classes == options.num_classes, what,
             ": --num-classes ", options.num_classes, " does not match the checkpoint, whose "
             "decode_head.linear_pred.weight has ", classes, " rows");
  config.num_classes = classes > 0 ? classes : options.num_classes;
  if (const int64_t e = dim_of(shapes, "decode_head.linear_c1.proj.weight", 2)) config.embed_dim = e;
  return config;
}

ConvertResult convert_checkpoint(const std::string& in, const std::string& out,
                                 const ConvertOptions& options, const Note& note) {
  Input input = read_input(in);
  ConvertResult result;
  NamedTensors kept;
  int64_t indices = 0;
  for (auto& [name, t] : input.tensors) {
    if (ends_with(name, ".relative_position_index")) {  // a Swin buffer: checked, not stored
      check_relative_position_index(name, t, in);
      ++indices;
    } else if (unused_by_model(name)) {
      result.dropped.push_back(name);
    } else {
      kept.emplace_back(name, t.to(DType::f32));
    }
  }
  if (indices > 0)
    note(str("checked ", indices, " relative_position_index buffers: the standard Swin index (not stored)"));
  input.tensors.clear();
  if (!result.dropped.empty()) {
    std::string list;
    for (const std::string& name : result.dropped) list += (list.empty() ? "" : ", ") + name;
    note("dropped (unused by the model): " + list);
  }
  const bool hf = is_hf_naming(kept);
  if (hf) kept = map_hf_state_dict(kept, in);

  std::vector<std::pair<std::string, Shape>> shapes;
  for (const auto& [name, t] : kept) shapes.emplace_back(name, t.shape());
  ModelConfig config = infer_config(shapes, options, in);
  const ParameterList want = model_parameters(config);
  if (config.is_swin() && config.kind == ModelKind::backbone) add_swin_output_norms(kept, shapes, config, note);
  check_parameter_set(shapes, want, in);

  if (config.kind == ModelKind::tv3s) {
    windows_from_meta(config, input.meta, options, in, note);
    config.city_head = config_names_city_head(input.meta);
    if (config.city_head)
      note("the checkpoint was trained with TV3SHead_shift_city (its config names the _city head): "
           "same weights and forward; `tv3s eval --protocol official` answers its frames 0-2 with "
           "class 0 as the official test mode does, everything else runs it as TV3SHead_shift");
  } else {
    TV3S_CHECK(options.window < 0 && options.shift < 0, in,
               ": --window/--shift given, but the checkpoint has no TV3S decoder");
  }
  if (config.kind != ModelKind::backbone) {
    if (input.meta.is_object()) classes_from_meta(config, input.meta, note);
    else if (hf) classes_from_hf_config(config, in, note);
  }
  const std::string file = std::filesystem::path(in).filename().string();
  config.source = (hf                      ? "hf "
                   : config.kind == ModelKind::backbone ? "backbone checkpoint "
                                           : "mmseg checkpoint ") +
                  file;

  // In the parameter list's order, so that equal models give equal files.
  std::map<std::string, Tensor> by_name(kept.begin(), kept.end());
  NamedTensors ordered;
  for (const auto& [name, shape] : want) {
    ordered.emplace_back(name, by_name.at(name));
    result.bytes += ordered.back().second.nbytes();
  }
  io::write_safetensors(out, ordered, config.to_metadata());
  result.config = config;
  result.tensors = ordered.size();
  return result;
}

}  // namespace tv3s::convert
