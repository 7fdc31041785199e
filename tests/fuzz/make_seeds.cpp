// Seeds the fuzz targets cannot take from tests/data, written by the library itself so
// that nothing binary is committed: tiny model files (a Swin of its own small
// configuration, with the SegFormer head and with the TV3S decoder), their metadata
// objects alone (fuzz_model_config's input), a training checkpoint of the tiny TV3S
// model with AdamW state, and tiny videos in the usual containers (when FFmpeg is built
// in). Usage: fuzz_make_seeds OUT_DIR (writes OUT_DIR/<target>/...).
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "src/io/video_writer.h"
#include "src/models/model_file.h"
#include "src/models/random_weights.h"
#include "src/train/checkpoint.h"

namespace fs = std::filesystem;
using namespace tv3s;

namespace {

ModelConfig tiny(ModelKind kind) {
  ModelConfig c;
  c.kind = kind;
  c.backbone = "swin";
  c.swin = named_swin_config({"swin", 8, {1, 1, 1, 1}, {1, 1, 2, 2}, 2, 2});
  c.num_classes = 3;
  c.embed_dim = 8;
  c.window = 2;
  c.shift = 1;
  c.class_names = {"road", "car", "sky"};
  c.palette = {{128, 64, 128}, {0, 0, 142}, {70, 130, 180}};
  return c;
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Three 32×24 frames of a gradient that moves, in each container with its codec.
void write_videos(const fs::path& dir) {
  for (const char* name : {"tiny.mp4", "tiny.mkv", "tiny.webm", "tiny.avi", "tiny.ts", "tiny.mov"}) {
    io::VideoWriter writer((dir / name).string(), 32, 24, {1, 25}, {25, 1});
    io::Image frame{32, 24, std::vector<uint8_t>(32 * 24 * 3)};
    for (int t = 0; t < 3; ++t) {
      for (size_t i = 0; i < frame.rgb.size(); ++i) frame.rgb[i] = uint8_t(i * 7 + t * 40);
      writer.write(frame, t);
    }
    writer.finish();
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_make_seeds OUT_DIR\n";
    return 2;
  }
  try {
    const fs::path out = argv[1];
    for (const char* target : {"model_file", "model_config", "train_checkpoint"})
      fs::create_directories(out / target);
    for (const ModelKind kind : {ModelKind::segformer, ModelKind::tv3s}) {
      const ModelConfig config = tiny(kind);
      const std::string name = model_kind_name(kind);
      const Weights weights = random_weights(model_parameters(config), 1);
      save_model_file((out / "model_file" / (name + ".safetensors")).string(), config, weights);
      save_model_file((out / "model_file" / (name + "_f16.safetensors")).string(), config,
                      weights, DType::f16);
      write_text(out / "model_config" / (name + ".json"),
                 nlohmann::json(config.to_metadata()).dump());
      if (kind != ModelKind::tv3s) continue;
      train::TrainCheckpoint c;
      c.iteration = 3;
      for (const auto& [param, tensor] : weights.all()) {
        c.model[param] = tensor;
        if (param.find("running_") != std::string::npos || param.find("num_batches") != std::string::npos)
          continue;  // BatchNorm statistics: no optimizer state
        c.adam_m[param] = tensor;
        c.adam_v[param] = tensor;
        c.adam_steps[param] = 3;
      }
      c.rng[0] = 1;
      c.loss_scale = 65536;
      c.model_config_json = nlohmann::json(config.to_metadata()).dump();
      c.train_config_json = R"({"lr":6e-05,"max_iters":160000})";
      train::save_checkpoint((out / "train_checkpoint" / "tiny.safetensors").string(), c);
    }
    if (io::ffmpeg_available()) {
      fs::create_directories(out / "video");
      write_videos(out / "video");
    }
  } catch (const std::exception& e) {
    std::cerr << "fuzz_make_seeds: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
