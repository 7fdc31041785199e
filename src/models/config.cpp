#include "src/models/config.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "src/io/json_text.h"
#include "src/io/limits.h"
#include "tv3s/error.h"

namespace tv3s {

const std::vector<MitConfig>& mit_configs() {
  // model-spec §2.1: heads [1, 2, 5, 8], sr [8, 4, 2, 1], mlp ratio 4 for every variant.
  static const std::vector<MitConfig> configs = {
      {"mit_b0", {32, 64, 160, 256}, {2, 2, 2, 2}},
      {"mit_b1", {64, 128, 320, 512}, {2, 2, 2, 2}},
      {"mit_b2", {64, 128, 320, 512}, {3, 4, 6, 3}},
      {"mit_b3", {64, 128, 320, 512}, {3, 4, 18, 3}},
      {"mit_b4", {64, 128, 320, 512}, {3, 8, 27, 3}},
      {"mit_b5", {64, 128, 320, 512}, {3, 6, 40, 3}},
  };
  return configs;
}

std::array<int64_t, 4> SwinConfig::channels() const {
  return {embed_dim, 2 * embed_dim, 4 * embed_dim, 8 * embed_dim};
}

bool SwinConfig::operator==(const SwinConfig& o) const {
  return embed_dim == o.embed_dim && depths == o.depths && heads == o.heads && window == o.window &&
         mlp_ratio == o.mlp_ratio;
}

const std::vector<SwinConfig>& swin_configs() {
  // utils/models/swin2.py: d2_Swint, d2_Swins, d2_Swinb, d2_Swinl (patch 4, MLP ratio 4).
  // d2_Swinl keeps window 7, unlike the 384-pixel Swin-L releases (window 12): a window-12
  // checkpoint converts as a "swin" of its own configuration.
  static const std::vector<SwinConfig> configs = {
      {"swin_t", 96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7},
      {"swin_s", 96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7},
      {"swin_b", 128, {2, 2, 18, 2}, {4, 8, 16, 32}, 7},
      {"swin_l", 192, {2, 2, 18, 2}, {6, 12, 24, 48}, 7},
  };
  return configs;
}

SwinConfig named_swin_config(SwinConfig config) {
  // Bounds well beyond any published Swin: they keep sizes computed from them in range.
  TV3S_CHECK(config.embed_dim >= 1 && config.embed_dim <= 65536 && config.window >= 1 &&
                 config.window <= 256 && config.mlp_ratio >= 1 && config.mlp_ratio <= 64,
             "Swin backbone: embed_dim ", config.embed_dim, " (1 … 65536), window ", config.window,
             " (1 … 256) or mlp_ratio ", config.mlp_ratio, " (1 … 64) out of range");
  const std::array<int64_t, 4> channels = config.channels();
  for (int k = 0; k < 4; ++k) {
    TV3S_CHECK(config.depths[k] >= 1 && config.depths[k] <= 1024, "Swin backbone: stage ", k,
               " has ", config.depths[k], " blocks (1 … 1024)");
    TV3S_CHECK(config.heads[k] >= 1 && channels[k] % config.heads[k] == 0, "Swin backbone: stage ",
               k, "'s ", channels[k], " channels do not split into ", config.heads[k], " heads");
  }
  config.name = "swin";
  for (const SwinConfig& known : swin_configs())
    if (known == config) config.name = known.name;
  return config;
}

bool is_swin_backbone(const std::string& name) { return name == "swin" || name.rfind("swin_", 0) == 0; }

std::array<int64_t, 4> ModelConfig::backbone_channels() const {
  return is_swin() ? swin.channels() : mit_config(backbone).channels;
}

std::string ModelConfig::backbone_description() const {
  if (!is_swin() || swin.name != "swin") return backbone;
  auto list = [](const std::array<int64_t, 4>& v) {
    return str(v[0], ",", v[1], ",", v[2], ",", v[3]);
  };
  return str("swin (embed ", swin.embed_dim, ", depths ", list(swin.depths), ", heads ", list(swin.heads),
             ", window ", swin.window, swin.mlp_ratio != 4 ? str(", mlp ratio ", swin.mlp_ratio) : "", ")");
}

void ModelConfig::set_backbone(const std::string& name) {
  for (const SwinConfig& c : swin_configs())
    if (c.name == name) {
      backbone = name;
      swin = c;
      return;
    }
  for (const MitConfig& c : mit_configs())
    if (c.name == name) {
      backbone = name;
      swin = SwinConfig();
      return;
    }
  throw Error(str("unknown backbone '", name, "' (known: mit_b0 … mit_b5, swin_t, swin_s, swin_b, swin_l)"));
}

const char* model_kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::backbone: return "backbone";
    case ModelKind::segformer: return "segformer";
    case ModelKind::tv3s: return "tv3s";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& out, ModelKind kind) { return out << model_kind_name(kind); }

std::optional<ModelKind> find_model_kind(const std::string& name) {
  if (name == "mit") return ModelKind::backbone;  // tv3s 0.1 files
  for (const ModelKind kind : {ModelKind::backbone, ModelKind::segformer, ModelKind::tv3s})
    if (name == model_kind_name(kind)) return kind;
  return std::nullopt;
}

const MitConfig& mit_config(const std::string& name) {
  for (const MitConfig& c : mit_configs())
    if (c.name == name) return c;
  throw Error(str("unknown backbone '", name, "' (known: mit_b0 … mit_b5)"));
}

const MitConfig* find_mit_config(const std::array<int64_t, 4>& channels,
                                 const std::array<int64_t, 4>& depths) {
  for (const MitConfig& c : mit_configs())
    if (c.channels == channels && c.depths == depths) return &c;
  return nullptr;
}

std::map<std::string, std::string> ModelConfig::to_metadata() const {
  std::map<std::string, std::string> m;
  m["tv3s.format"] = "1";
  m["tv3s.model"] = model_kind_name(kind);
  m["tv3s.backbone"] = backbone;
  m["tv3s.num_classes"] = std::to_string(num_classes);
  m["tv3s.embed_dim"] = std::to_string(embed_dim);
  if (is_swin())
    m["tv3s.swin"] = nlohmann::json{{"embed_dim", swin.embed_dim},
                                    {"depths", swin.depths},
                                    {"heads", swin.heads},
                                    {"window", swin.window},
                                    {"mlp_ratio", swin.mlp_ratio}}
                         .dump();
  if (kind == ModelKind::tv3s) {
    m["tv3s.window"] = std::to_string(window);
    m["tv3s.shift"] = std::to_string(shift);
    if (city_head) m["tv3s.head"] = "city";
  }
  if (!class_names.empty()) m["tv3s.classes"] = nlohmann::json(class_names).dump();
  if (!palette.empty()) m["tv3s.palette"] = nlohmann::json(palette).dump();
  if (!source.empty()) m["tv3s.source"] = source;
  return m;
}

namespace {

// The value of a required key.
const std::string& required(const std::map<std::string, std::string>& md, const std::string& key,
                            const std::string& what) {
  auto it = md.find(key);
  TV3S_CHECK(it != md.end(), what, ": metadata has no '", key,
             "' (not a tv3s model file? convert it with `tv3s convert`)");
  return it->second;
}

int64_t parse_count(const std::map<std::string, std::string>& md, const std::string& key,
                    const std::string& what, int64_t lo, int64_t hi) {
  const std::string& text = required(md, key, what);
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TV3S_CHECK(used > 0 && used == text.size() && v >= lo && v <= hi, what, ": metadata '", key,
             "' = '", text, "' is not an integer in [", lo, ", ", hi, "]");
  return v;
}

}  // namespace

ModelConfig ModelConfig::from_metadata(const std::map<std::string, std::string>& md,
                                       const std::string& what) {
  auto get = [&](const std::string& key) -> const std::string& { return required(md, key, what); };
  TV3S_CHECK(get("tv3s.format") == "1", what, ": unsupported tv3s.format '", get("tv3s.format"),
             "' (this build reads format 1)");
  ModelConfig c;
  const std::string kind = get("tv3s.model");
  const std::optional<ModelKind> found = find_model_kind(kind);
  TV3S_CHECK(found, what, ": unknown tv3s.model '", kind, "' (segformer, tv3s or backbone)");
  c.kind = *found;
  c.backbone = get("tv3s.backbone");
  try {
    if (c.is_swin()) {
      // The configuration itself travels in tv3s.swin; a name is checked against it.
      const std::string where = str(what, ": metadata tv3s.swin");
      const nlohmann::json j = io::parse_json(get("tv3s.swin"), where);
      io::json_object(j, where);
      // Read as any int64 here; named_swin_config checks the ranges a Swin may have.
      const auto integer = [&](const nlohmann::json& v, const std::string& key) {
        return io::json_int(v, str(where, " '", key, "'"), std::numeric_limits<int64_t>::min(),
                            std::numeric_limits<int64_t>::max());
      };
      const auto stages = [&](const char* key) {
        TV3S_CHECK(j.contains(key), where, " has no '", key, "'");
        const nlohmann::json& list = j[key];
        io::json_list(list, str(where, " '", key, "'"), 4, 4);
        std::array<int64_t, 4> v{};
        for (size_t k = 0; k < 4; ++k) v[k] = integer(list[k], str(key, "[", k, "]"));
        return v;
      };
      SwinConfig swin;
      for (const char* key : {"embed_dim", "window"})
        TV3S_CHECK(j.contains(key), where, " has no '", key, "'");
      swin.embed_dim = integer(j["embed_dim"], "embed_dim");
      swin.depths = stages("depths");
      swin.heads = stages("heads");
      swin.window = integer(j["window"], "window");
      if (j.contains("mlp_ratio")) swin.mlp_ratio = integer(j["mlp_ratio"], "mlp_ratio");
      c.swin = named_swin_config(swin);
      TV3S_CHECK(c.swin.name == c.backbone, "tv3s.backbone '", c.backbone, "' does not match tv3s.swin ",
                 j.dump(), " (which is ", c.swin.name, ")");
    } else {
      mit_config(c.backbone);
    }
  } catch (const Error& e) {  // named_swin_config's and mit_config's errors name no file
    if (std::string(e.what()).rfind(what + ": ", 0) == 0) throw;
    throw Error(str(what, ": ", e.what()));
  }
  c.num_classes = parse_count(md, "tv3s.num_classes", what, c.kind == ModelKind::backbone ? 0 : 1, int64_t(io::kMaxClasses));
  if (auto it = md.find("tv3s.head"); it != md.end()) {
    TV3S_CHECK(c.kind == ModelKind::tv3s && it->second == "city", what, ": tv3s.head '", it->second,
               "' (only \"city\", and only for model tv3s)");
    c.city_head = true;
  }
  c.embed_dim = parse_count(md, "tv3s.embed_dim", what, 1, 65536);
  if (c.kind == ModelKind::tv3s) {
    if (md.count("tv3s.window")) c.window = parse_count(md, "tv3s.window", what, 2, 4096);
    if (md.count("tv3s.shift")) c.shift = parse_count(md, "tv3s.shift", what, 1, c.window - 1);
    TV3S_CHECK(c.shift > 0 && c.shift < c.window, what, ": shift ", c.shift,
               " must lie in (0, window = ", c.window, ")");
  }
  if (auto it = md.find("tv3s.classes"); it != md.end()) {
    const std::string where = str(what, ": metadata tv3s.classes");
    const nlohmann::json names = io::parse_json(it->second, where);
    io::json_list(names, where, 0, io::kMaxClasses);
    for (size_t i = 0; i < names.size(); ++i) c.class_names.push_back(io::json_string(names[i], str(where, "[", i, "]")));
  }
  if (auto it = md.find("tv3s.palette"); it != md.end()) {
    const std::string where = str(what, ": metadata tv3s.palette");
    const nlohmann::json colours = io::parse_json(it->second, where);
    io::json_list(colours, where, 0, io::kMaxClasses);
    for (size_t i = 0; i < colours.size(); ++i) {
      const std::string colour = str(where, "[", i, "]");
      const nlohmann::json& rgb = colours[i];
      io::json_list(rgb, colour, 3, 3);
      std::array<uint8_t, 3> v{};
      for (size_t k = 0; k < 3; ++k) v[k] = uint8_t(io::json_int(rgb[k], str(colour, "[", k, "]"), 0, 255));
      c.palette.push_back(v);
    }
  }
  if (auto it = md.find("tv3s.source"); it != md.end()) c.source = it->second;
  TV3S_CHECK(c.class_names.empty() || int64_t(c.class_names.size()) == c.num_classes, what, ": ",
             c.class_names.size(), " class names for ", c.num_classes, " classes");
  TV3S_CHECK(c.palette.empty() || int64_t(c.palette.size()) >= c.num_classes, what, ": palette has ",
             c.palette.size(), " colours for ", c.num_classes, " classes");
  return c;
}

}  // namespace tv3s
