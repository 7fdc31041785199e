// Where a training run's parameters start (training-spec §8):
//   - initial_weights: every tensor of a model initialised the way the official code
//     initialises it (MiT `_init_weights`, PyTorch/mmcv defaults in the head, Mamba's
//     own S4D/Δ initialisation), deterministic from a seed;
//   - load_backbone: the ImageNet MiT weights on top (what the official recipe always
//     does: `init_weights` loads pretrained/segformer/mit_bX.pth);
//   - init_from_model: fine-tuning from a whole tv3s model file (--init), copying every
//     tensor that fits and leaving the classifiers fresh when the class count differs.
#pragma once
#include <cstdint>
#include <string>

#include "src/models/config.h"
#include "src/nn/weights.h"

namespace tv3s::train {

// Every tensor of model_parameters(config), f32 on `device`, initialised as the official
// code does:
//   backbone (MiT _init_weights)  Linear weight trunc-normal(std 0.02, cut at ±2 absolute,
//                                 timm's default bounds — i.e. ±100σ, a plain normal in
//                                 practice), bias 0; LayerNorm 1 / 0; Conv2d normal(0,
//                                 sqrt(2 / fan_out)), fan_out = k·k·out/groups, bias 0
//   linear_c*, linear_pred(2), mixer in_proj/conv1d/x_proj/out_proj
//                                 PyTorch default: U(±1/sqrt(fan_in)) for weight and bias
//   linear_fuse.conv              mmcv kaiming_init: normal(0, sqrt(2 / fan_out)), fan_out = E
//   linear_fuse.bn                weight 1, bias 0, running_mean 0, running_var 1
//   vs.layers.ℓ.norm, vs.norm_f   1
//   mixer.dt_proj.weight          U(±dt_rank^−1/2)
//   mixer.dt_proj.bias            softplus⁻¹(dt), dt log-uniform in [1e-3, 1e-1], ≥ 1e-4
//   mixer.A_log                   ln(n + 1), n = 0 … d_state−1, every channel
//   mixer.D                       1
// Each tensor draws from its own tv3s::Rng seeded by (seed, name), so a tensor's values
// do not depend on which other tensors the model has. Throws for a parameter name without
// a rule (a new layer must say how it starts).
Weights initial_weights(const ModelConfig& config, uint64_t seed, Device device = Device::CPU);

// Copies every backbone tensor of `weights` (backbone.* — bare names for model "backbone")
// from an ImageNet backbone file: a converted one (`tv3s convert mit_bX.pth`, model
// "backbone"), the official mit_bX.pth or swin_*_22k.pth itself (bare names, `head.*`
// ignored, a `state_dict` or `model` wrapper and a `module.` prefix accepted, as mmcv's
// load_checkpoint does; Swin's relative_position_index checked, its missing norm0..3 left
// as initialised, as the official strict=False load leaves them) or a Hugging Face mit-bX
// checkpoint. Throws "<path>: ..." when the file is not such a backbone (e.g. a whole model),
// is another variant than config.backbone, lacks a tensor or has a mis-shaped one; then
// `weights` is left as it was. Replaces tensors (call it before marking parameters trainable).
void load_backbone(Weights& weights, const ModelConfig& config, const std::string& path);

// Fine-tuning start: copies from the tv3s model file at `path` every tensor whose name and
// shape match `weights` (a MiT-only file fills the backbone). When the class counts
// differ, decode_head.linear_pred.* and decode_head.linear_pred2.* keep their fresh values;
// a SegFormer file leaves the TV3S decoder fresh; tensors the model does not have are
// ignored. Returns one line for the log, e.g. "initialised from m.safetensors: 270 of 274
// tensors; classifiers re-initialised for 9 classes (file has 124)". Throws "<path>: ..."
// when the backbone variant or the decoder width (embed_dim) differs (there is no other
// decoder shape to differ: the stack always has 8 layers). Replaces tensors (call it before
// marking parameters trainable).
std::string init_from_model(Weights& weights, const ModelConfig& config, const std::string& path);

}  // namespace tv3s::train
