// The training configuration: one JSON file (docs/training.md documents every key; the
// examples are in configs/), with command-line flags layered on top. Defaults are the
// official recipe (training-spec §1: TV3S-B1 on VSPW, 480×480 crops, 2 clips, 160k
// iterations, AdamW 6e-5 / 0.01, poly power 1 with 1500 warm-up iterations).
//
//   {
//     "model":     {"type": "tv3s", "backbone": "mit_b1", "embed_dim": 256, "window": 20,
//                   "shift": 10, "num_classes": 0 (= the dataset's), "pretrained": "mit_b1.safetensors"},
//     "data":      {"root": "data/vspw", "dataset": "vspw", "split": "train", "val_split": "val",
//                   "val_videos": 0 (= all)},
//     "augment":   {"enabled": true, "crop": [480, 480], "scale": [853, 480], "ratio_range": [0.5, 2.0],
//                   "cat_max_ratio": 0.75, "flip_prob": 0.5, "photometric": true},
//     "loss":      "vspw" | "cityscapes" | "per_frame",
//     "optimizer": {"lr": 6e-5, "weight_decay": 0.01, "betas": [0.9, 0.999], "eps": 1e-8},
//     "schedule":  {"power": 1.0, "warmup_iters": 1500, "warmup_ratio": 1e-6, "min_lr": 0},
//     "iters": 160000, "batch_size": 2, "seed": 0,
//     "dropout": 0.1, "drop_path": 0.1, "decoder_drop_path": 0.1,
//     "checkpoint_every": 4000, "val_every": 0 (= at the end only), "val_mode": "clip" | "stream",
//     "device": "cpu" | "cuda", "precision": "fp32" | "bf16" | "fp16",
//     "loss_scale": 65536 (fp16's initial dynamic loss scale)
//   }
// Unknown keys are errors (a typo must not silently train the default).
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "src/data/train_clips.h"
#include "src/models/config.h"
#include "src/train/loss.h"
#include "src/train/optimizer.h"
#include "src/train/schedule.h"
#include "src/train/train_forward.h"

namespace tv3s::train {

// The official recipe's model: TV3S on MiT-B1, E = 256, window 20, shift 10.
inline ModelConfig official_tv3s_b1() {
  ModelConfig m;
  m.kind = ModelKind::tv3s, m.backbone = "mit_b1";
  return m;
}

struct TrainConfig {
  ModelConfig model = official_tv3s_b1();  // model.num_classes 0 = from the dataset
  std::string pretrained;    // converted mit_bX file ("" = from scratch)
  std::string init;          // --init MODEL.safetensors (fine-tuning)

  std::string data_root, dataset = "vspw", split = "train", val_split = "val";
  int64_t val_videos = 0;
  data::AugmentConfig augment;
  LossKind loss = LossKind::vspw;
  AdamWConfig optimizer;
  double power = 1.0, min_lr = 0, warmup_ratio = 1e-6;
  int64_t warmup_iters = 1500;
  int64_t iters = 160000, batch_size = 2, frames = 4;
  uint64_t seed = 0;
  Stochastic stochastic;
  int64_t checkpoint_every = 4000, val_every = 0;
  std::string val_mode = "clip";
  std::string device = "cpu", precision = "fp32";
  double loss_scale = 65536;  // fp16: the initial dynamic loss scale (GradScaler's 2^16)

  PolySchedule schedule() const;
  // The whole configuration as JSON (what the run folder's config.json holds).
  std::string to_json() const;
  // The keys that must agree between a checkpoint and a resumed run (model, data,
  // augmentation, loss, optimizer, schedule and iters, batch, seed, noise, precision) — not
  // the cadences, val_mode or device.
  std::string identity_json() const;
};

// Parses `text` (a JSON object) onto `config`; `what` names the source in errors.
void apply_config_json(TrainConfig& config, const std::string& text, const std::string& what);
TrainConfig read_train_config(const std::string& path);


}  // namespace tv3s::train
