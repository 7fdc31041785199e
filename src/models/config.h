// What a model file says about its model: the backbone variant, the head, the classes.
// It travels as string pairs in the safetensors `__metadata__` (keys below), written by
// `tv3s convert` and read back by the model loader.
//
//   "tv3s.format"      "1"
//   "tv3s.model"       "segformer" (backbone + all-MLP head) | "tv3s" (+ the TV3S decoder)
//                      | "backbone" (backbone only, e.g. the ImageNet mit_bX.pth files;
//                      files of tv3s 0.1 say "mit")
//   "tv3s.backbone"    "mit_b0" … "mit_b5", "swin_t" | "swin_s" | "swin_b" | "swin_l", or
//                      "swin" for a Swin of another configuration
//   "tv3s.swin"        Swin backbones: JSON {"embed_dim", "depths", "heads", "window",
//                      "mlp_ratio"}
//   "tv3s.num_classes" decimal (0 for a backbone-only file)
//   "tv3s.embed_dim"   decimal, the head's E (256 in every official config)
//   "tv3s.window"      decimal, the TV3S window side (model "tv3s"; 20 when absent)
//   "tv3s.shift"       decimal, the real-shift offset, 0 < shift < window (10 when absent)
//   "tv3s.head"        "city": the checkpoint was trained with the official
//                      TV3SHead_shift_city (model-spec §7.4); absent: TV3SHead_shift
//   "tv3s.classes"     JSON list of class names (optional)
//   "tv3s.palette"     JSON list of [r, g, b] (optional)
//   "tv3s.source"      what it was converted from (informational)
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace tv3s {

// One MiT (SegFormer encoder) variant, model-spec §2.1.
struct MitConfig {
  std::string name;                       // "mit_b0" …
  std::array<int64_t, 4> channels{};      // C1..C4
  std::array<int64_t, 4> depths{};        // blocks per stage
  std::array<int64_t, 4> heads{1, 2, 5, 8};
  std::array<int64_t, 4> sr_ratios{8, 4, 2, 1};
  int64_t mlp_ratio = 4;
};

// The six official variants; throws for an unknown name (listing the known ones).
const MitConfig& mit_config(const std::string& name);
const std::vector<MitConfig>& mit_configs();
// The variant with these stage channels and depths, or nullptr.
const MitConfig* find_mit_config(const std::array<int64_t, 4>& channels,
                                 const std::array<int64_t, 4>& depths);

// One Swin Transformer backbone (model-spec §9, the official D2SwinTransformer): stage k
// has C_k = embed_dim·2^k channels, depths[k] blocks of heads[k] heads, attention inside
// window×window cells, shifted by window/2 in every odd block; patch 4, MLP ratio 4.
struct SwinConfig {
  std::string name;  // "swin_t" … "swin_l", or "swin" for a configuration of its own
  int64_t embed_dim = 96;
  std::array<int64_t, 4> depths{}, heads{};
  int64_t window = 7;
  int64_t mlp_ratio = 4;
  std::array<int64_t, 4> channels() const;
  bool operator==(const SwinConfig& other) const;
};

// The official d2_Swint/s/b/l (all window 7, as utils/models/swin2.py registers them).
const std::vector<SwinConfig>& swin_configs();
// The named variant of this configuration, or a copy named "swin" when it is none of them.
// Throws for a configuration that cannot run (a stage without blocks, heads not dividing
// the channels, window < 1), naming the problem.
SwinConfig named_swin_config(SwinConfig config);
bool is_swin_backbone(const std::string& name);  // "swin" or "swin_…"

// What a model file holds: a backbone alone (the ImageNet checkpoints), a backbone + the
// all-MLP SegFormer head, or that + the TV3S decoder.
enum class ModelKind { backbone, segformer, tv3s };
// "backbone" | "segformer" | "tv3s": the names in model files (tv3s.model) and training configs.
const char* model_kind_name(ModelKind kind);
std::ostream& operator<<(std::ostream& out, ModelKind kind);
// The kind called `name` ("mit" is read as "backbone": the name of tv3s 0.1), or nullopt.
std::optional<ModelKind> find_model_kind(const std::string& name);

struct ModelConfig {
  ModelKind kind = ModelKind::segformer;
  std::string backbone = "mit_b0";  // a MiT variant or a Swin (then `swin` says which)
  SwinConfig swin;                  // when is_swin_backbone(backbone)
  int64_t num_classes = 0;
  int64_t embed_dim = 256;
  // TV3S decoder windows (official decoder_params window_w = window_h, shift_size).
  int64_t window = 20, shift = 10;
  // The official TV3SHead_shift_city (model-spec §7.4): same parameters and forward; in
  // the official test mode its frames 0–2 answer all-zero logits (eval's official protocol
  // reproduces that; tv3s otherwise answers the SegFormer logits, as TV3SHead_shift).
  bool city_head = false;
  std::vector<std::string> class_names;                // optional
  std::vector<std::array<uint8_t, 3>> palette;         // optional
  std::string source;                                  // optional

  bool is_swin() const { return is_swin_backbone(backbone); }
  // The backbone's name, and for a Swin of its own configuration that configuration:
  // "mit_b1", "swin_t", "swin (embed 8, depths 2,2,2,2, heads 1,2,2,4, window 4)".
  std::string backbone_description() const;
  // The stage channels C1..C4 of the backbone.
  std::array<int64_t, 4> backbone_channels() const;

  // Sets backbone (and swin) to a named variant: mit_b0 … mit_b5, swin_t … swin_l. Throws
  // for another name, listing the known ones.
  void set_backbone(const std::string& name);

  std::map<std::string, std::string> to_metadata() const;
  // Throws "<what>: ..." naming the bad or missing key. `what` is usually the file path.
  static ModelConfig from_metadata(const std::map<std::string, std::string>& metadata,
                                   const std::string& what);
};

}  // namespace tv3s
