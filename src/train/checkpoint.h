// Training checkpoints: everything needed to resume a run where it stopped — the model
// (parameters and BatchNorm running statistics), AdamW's moments and step counts, the
// random generator, the loss-scaling state and both configurations.
//
// The file is a safetensors file (src/io/safetensors.h): tensors "model/<name>",
// "adam_m/<name>", "adam_v/<name>", and in "__metadata__":
//   tv3s.checkpoint           "1" (the format version)
//   tv3s.iteration            decimal
//   tv3s.rng                  the four xoshiro words, 16 hex digits each, space-separated
//   tv3s.loss_scale           hex float ("%a"), exact
//   tv3s.loss_scale_good_steps decimal
//   tv3s.adam_steps           JSON object {parameter name: step count}
//   tv3s.model_config, tv3s.train_config   the JSON texts, verbatim
//   tv3s.crc32                8 lowercase hex digits: the CRC-32 (zip's, io::crc32) of the
//                             whole content, so one flipped byte anywhere is caught. It runs
//                             over each tensor in order of full name — name, NUL, dtype and
//                             shape as text ("f32[4, 3]"), NUL, its bytes — then over each
//                             other metadata entry in order of key — key, NUL, value, NUL.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "tv3s/tensor.h"

namespace tv3s::train {

struct TrainCheckpoint {
  int64_t iteration = 0;                          // iterations completed
  std::map<std::string, Tensor> model;            // every model tensor incl. BN running stats
  std::map<std::string, Tensor> adam_m, adam_v;   // by parameter name, f32, the parameter's shape
  std::map<std::string, int64_t> adam_steps;      // by parameter name
  uint64_t rng[4] = {};                           // the trainer's Rng state (Rng::save)
  double loss_scale = 1.0;
  int64_t loss_scale_good_steps = 0;
  std::string model_config_json;                  // ModelConfig::to_metadata as JSON text
  std::string train_config_json;                  // the training config (resume checks it)
};

// Writes atomically: a temporary file in the same folder, fsync'ed, renamed over `path`,
// then the folder fsync'ed. Either the whole new checkpoint is at `path` or the old file
// is untouched. Tensors may be on any device. Throws "<path>: ..." when the content is
// inconsistent (a moment without its parameter, wrong shapes, ...) or the write fails.
void save_checkpoint(const std::string& path, const TrainCheckpoint& c);

// Reads and checks a checkpoint (tensors on the CPU). Refuses, with one line naming the
// path: a file that is not a tv3s training checkpoint (a model file, anything else), a
// truncated one, a damaged one (checksum mismatch), a parameter with only some of its
// optimizer state, and moments whose shape is not their parameter's.
TrainCheckpoint load_checkpoint(const std::string& path);

}  // namespace tv3s::train
