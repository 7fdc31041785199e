// The exact parameter set of a model: every name (the official checkpoint's own, model-spec
// §2.5, §12) with its shape. The converter checks a checkpoint against it and the model
// loader checks a .safetensors file against it, so a missing, extra or mis-shaped tensor is
// reported by name in both places.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "src/models/config.h"
#include "tv3s/shape.h"

namespace tv3s {

using ParameterList = std::vector<std::pair<std::string, Shape>>;

// MiT backbone names without prefix (as in the ImageNet mit_bX.pth files).
ParameterList mit_parameters(const MitConfig& mit);
// Swin backbone names without prefix (as in the ImageNet swin_*_22k.pth files, less their
// classifier): patch_embed, layers.{i}.blocks.{j}, layers.{i}.downsample, norm0..3. The
// relative_position_index buffers are not parameters (the converter checks and drops them).
ParameterList swin_parameters(const SwinConfig& swin);
// The backbone's names of a model configuration (MiT or Swin), without prefix.
ParameterList backbone_parameters(const ModelConfig& config);
// Everything a model file of this configuration holds, in a fixed order: "backbone."-
// prefixed backbone names (no prefix for model "backbone"), then decode_head.* for "segformer" and
// "tv3s". BatchNorm running statistics count as parameters here; num_batches_tracked and
// the unused conv_seg do not (the converter drops them).
ParameterList model_parameters(const ModelConfig& config);

// Checks that `have` (name → shape, any order) is exactly `want`. Throws one Error naming
// `what` and the first problems found: missing names, unexpected names, wrong shapes.
void check_parameter_set(const std::vector<std::pair<std::string, Shape>>& have,
                         const ParameterList& want, const std::string& what);

}  // namespace tv3s
