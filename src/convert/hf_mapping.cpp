// Hugging Face names → official names. Declared in checkpoint.h.
// SegFormer (model-spec §2.6): HF counts stages from 0 (`patch_embeddings.{i}`,
// `block.{i}`, `layer_norm.{i}`, `linear_c.{i}`), the official code from 1 (`patch_embed{k}`,
// `block{k}`, `norm{k}`, `linear_c{k}`); HF splits the official attn.kv Linear into key and
// value, which are concatenated back (key rows first).
// Swin (transformers' SwinModel / SwinBackbone, model-spec §9): stages count from 0 on both
// sides (`encoder.layers.{i}` = `layers.{i}`); HF splits attn.qkv into query, key and value
// (concatenated back in that order), and SwinBackbone's `hidden_states_norms.stage{k}` are
// the official stage output norms norm{k−1}.
#include <cstring>
#include <map>

#include "src/convert/checkpoint.h"
#include "src/core/text.h"

namespace tv3s::convert {
namespace {

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

// Swin: inside encoder.layers.{i}.blocks.{j}. (HF part → official part). "attention.output."
// comes before "output.", which it contains.
const BlockPart kSwinBlockParts[] = {
    {"layernorm_before.", "norm1.", HfName::whole},
    {"layernorm_after.", "norm2.", HfName::whole},
    {"attention.self.relative_position_bias_table", "attn.relative_position_bias_table", HfName::whole},
    {"attention.self.relative_position_index", "attn.relative_position_index", HfName::whole},
    {"attention.self.query.", "attn.qkv.", HfName::qkv_query},
    {"attention.self.key.", "attn.qkv.", HfName::qkv_key},
    {"attention.self.value.", "attn.qkv.", HfName::qkv_value},
    {"attention.output.dense.", "attn.proj.", HfName::whole},
    {"intermediate.dense.", "mlp.fc1.", HfName::whole},
    {"output.dense.", "mlp.fc2.", HfName::whole},
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

// "encoder.layers.{i}.…" (Swin) → "layers.{i}.…" with the block part mapped.
HfName map_swin(const std::string& name) {
  std::string rest;
  const int k = stage_after(name, "encoder.layers.", &rest);
  if (k == 0) return {};
  const std::string layer = "layers." + std::to_string(k - 1) + ".";
  if (starts_with(rest, "downsample.")) return {layer + rest};
  if (!starts_with(rest, "blocks.")) return {};
  rest = rest.substr(7);  // "{j}.<part>"
  const size_t dot = rest.find('.');
  if (dot == 0 || dot == std::string::npos || rest.find_first_not_of("0123456789") != dot) return {};
  const std::string block = layer + "blocks." + rest.substr(0, dot + 1);
  const std::string part = rest.substr(dot + 1);
  for (const BlockPart& p : kSwinBlockParts) {
    const size_t n = std::strlen(p.hf);
    const bool exact = p.hf[n - 1] != '.';
    if (exact ? part == p.hf : starts_with(part, p.hf) && part.size() > n)
      return {block + p.official + part.substr(n), p.part};
  }
  return {};
}

}  // namespace

HfName map_hf_name(const std::string& hf_name) {
  const std::string name = starts_with(hf_name, "segformer.") ? hf_name.substr(10)
                           : starts_with(hf_name, "swin.")    ? hf_name.substr(5)
                                                              : hf_name;
  std::string rest;
  if (starts_with(name, "embeddings.patch_embeddings.projection."))
    return {"patch_embed.proj." + name.substr(39)};
  if (starts_with(name, "embeddings.norm.")) return {"patch_embed.norm." + name.substr(16)};
  if (starts_with(name, "hidden_states_norms.stage") && name.size() > 27 && name[25] >= '1' &&
      name[25] <= '4' && name[26] == '.')
    return {"norm" + std::to_string(name[25] - '1') + "." + name.substr(27)};
  if (starts_with(name, "encoder.layers.")) return map_swin(name);
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
    if (starts_with(name, "segformer.") || starts_with(name, "swin.") || starts_with(name, "encoder.") ||
        starts_with(name, "embeddings."))
      return true;
  return false;
}

NamedTensors map_hf_state_dict(const NamedTensors& tensors, const std::string& what) {
  bool has_head = false;
  for (const auto& [name, t] : tensors) has_head = has_head || starts_with(name, "decode_head.");

  // The pieces of one official tensor: kv (key, value) or qkv (query, key, value).
  struct Pieces {
    size_t position;        // in `out`, where the first piece was met
    int count = 2;          // 2 (kv) or 3 (qkv)
    std::string names[3];   // their HF names
    Tensor tensors[3];
  };
  NamedTensors out;
  std::map<std::string, Pieces> pieces;
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
    auto [it, first] = pieces.try_emplace(official);
    if (first) {
      it->second.position = out.size();
      out.emplace_back(official, Tensor());  // filled in below, in the first piece's place
    }
    const bool qkv = mapped.part >= HfName::qkv_query;
    const int index = qkv ? mapped.part - HfName::qkv_query : mapped.part - HfName::kv_key;
    it->second.count = qkv ? 3 : 2;
    TV3S_CHECK(!it->second.tensors[index].defined(), what, ": '", name, "' appears twice");
    it->second.names[index] = name;
    it->second.tensors[index] = t;
  }

  for (auto& [official, p] : pieces) {
    static const char* const kv_names[] = {"key", "value"};
    static const char* const qkv_names[] = {"query", "key", "value"};
    const char* const* names = p.count == 3 ? qkv_names : kv_names;
    const std::string layout = p.count == 3 ? " = query, key, value)" : " = key, value)";
    int given = 0;
    while (!p.tensors[given].defined()) ++given;  // a piece that is there, to name in errors
    for (int i = 0; i < p.count; ++i)
      TV3S_CHECK(p.tensors[i].defined(), what, ": '", p.names[given], "' has no ", names[i],
                 " to go with it (", official, layout);
    Shape shape = p.tensors[0].shape();
    for (int i = 1; i < p.count; ++i)
      TV3S_CHECK(shape.ndim() >= 1 && p.tensors[i].shape() == shape, what, ": '", p.names[0],
                 "' has shape ", shape, " but '", p.names[i], "' has ", p.tensors[i].shape());
    shape[0] *= p.count;
    Tensor joined = Tensor::empty(shape, DType::f32);
    for (int i = 0; i < p.count; ++i)
      std::memcpy(joined.data<float>() + i * p.tensors[0].numel(), p.tensors[i].data<float>(),
                  p.tensors[i].nbytes());
    out[p.position].second = joined;
  }
  return out;
}

}  // namespace tv3s::convert
