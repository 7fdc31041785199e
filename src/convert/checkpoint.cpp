// `tv3s convert` as a library function: read (torch zip or safetensors), drop, rename,
// infer the configuration, check the parameter set, write. The rules are in checkpoint.h.
#include "src/convert/checkpoint.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "src/io/safetensors.h"
#include "src/io/torch_checkpoint.h"
#include "src/models/parameters.h"

namespace tv3s::convert {
namespace {

using Note = std::function<void(const std::string&)>;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

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

// id2label of a Hugging Face config.json beside the checkpoint, when it names every class.
void classes_from_hf_config(ModelConfig& config, const std::string& in, const Note& note) {
  const std::string path = (std::filesystem::path(in).parent_path() / "config.json").string();
  if (!std::filesystem::is_regular_file(path)) return;
  std::vector<std::string> names(size_t(config.num_classes));
  try {
    std::ifstream file(path);
    const nlohmann::json labels = nlohmann::json::parse(file).at("id2label");
    size_t found = 0;
    for (const auto& [id, label] : labels.items()) {
      size_t used = 0;
      const unsigned long k = std::stoul(id, &used);
      if (used == id.size() && k < names.size() && names[k].empty()) {
        names[k] = label.get<std::string>();
        ++found;
      }
    }
    if (found != names.size() || labels.size() != names.size()) {
      note(str("ignoring ", path, ": id2label has ", labels.size(), " labels for ", names.size(),
               " classes"));
      return;
    }
  } catch (const std::exception& e) {  // json or stoul: optional, so say why it is not used
    note(str("ignoring ", path, ": ", e.what()));
    return;
  }
  config.class_names = names;
}

}  // namespace

bool unused_by_model(const std::string& name) {
  return starts_with(name, "decode_head.conv_seg.") || ends_with(name, ".num_batches_tracked") ||
         starts_with(name, "head.") || starts_with(name, "classifier.");
}

ModelConfig infer_config(const std::vector<std::pair<std::string, Shape>>& parameters,
                         const ConvertOptions& options, const std::string& what) {
  const std::map<std::string, Shape> shapes(parameters.begin(), parameters.end());
  auto any_with_prefix = [&](const std::string& prefix) {
    auto it = shapes.lower_bound(prefix);
    return it != shapes.end() && starts_with(it->first, prefix);
  };
  // Rows of a tensor of `ndim` dimensions, or 0 when absent or of another rank.
  auto rows = [&](const std::string& name, int ndim) -> int64_t {
    auto it = shapes.find(name);
    return it != shapes.end() && it->second.ndim() == ndim ? it->second[0] : 0;
  };

  ModelConfig config;
  config.kind = any_with_prefix("decode_head.vs.") ? ModelKind::tv3s
                : any_with_prefix("decode_head.") || any_with_prefix("backbone.") ? ModelKind::segformer
                                                                                  : ModelKind::mit;
  const std::string prefix = config.kind == ModelKind::mit ? "" : "backbone.";

  std::array<int64_t, 4> channels{}, depths{};
  for (int k = 1; k <= 4; ++k) {
    channels[k - 1] = rows(prefix + "patch_embed" + std::to_string(k) + ".proj.weight", 4);
    const std::string block = prefix + "block" + std::to_string(k) + ".";
    for (auto it = shapes.lower_bound(block);
         it != shapes.end() && starts_with(it->first, block); ++it) {
      const size_t end = it->first.find('.', block.size());
      const std::string j = it->first.substr(block.size(), end - block.size());
      if (!j.empty() && j.size() < 4 && j.find_first_not_of("0123456789") == std::string::npos)
        depths[k - 1] = std::max<int64_t>(depths[k - 1], std::stoll(j) + 1);
    }
  }
  const MitConfig* found = find_mit_config(channels, depths);
  const std::string seen = str(prefix, "patch_embed channels ", stages(channels),
                               " and blocks per stage ", stages(depths));
  if (!options.arch.empty()) {
    const MitConfig& want = mit_config(options.arch);
    TV3S_CHECK(!found || found->name == want.name, what, ": --arch ", options.arch,
               " does not match the checkpoint, whose ", seen, " are ", found ? found->name : "");
    config.backbone = want.name;
  } else {
    TV3S_CHECK(found, what, ": cannot tell the backbone: ", seen,
               " match no MiT variant (mit_b0 … mit_b5); --arch checks the tensors against one");
    config.backbone = found->name;
  }

  if (config.kind == ModelKind::mit) {
    TV3S_CHECK(options.num_classes < 0, what, ": --num-classes ", options.num_classes,
               " given, but the checkpoint is a backbone without a decode head");
    config.num_classes = 0;
    return config;
  }
  const int64_t classes = rows("decode_head.linear_pred.weight", 4);
  TV3S_CHECK(classes > 0 || options.num_classes > 0, what,
             ": cannot tell the number of classes: there is no decode_head.linear_pred.weight "
             "(--num-classes sets it)");
  TV3S_CHECK(classes == 0 || options.num_classes < 0 || classes == options.num_classes, what,
             ": --num-classes ", options.num_classes, " does not match the checkpoint, whose "
             "decode_head.linear_pred.weight has ", classes, " rows");
  config.num_classes = classes > 0 ? classes : options.num_classes;
  if (const int64_t e = rows("decode_head.linear_c1.proj.weight", 2)) config.embed_dim = e;
  return config;
}

ConvertResult convert_checkpoint(const std::string& in, const std::string& out,
                                 const ConvertOptions& options, const Note& note) {
  Input input = read_input(in);
  ConvertResult result;
  NamedTensors kept;
  for (auto& [name, t] : input.tensors) {
    if (unused_by_model(name)) result.dropped.push_back(name);
    else kept.emplace_back(name, t.to(DType::f32));
  }
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
  check_parameter_set(shapes, want, in);

  if (config.kind == ModelKind::tv3s) windows_from_meta(config, input.meta, options, in, note);
  else
    TV3S_CHECK(options.window < 0 && options.shift < 0, in,
               ": --window/--shift given, but the checkpoint has no TV3S decoder");
  if (config.kind != ModelKind::mit) {
    if (input.meta.is_object()) classes_from_meta(config, input.meta, note);
    else if (hf) classes_from_hf_config(config, in, note);
  }
  const std::string file = std::filesystem::path(in).filename().string();
  config.source = (hf                      ? "hf "
                   : config.kind == ModelKind::mit ? "mit checkpoint "
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
