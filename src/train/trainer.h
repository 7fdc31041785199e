// `tv3s train`'s engine: the loop that turns a TrainConfig into a trained model file.
//
//   out/config.json            the resolved configuration (every key, defaults included)
//   out/log.jsonl              one line per iteration {"iter", "loss", "loss_aux", "loss_main",
//                              "lr", "lr_head", "clips_per_s", "seconds"}, and one per
//                              validation {"iter", "val": {"mIoU", "mVC8", "mVC16", ...}}
//   out/checkpoint.safetensors the last checkpoint (weights, AdamW moments, iteration, RNG)
//   out/plot.png               loss and validation curves (redrawn at every validation
//                              and checkpoint)
//   out/model.safetensors      the trained model, a normal model file for segment / eval
//
// Determinism: clip b of iteration i is a pure function of (seed, i, b) (TrainClips), the
// dropout/drop-path masks come from one Rng saved in the checkpoint, and the CPU kernels
// reduce in a fixed order — so on the CPU, N iterations in one run equal N/2, a resume and
// N/2 more, bit for bit.
//
// Stopping: SIGINT (Ctrl-C) finishes the current iteration, writes a checkpoint and
// returns kInterrupted; a NaN/Inf loss stops before the update (kDiverged) and leaves the
// last checkpoint as it was.
#pragma once
#include <cstdint>
#include <string>

#include "src/train/train_config.h"

namespace tv3s::train {

constexpr int kDiverged = 3;
constexpr int kInterrupted = 130;

struct TrainRun {
  TrainConfig config;
  std::string out_dir;
  bool resume = false;   // continue from out_dir/checkpoint.safetensors
  bool quiet = false;    // no progress bar, no per-validation lines on stderr
  int64_t stop_after = 0;  // > 0: stop (with a checkpoint) once this iteration is done
};

// Returns 0 when the run finished (or stopped at stop_after), kInterrupted, kDiverged.
// Throws tv3s::Error for bad input (config, data, checkpoint) before anything is trained.
int run_training(const TrainRun& run);

}  // namespace tv3s::train
