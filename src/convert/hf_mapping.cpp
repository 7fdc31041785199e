// Hugging Face SegFormer names → official (mmseg) names, model-spec §2.6. HF counts
// stages from 0 (`patch_embeddings.{i}`, `block.{i}`, `layer_norm.{i}`, `linear_c.{i}`),
// the official code from 1 (`patch_embed{k}`, `block{k}`, `norm{k}`, `linear_c{k}`);
// HF splits the official attn.kv Linear into key and value, which are concatenated back
// (key rows first). Declared in convert.h.
#include <cstring>
#include <map>

#include "src/convert/checkpoint.h"

namespace tv3s::convert {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// If `name` starts with `prefix` + "<i>." for a stage i in 0..3, the official stage
// number k = i + 1 and what follows the dot; else 0.
int stage_after(const std::string& name, const std::string& prefix, std::string* rest) {
  if (!starts_with(name, prefix) || name.size() < prefix.size() + 3) return 0;
  const char digit = name[prefix.size()];
  if (digit < '0' || digit > '3' || name[prefix.size() + 1] != '.') return 0;
  *rest = name.substr(prefix.size() + 2);
  return digit - '0' + 1;
}

// Inside encoder.block.{i}.{j}.: HF part → official part.
struct BlockPart {
  const char* hf;
  const char* official;
  HfName::Part part;
};
const BlockPart kBlockParts[] = {
    {"layer_norm_1.", "norm1.", HfName::whole},
    {"layer_norm_2.", "norm2.", HfName::whole},
    {"attention.self.query.", "attn.q.", HfName::whole},
    {"attention.self.key.", "attn.kv.", HfName::kv_key},
    {"attention.self.value.", "attn.kv.", HfName::kv_value},
    {"attention.self.sr.", "attn.sr.", HfName::whole},
    {"attention.self.layer_norm.", "attn.norm.", HfName::whole},
    {"attention.output.dense.", "attn.proj.", HfName::whole},
    {"mlp.dense1.", "mlp.fc1.", HfName::whole},
    {"mlp.dwconv.dwconv.", "mlp.dwconv.dwconv.", HfName::whole},
    {"mlp.dense2.", "mlp.fc2.", HfName::whole},
};

// Decode head names: HF prefix (or whole name) → official.
const std::pair<const char*, const char*> kHeadParts[] = {
    {"decode_head.linear_fuse.weight", "decode_head.linear_fuse.conv.weight"},
    {"decode_head.batch_norm.", "decode_head.linear_fuse.bn."},
    {"decode_head.classifier.", "decode_head.linear_pred."},
};

HfName map_block(int k, const std::string& after_stage) {
  // after_stage = "{j}.<part>.<leaf>"
  const size_t dot = after_stage.find('.');
  if (dot == 0 || dot == std::string::npos ||
      after_stage.find_first_not_of("0123456789") != dot)
    return {};
  const std::string block = "block" + std::to_string(k) + "." + after_stage.substr(0, dot + 1);
  const std::string part = after_stage.substr(dot + 1);
  for (const BlockPart& p : kBlockParts)
    if (starts_with(part, p.hf) && part.size() > std::strlen(p.hf))
      return {block + p.official + part.substr(std::strlen(p.hf)), p.part};
  return {};
}

}  // namespace

HfName map_hf_name(const std::string& hf_name) {
  const std::string name = starts_with(hf_name, "segformer.") ? hf_name.substr(10) : hf_name;
  std::string rest;
  if (int k = stage_after(name, "encoder.patch_embeddings.", &rest)) {
    if (starts_with(rest, "proj.")) return {"patch_embed" + std::to_string(k) + "." + rest};
    if (starts_with(rest, "layer_norm."))
      return {"patch_embed" + std::to_string(k) + ".norm." + rest.substr(11)};
    return {};
  }
  if (int k = stage_after(name, "encoder.layer_norm.", &rest))
    return {"norm" + std::to_string(k) + "." + rest};
  if (int k = stage_after(name, "encoder.block.", &rest)) return map_block(k, rest);
  if (int k = stage_after(name, "decode_head.linear_c.", &rest))
    return {"decode_head.linear_c" + std::to_string(k) + "." + rest};
  for (const auto& [hf, official] : kHeadParts) {
    const std::string from = hf;
    if (name == from && from.back() != '.') return {official};
    if (from.back() == '.' && starts_with(name, from) && name.size() > from.size())
      return {official + name.substr(from.size())};
  }
  return {};
}

bool is_hf_naming(const NamedTensors& tensors) {
  for (const auto& [name, t] : tensors)
    if (starts_with(name, "segformer.") || starts_with(name, "encoder.")) return true;
  return false;
}

NamedTensors map_hf_state_dict(const NamedTensors& tensors, const std::string& what) {
  bool has_head = false;
  for (const auto& [name, t] : tensors) has_head = has_head || starts_with(name, "decode_head.");

  struct Halves {
    size_t position;         // in `out`, where the first half was met
    std::string names[2];    // HF names of key and value
    Tensor tensors[2];
  };
  NamedTensors out;
  std::map<std::string, Halves> kv;
  for (const auto& [name, t] : tensors) {
    const HfName mapped = map_hf_name(name);
    if (mapped.official.empty()) {  // not an HF SegFormer name: the parameter check reports it
      out.emplace_back(name, t);
      continue;
    }
    const std::string official = has_head && !starts_with(mapped.official, "decode_head.")
                                     ? "backbone." + mapped.official
                                     : mapped.official;
    if (mapped.part == HfName::whole) {
      out.emplace_back(official, t);
      continue;
    }
    auto [it, first] = kv.try_emplace(official);
    if (first) {
      it->second.position = out.size();
      out.emplace_back(official, Tensor());  // filled in below, in the first half's place
    }
    const int half = mapped.part == HfName::kv_key ? 0 : 1;
    TV3S_CHECK(!it->second.tensors[half].defined(), what, ": '", name, "' appears twice");
    it->second.names[half] = name;
    it->second.tensors[half] = t;
  }

  for (auto& [official, h] : kv) {
    for (int half : {0, 1})
      TV3S_CHECK(h.tensors[half].defined(), what, ": '", h.names[1 - half], "' has no ",
                 half == 0 ? "key" : "value", " to go with it (", official, " = key, value)");
    const Tensor& key = h.tensors[0];
    const Tensor& value = h.tensors[1];
    TV3S_CHECK(key.ndim() >= 1 && key.shape() == value.shape(), what, ": '", h.names[0],
               "' has shape ", key.shape(), " but '", h.names[1], "' has ", value.shape());
    Shape shape = key.shape();
    shape[0] *= 2;
    Tensor both = Tensor::empty(shape, DType::f32);
    std::memcpy(both.data<float>(), key.data<float>(), key.nbytes());
    std::memcpy(both.data<float>() + key.numel(), value.data<float>(), value.nbytes());
    out[h.position].second = both;
  }
  return out;
}

}  // namespace tv3s::convert
