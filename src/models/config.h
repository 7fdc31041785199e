// What a model file says about its model: the backbone variant, the head, the classes.
// It travels as string pairs in the safetensors `__metadata__` (keys below), written by
// `tv3s convert` and read back by the model loader.
//
//   "tv3s.format"      "1"
//   "tv3s.model"       "segformer" (MiT + all-MLP head) | "tv3s" (+ the TV3S decoder)
//                      | "mit" (backbone only, e.g. the ImageNet mit_bX.pth files)
//   "tv3s.backbone"    "mit_b0" … "mit_b5"
//   "tv3s.num_classes" decimal (0 for a backbone-only file)
//   "tv3s.embed_dim"   decimal, the head's E (256 in every official config)
//   "tv3s.window"      decimal, the TV3S window side (model "tv3s"; 20 when absent)
//   "tv3s.shift"       decimal, the real-shift offset, 0 < shift < window (10 when absent)
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

// What a model file holds: a MiT backbone alone (the ImageNet checkpoints), MiT + the
// all-MLP SegFormer head, or that + the TV3S decoder.
enum class ModelKind { mit, segformer, tv3s };
// "mit" | "segformer" | "tv3s": the names in model files (tv3s.model) and training configs.
const char* model_kind_name(ModelKind kind);
std::ostream& operator<<(std::ostream& out, ModelKind kind);
// The kind called `name`, or nullopt.
std::optional<ModelKind> find_model_kind(const std::string& name);

struct ModelConfig {
  ModelKind kind = ModelKind::segformer;
  std::string backbone = "mit_b0";
  int64_t num_classes = 0;
  int64_t embed_dim = 256;
  // TV3S decoder windows (official decoder_params window_w = window_h, shift_size).
  int64_t window = 20, shift = 10;
  std::vector<std::string> class_names;                // optional
  std::vector<std::array<uint8_t, 3>> palette;         // optional
  std::string source;                                  // optional

  std::map<std::string, std::string> to_metadata() const;
  // Throws "<what>: ..." naming the bad or missing key. `what` is usually the file path.
  static ModelConfig from_metadata(const std::map<std::string, std::string>& metadata,
                                   const std::string& what);
};

}  // namespace tv3s
