// Converting checkpoints into tv3s model files (.safetensors with the configuration in
// its metadata, src/models/config.h):
//   - official mmseg SegFormer / TV3S checkpoints (.pth: {state_dict, meta, ...}),
//   - the ImageNet MiT backbones mit_b0.pth … mit_b5.pth (bare names + head.*),
//   - official TV3S Swin checkpoints (backbone.layers.*, model-spec §9) and the ImageNet
//     Swin backbones the official configs train from (swin_*_22k.pth: {"model": ...} with
//     the original Swin names, head.* and norm.* dropped, norm0..3 added as initialised),
//   - Hugging Face SegFormer / MiT checkpoints, as model.safetensors or pytorch_model.bin.
//
// The file type is told by content (a zip is a torch.save file; an 8-byte length then
// '{' is safetensors), the naming scheme by the names (HF names start with "segformer."
// or "encoder."). HF names are mapped to the official ones by model-spec §2.6. Names the
// model does not use are dropped and listed; everything else must be exactly the
// parameter set of the inferred configuration (src/models/parameters.h), or the
// conversion fails naming what is missing, unexpected or mis-shaped. Every tensor is
// stored as f32.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "src/models/config.h"
#include "tv3s/tensor.h"

namespace tv3s::convert {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Tensors in checkpoints that model files do not hold: decode_head.conv_seg.* (mmseg's
// unused classifier), *.num_batches_tracked, and the ImageNet classifiers head.*
// (official) and classifier.* (HF mit-bX), the original Swin classifier's norm.* and its
// per-block attn_mask buffers. Applied to the input's own names.
bool unused_by_model(const std::string& name);

// Throws "<what>: ..." unless `index` [L, L] is the standard Swin relative position index
// (model-spec §9), the only one tv3s computes. Swin checkpoints store it as a buffer per
// block; the converter checks every one and does not store it.
void check_relative_position_index(const std::string& name, const Tensor& index, const std::string& what);

// One Hugging Face name under its official name: SegFormer (segformer.*, encoder.block.*:
// model-spec §2.6) or Swin (SwinModel's swin.* / SwinBackbone's embeddings.*, encoder.layers.*,
// hidden_states_norms.*: model-spec §9). Encoder names come without the "backbone." prefix.
// `official` is empty for a name outside the mapping.
struct HfName {
  std::string official;
  // SegFormer: key and value are the two halves of the official attn.kv (key rows first);
  // Swin: query, key and value the three thirds of the official attn.qkv.
  enum Part { whole, kv_key, kv_value, qkv_query, qkv_key, qkv_value } part = whole;
};
HfName map_hf_name(const std::string& name);

// Whether these are Hugging Face names (some start with "segformer.", "swin.",
// "encoder." or "embeddings.").
bool is_hf_naming(const NamedTensors& tensors);

// A whole HF state dict under official names: each key/value pair concatenated along
// dim 0 into kv, each query/key/value triple into qkv (tensors must be f32), encoder names prefixed with "backbone." when there
// is a decode head. Names outside the mapping are kept as they are, for the parameter check
// to report. Throws "<what>: ..." for a key without its value or vice versa.
NamedTensors map_hf_state_dict(const NamedTensors& tensors, const std::string& what);

struct ConvertOptions {
  std::string arch;          // "mit_b0" … "mit_b5", "swin_t" … "swin_l", or empty: inferred
  int64_t num_classes = -1;  // or -1: inferred
  // TV3S decoder windows, or -1: from the checkpoint's config text (mmseg meta "config",
  // decoder_params window_w/window_h/shift_size), else the official 20 and 10.
  int64_t window = -1, shift = -1;
};

// The configuration that official names and shapes describe: model "tv3s" when there are
// decode_head.vs.* tensors, "segformer" for any other decode_head.* / backbone.* names,
// else "backbone"; a MiT from the patch_embed{k}.proj.weight channels and the blocks per
// stage, a Swin (patch_embed.proj.weight) from its shapes (embed, blocks, heads and window:
// any configuration); num_classes from decode_head.linear_pred.weight rows; embed_dim from
// decode_head.linear_c1.proj.weight rows. Options must agree with what the tensors show
// and are needed only where they show nothing. Throws "<what>: ..." listing what was found.
ModelConfig infer_config(const std::vector<std::pair<std::string, Shape>>& parameters,
                         const ConvertOptions& options, const std::string& what);

struct ConvertResult {
  ModelConfig config;
  size_t tensors = 0;
  uint64_t bytes = 0;
  std::vector<std::string> dropped;  // input names
};

// Reads `in`, converts it, writes `out` atomically. Class names and palette come from an
// mmseg meta (CLASSES, PALETTE) or, for HF checkpoints, from a config.json (id2label) in
// the input's folder, when they fit the class count. `note` receives one-line remarks
// (the dropped names, class lists that were ignored). Throws "<path>: <problem>".
ConvertResult convert_checkpoint(const std::string& in, const std::string& out,
                                 const ConvertOptions& options,
                                 const std::function<void(const std::string&)>& note);

}  // namespace tv3s::convert
